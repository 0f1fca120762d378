/* The demo page: create a session through this server (demo endpoint), mount the widget, show the server's word.
 * A module: it shares the widget's vocabulary (widget/constants.js). */
import { SessionStatus } from './widget/constants.js';

const POLL_TIMES = 40;
const POLL_MS = 250;

const button = document.getElementById('demo-start');
const status = document.getElementById('demo-status');
const slot = document.getElementById('demo-widget');
let current = null; // the mounted widget (a retry from it mounts a new session in its place)

/** The server finishes its bookkeeping a moment after the widget hears the result: poll briefly. */
async function outcome(sessionId, statusToken) {
  let body = {};
  for (let i = 0; i < POLL_TIMES; i++) {
    body = await fetch('/demo/sessions/' + encodeURIComponent(sessionId), {
      headers: { Authorization: 'Bearer ' + statusToken }, credentials: 'omit',
    }).then((r) => r.json());
    if (body.status !== SessionStatus.CREATED && body.status !== SessionStatus.IN_PROGRESS) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return body;
}

async function run() {
  button.disabled = true;
  status.textContent = 'Creating a session…';
  if (current) current.unmount();
  current = null;
  slot.replaceChildren();
  try {
    const res = await fetch('/demo/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    const body = await res.json();
    if (!res.ok) throw new Error((body.error && body.error.message) || ('HTTP ' + res.status));
    status.textContent = 'Session ' + body.session_id + ' created. Follow the instructions in the widget.';
    const mounting = window.LiveCheck.mount(slot, { widgetUrl: body.widget_url, onRetry: () => run() });
    current = mounting.widget;
    const widget = await mounting;
    const done = await widget.result;
    status.textContent = 'The check ended; asking the server for the outcome…';
    const check = await outcome(done.sessionId, body.status_token);
    status.textContent = 'The server says: ' + (check.status || 'unknown') + '.';
    document.body.dataset.result = check.status || '';
  } catch (err) {
    status.textContent = 'Could not start a check: ' + err.message;
  } finally {
    button.textContent = 'Start a new check';
    button.disabled = false;
  }
}

button.addEventListener('click', run);
