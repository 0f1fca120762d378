import { test } from 'node:test';
import assert from 'node:assert/strict';
import { install, tick } from './fakedom.js';
import { ErrorCode, LiveCheckError, mount, readMessage, widgetSrc } from '../src/livecheck.js';

const WIDGET = 'https://livecheck.example';
const URL_ = WIDGET + '/widget/sess-1#token=tok';
const msg = (type, fields = {}) => ({ type: 'livecheck:' + type, sessionId: 'sess-1', ...fields });

function setUp(options = {}) {
  const dom = install();
  const slot = dom.element('#slot');
  const pending = mount('#slot', { widgetUrl: URL_, frameTimeoutMs: 30, readyTimeoutMs: 200, ...options });
  const iframe = dom.document.iframes[0];
  const fromWidget = (data, origin = WIDGET, source = iframe.contentWindow) => dom.deliver(data, origin, source);
  return { dom, slot, pending, iframe, fromWidget };
}

test('the page options go into the fragment with the token, never the query', () => {
  const url = widgetSrc(URL_, { language: 'ar', colorScheme: 'dark', strings: { 'intro.heading': 'Hola' } }, WIDGET);
  const fragment = new URLSearchParams(url.hash.slice(1));
  assert.equal(url.search, '');
  assert.equal(fragment.get('token'), 'tok');
  assert.equal(fragment.get('lang'), 'ar');
  assert.equal(fragment.get('theme'), 'dark');
  assert.deepEqual(JSON.parse(fragment.get('strings')), { 'intro.heading': 'Hola' });
});

test('bad options are refused with a typed error, before any iframe exists', async () => {
  const dom = install();
  dom.element('#slot');
  for (const options of [{ widgetUrl: URL_, colorScheme: 'blue' }, { widgetUrl: URL_, strings: { a: 1 } },
    { widgetUrl: 'javascript:alert(1)' }, {}]) {
    await assert.rejects(mount('#slot', options), (err) => err instanceof LiveCheckError && err.code === ErrorCode.INVALID_OPTIONS);
  }
  await assert.rejects(mount('#nowhere', { widgetUrl: URL_ }), { code: ErrorCode.ELEMENT_NOT_FOUND });
  assert.equal(dom.document.iframes.length, 0);
});

test('ready from the widget resolves mount; other origins and other windows are ignored', async () => {
  const { pending, iframe, fromWidget, slot } = setUp();
  assert.equal(slot.children[0], iframe);
  assert.equal(iframe.allow, 'camera');
  assert.equal(iframe.referrerPolicy, 'no-referrer');
  let resolved = false;
  pending.then(() => { resolved = true; });
  fromWidget(msg('ready', { status: 'ready' }), 'https://evil.example');
  fromWidget(msg('ready', { status: 'ready' }), WIDGET, {});
  await tick(5);
  assert.equal(resolved, false);
  fromWidget(msg('ready', { status: 'ready' }));
  const widget = await pending;
  assert.equal(widget.sessionId, 'sess-1');
  const viewport = iframe.contentWindow.posted.at(-1);
  assert.deepEqual(viewport, { message: { type: 'livecheck:viewport', width: 360, height: 740 }, targetOrigin: WIDGET });
  widget.unmount();
});

test('the iframe follows the height the widget reports', async () => {
  const { pending, iframe, fromWidget } = setUp();
  assert.equal(iframe.style.height, '360px');
  fromWidget(msg('height', { status: 'height', height: 512.4 }));
  assert.equal(iframe.style.height, '513px');
  fromWidget(msg('height', { status: 'height', height: 'x' }));
  assert.equal(iframe.style.height, '513px');
  fromWidget(msg('ready', { status: 'ready' }));
  (await pending).unmount();
});

test('a fixed height is kept', async () => {
  const { pending, iframe, fromWidget } = setUp({ height: '700px' });
  fromWidget(msg('height', { height: 300 }));
  assert.equal(iframe.style.height, '700px');
  fromWidget(msg('ready'));
  (await pending).unmount();
});

test('a frame that loads and says nothing is refused, naming the origin to allow', async () => {
  const { pending, iframe } = setUp();
  iframe.dispatchEvent(new Event('load'));
  await assert.rejects(pending, (err) => err.code === ErrorCode.FRAME_REFUSED && err.message.includes('https://shop.example'));
});

test('no ready in time rejects with ready_timeout', async () => {
  const { pending, fromWidget } = setUp({ readyTimeoutMs: 40 });
  fromWidget(msg('height', { height: 200 })); // it loaded, but never got ready
  await assert.rejects(pending, { code: ErrorCode.READY_TIMEOUT });
});

test('an error screen before ready rejects with its code; its retry still reaches the page', async () => {
  const retries = [];
  const { pending, fromWidget } = setUp({ onRetry: (e) => retries.push(e) });
  fromWidget(msg('error', { status: 'error', code: 'session_expired' }));
  await assert.rejects(pending, { code: ErrorCode.SESSION_EXPIRED });
  assert.equal((await pending.widget.result).code, 'session_expired');
  fromWidget(msg('retry', { status: 'retry' }));
  assert.deepEqual(retries, [{ type: 'retry', sessionId: 'sess-1', status: 'retry' }]);
  pending.widget.unmount();
});

test('events reach options and listeners; the result is the end of the check', async () => {
  const seen = [];
  const { pending, iframe, fromWidget } = setUp({ onProgress: (e) => seen.push('option:' + e.status) });
  fromWidget(msg('ready', { status: 'ready' }));
  const widget = await pending;
  const off = widget.on('progress', (e) => seen.push('listener:' + e.status));
  fromWidget(msg('progress', { status: 'positioning' }));
  assert.equal(iframe.scrolls, 1, 'the check starting brings the widget into view');
  off();
  fromWidget(msg('progress', { status: 'challenge' }));
  assert.deepEqual(seen, ['option:positioning', 'listener:positioning', 'option:challenge']);
  fromWidget(msg('error', { status: 'error', code: 'permission_denied' })); // the user can fix it: not the end
  fromWidget(msg('cancelled', { status: 'FAILED' }));
  assert.deepEqual(await widget.result, { type: 'cancelled', sessionId: 'sess-1', status: 'FAILED' });
  widget.unmount();
});

test('unmount removes the frame, rejects a pending mount and stops listening', async () => {
  const calls = [];
  const { pending, slot, fromWidget } = setUp({ onReady: () => calls.push('ready') });
  pending.widget.unmount();
  assert.equal(slot.children.length, 0);
  await assert.rejects(pending, { code: ErrorCode.UNMOUNTED });
  fromWidget(msg('ready'));
  assert.deepEqual(calls, []);
});

test('readMessage keeps only the known fields', () => {
  assert.equal(readMessage({ type: 'other' }), null);
  assert.equal(readMessage('livecheck:ready'), null);
  assert.deepEqual(readMessage({ type: 'livecheck:height', sessionId: 's', height: 1e9, extra: 1 }),
    { type: 'height', sessionId: 's', status: '', height: 10000 });
});

test('fullScreen small covers a phone screen while the check runs, then gives the page its place back', async () => {
  const { pending, iframe, fromWidget } = setUp({ fullScreen: 'small' });
  fromWidget(msg('height', { status: 'height', height: 600 }));
  fromWidget(msg('ready', { status: 'ready' }));
  const widget = await pending;
  assert.equal(widget.fullScreen, false);
  assert.equal(iframe.style.height, '600px');
  fromWidget(msg('progress', { status: 'positioning' }));
  assert.equal(widget.fullScreen, true);
  assert.equal(iframe.style.position, 'fixed');
  assert.equal(iframe.style.height, '100%');
  fromWidget(msg('height', { status: 'height', height: 700 }));
  assert.equal(iframe.style.height, '100%'); // the screen's, while full-screen
  fromWidget(msg('completed', { status: 'FAILED' }));
  assert.equal(widget.fullScreen, false);
  assert.equal(iframe.style.position, '');
  assert.equal(iframe.style.maxWidth, '760px');
  assert.equal(iframe.style.height, '700px'); // the content's height it reported meanwhile
  widget.unmount();
});

test('fullScreen never (the default) and small on a wide screen keep the iframe in the page', async () => {
  for (const [options, width] of [[{}, 360], [{ fullScreen: 'small' }, 1280]]) {
    const { dom, pending, iframe, fromWidget } = setUp(options);
    dom.window.innerWidth = width;
    fromWidget(msg('ready', { status: 'ready' }));
    const widget = await pending;
    fromWidget(msg('progress', { status: 'positioning' }));
    assert.equal(widget.fullScreen, false);
    assert.equal(iframe.style.position, undefined);
    widget.unmount();
  }
  install().element('#slot');
  await assert.rejects(mount('#slot', { widgetUrl: URL_, fullScreen: 'yes' }), { code: ErrorCode.INVALID_OPTIONS });
});
