/* Messages to and from the embedding page (embed.js, clients/js): only to and from the session's allowed origins,
 * never '*', and nothing but the session id, a status, an error screen's name or the page's height, so a hostile
 * page learns nothing to tune an attack against. */
import { EmbedMessage, HostMessage } from './constants.js';

const PREFIX = 'livecheck:';

export const embedded = () => window.parent !== window;

function post(sessionId, origins, type, fields) {
  if (!embedded()) return;
  const message = Object.assign({ type: PREFIX + type, sessionId: sessionId }, fields);
  for (const origin of origins) {
    if (origin === '*') continue;
    try { window.parent.postMessage(message, origin); } catch (e) { /* a malformed origin: skip it */ }
  }
}

/** `ready()` once the widget can start, `progress(phase)` as the check goes on, `completed(status)` at the end,
 * `cancelled(status)` when the user cancelled, `error(kind)` on an error screen, `retry()` when the user asks for a
 * new check (the page creates a new session), `height(px)` when the content's height changes. */
export function createNotifier(sessionId, origins) {
  const send = (type, fields) => post(sessionId, origins, type, fields);
  return Object.freeze({
    ready: () => send(EmbedMessage.READY, { status: EmbedMessage.READY }),
    progress: (phase) => send(EmbedMessage.PROGRESS, { status: phase }),
    completed: (status) => send(EmbedMessage.COMPLETED, { status: status }),
    cancelled: (status) => send(EmbedMessage.CANCELLED, { status: status }),
    error: (kind) => send(EmbedMessage.ERROR, { status: EmbedMessage.ERROR, code: kind }),
    retry: () => send(EmbedMessage.RETRY, { status: EmbedMessage.RETRY }),
    height: (px) => send(EmbedMessage.HEIGHT, { status: EmbedMessage.HEIGHT, height: px }),
  });
}

/** Calls `onViewport(width, height)` when the embedding page reports its viewport (one of the allowed origins, and
 * only the parent window). */
export function listenToHost(origins, onViewport) {
  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || !origins.includes(event.origin)) return;
    const data = event.data;
    if (!data || data.type !== PREFIX + HostMessage.VIEWPORT) return;
    const width = Number(data.width);
    const height = Number(data.height);
    if (width > 0 && height > 0 && width < 100000 && height < 100000) onViewport(width, height);
  });
}
