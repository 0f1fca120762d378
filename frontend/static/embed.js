/* GENERATED from clients/js/src/livecheck.js by clients/js/scripts/embed.mjs: edit that file, then run
 * `npm run build:embed` in clients/js. Load it with <script src=".../embed.js"> and use window.LiveCheck. */
(function () {
'use strict';
/* livecheck host API: mount the liveness widget in an iframe and hear what happens in it.
 *
 *   const widget = await mount(document.getElementById('check'), { widgetUrl, onRetry: startAgain });
 *   const outcome = await widget.result;   // {type: 'completed' | 'cancelled' | 'error', sessionId, status, code}
 *   // then ask your backend: GET /v1/sessions/{sessionId} (the authoritative, signed result)
 *
 * mount() resolves once the widget is ready for the user and rejects with a LiveCheckError when the frame is
 * refused (the page's origin is not in the session's allowed_origins), when no `ready` arrives in time, or when the
 * widget opens on an error (an expired or used session, a page that is not a secure context). Messages are accepted
 * only from the widget's own origin and its own iframe; they carry a session id, a status, an error code or a height,
 * never a score.
 *
 * This file is the npm package's module (clients/js) and, wrapped as a classic script, the server's /embed.js
 * (frontend/static/embed.js is generated from it: `npm run build:embed`; tests check they are the same code).
 * No imports: it must run as a plain script too.
 */

const PREFIX = 'livecheck:';
const VERSION = 2;

/** The events a mounted widget emits (`on(type, listener)`, or `on<Type>` options). */
const LiveCheckEvent = Object.freeze({
  READY: 'ready',
  PROGRESS: 'progress',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  ERROR: 'error',
  RETRY: 'retry',
});

/** `code` of a LiveCheckError and of `error` events: the host's own, then the widget's error screens. */
const ErrorCode = Object.freeze({
  INVALID_OPTIONS: 'invalid_options',
  ELEMENT_NOT_FOUND: 'element_not_found',
  FRAME_REFUSED: 'frame_refused',
  READY_TIMEOUT: 'ready_timeout',
  UNMOUNTED: 'unmounted',
  SESSION_EXPIRED: 'session_expired',
  SESSION_USED: 'session_used',
  PERMISSION_DENIED: 'permission_denied',
  NO_CAMERA: 'no_camera',
  CAMERA_IN_USE: 'camera_in_use',
  WEBRTC_FAILED: 'webrtc_failed',
  NETWORK: 'network',
  INSECURE_CONTEXT: 'insecure_context',
  GENERIC: 'generic',
});

/** Error screens the user can fix and retry in the same session (the camera's); every other one ends it. */
const RECOVERABLE = Object.freeze([ErrorCode.PERMISSION_DENIED, ErrorCode.NO_CAMERA, ErrorCode.CAMERA_IN_USE]);

const COLOR_SCHEMES = Object.freeze(['auto', 'light', 'dark']);
/** `fullScreen`: 'small' puts the iframe over the whole screen while the check runs on a phone-size viewport
 * (shorter side under SMALL_SCREEN_PX), 'always' on any, 'never' (the default) keeps it in the page. */
const FULL_SCREEN = Object.freeze(['never', 'small', 'always']);
const SMALL_SCREEN_PX = 600;
const FULL_SCREEN_STYLE = Object.freeze({
  position: 'fixed', top: '0', left: '0', right: '0', bottom: '0', width: '100%', maxWidth: 'none', height: '100%',
  zIndex: '2147483647',
});
const DEFAULTS = Object.freeze({
  readyTimeoutMs: 20000,
  frameTimeoutMs: 4000,
  width: '100%',
  maxWidth: '760px',
  initialHeight: '360px',
  title: 'Liveness check',
  fullScreen: 'never',
});
const MAX_HEIGHT_PX = 10000;

class LiveCheckError extends Error {
  /** `code`: one of ErrorCode. */
  constructor(code, message) {
    super(message);
    this.name = 'LiveCheckError';
    this.code = code;
  }
}

function fail(code, message) {
  return new LiveCheckError(code, 'LiveCheck: ' + message);
}

/** The iframe's src: the widget URL with the page's options added to its fragment (never sent to a server). */
function widgetSrc(widgetUrl, options, base) {
  const url = new URL(widgetUrl, base);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw fail(ErrorCode.INVALID_OPTIONS, 'widgetUrl must be http(s)');
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ''));
  const opts = options || {};
  if (opts.language) fragment.set('lang', String(opts.language));
  if (opts.colorScheme) {
    if (!COLOR_SCHEMES.includes(opts.colorScheme)) {
      throw fail(ErrorCode.INVALID_OPTIONS, 'colorScheme must be one of ' + COLOR_SCHEMES.join(', '));
    }
    fragment.set('theme', opts.colorScheme);
  }
  if (opts.strings !== undefined) {
    const strings = opts.strings;
    if (!strings || typeof strings !== 'object' || Array.isArray(strings)
        || !Object.values(strings).every((v) => typeof v === 'string')) {
      throw fail(ErrorCode.INVALID_OPTIONS, 'strings must map string keys to strings');
    }
    if (Object.keys(strings).length) fragment.set('strings', JSON.stringify(strings));
  }
  url.hash = fragment.toString();
  return url;
}

/** A message from the widget as the host sees it, or null when it is not one. */
function readMessage(data) {
  if (!data || typeof data !== 'object' || typeof data.type !== 'string' || data.type.indexOf(PREFIX) !== 0) return null;
  const event = {
    type: data.type.slice(PREFIX.length),
    sessionId: String(data.sessionId || ''),
    status: String(data.status || ''),
  };
  if (typeof data.code === 'string') event.code = data.code;
  const height = Number(data.height);
  if (Number.isFinite(height) && height > 0) event.height = Math.min(MAX_HEIGHT_PX, Math.ceil(height));
  return event;
}

function callbackName(type) {
  return 'on' + type.charAt(0).toUpperCase() + type.slice(1);
}

const VIEWPORT = PREFIX + 'viewport';

class LiveCheckWidget {
  constructor(element, options) {
    const opts = Object.assign({}, DEFAULTS, options);
    if (!FULL_SCREEN.includes(opts.fullScreen)) {
      throw fail(ErrorCode.INVALID_OPTIONS, 'fullScreen must be one of ' + FULL_SCREEN.join(', '));
    }
    this.options = opts;
    this.url = widgetSrc(opts.widgetUrl, opts, document.baseURI);
    this.sessionId = decodeURIComponent(this.url.pathname.split('/').pop() || '');
    this.element = element;
    this.listeners = new Map();
    this.isReady = false;
    this.heard = false;
    this.finished = false;
    this.fullScreen = false;
    this.contentHeight = 0;
    this.saved = null;
    this.timers = [];
    const iframe = this.iframe = document.createElement('iframe');
    iframe.src = this.url.href;
    iframe.allow = 'camera';
    iframe.title = opts.title;
    iframe.referrerPolicy = 'no-referrer';
    iframe.style.border = '0';
    iframe.style.display = 'block';
    iframe.style.width = opts.width;
    iframe.style.maxWidth = opts.maxWidth;
    iframe.style.height = opts.height && opts.height !== 'auto' ? opts.height : opts.initialHeight;
    this.onMessage = (event) => this.received(event);
    this.onResize = () => this.sendViewport();
    this.ready = new Promise((resolve, reject) => { this.resolveReady = resolve; this.rejectReady = reject; });
    this.ready.catch(() => {}); // mount() hands the rejection on; this one is not left unhandled
    this.result = new Promise((resolve) => { this.resolveResult = resolve; });
    window.addEventListener('message', this.onMessage);
    window.addEventListener('resize', this.onResize);
    iframe.addEventListener('load', () => this.loaded());
    this.later(() => this.refuse(ErrorCode.READY_TIMEOUT,
      'the widget did not become ready within ' + opts.readyTimeoutMs + ' ms'), opts.readyTimeoutMs);
    element.appendChild(iframe);
  }

  later(fn, ms) {
    this.timers.push(setTimeout(fn, ms));
  }

  /** A frame that loads and says nothing is a refused one: its CSP `frame-ancestors` did not list this page. */
  loaded() {
    this.sendViewport();
    if (this.heard) return;
    this.later(() => {
      if (this.heard) return;
      const here = window.location.origin;
      this.refuse(ErrorCode.FRAME_REFUSED, 'the widget refused to load in this page (origin ' + here + '). '
        + 'Create the session with allowed_origins: ["' + here + '"] (scheme, host and port exactly: '
        + 'http://localhost:8080 and http://127.0.0.1:8080 are different origins).');
    }, this.options.frameTimeoutMs);
  }

  refuse(code, message) {
    if (this.isReady || this.finished) return;
    this.finished = true;
    const error = fail(code, message);
    this.rejectReady(error);
    this.resolveResult({ type: LiveCheckEvent.ERROR, sessionId: this.sessionId, status: '', code: code });
    if (window.console) console.warn(error.message);
  }

  /** The page's viewport, so that the widget fits the camera, the prompt and Cancel on the user's screen. */
  sendViewport() {
    const target = this.iframe.contentWindow;
    if (!target) return;
    try {
      target.postMessage({ type: VIEWPORT, width: window.innerWidth, height: window.innerHeight }, this.url.origin);
    } catch (e) { /* the frame is gone */ }
  }

  received(event) {
    if (event.origin !== this.url.origin || event.source !== this.iframe.contentWindow) return;
    const message = readMessage(event.data);
    if (!message) return;
    this.heard = true;
    if (message.type === 'height') return this.resized(message.height);
    if (message.type === LiveCheckEvent.READY) {
      this.isReady = true;
      this.sendViewport();
      this.resolveReady(this);
    } else if (message.type === LiveCheckEvent.PROGRESS && message.status === 'positioning') {
      if (this.wantsFullScreen()) this.enterFullScreen(); else this.reveal();
    } else if (message.type === LiveCheckEvent.ERROR && !this.isReady) {
      this.refuse(message.code || ErrorCode.GENERIC, 'the widget cannot run a check: ' + (message.code || 'error'));
    }
    if (message.type === LiveCheckEvent.COMPLETED || message.type === LiveCheckEvent.CANCELLED
        || (message.type === LiveCheckEvent.ERROR && !RECOVERABLE.includes(message.code))) {
      this.finished = true;
      this.exitFullScreen(); // the end screen shows in the page again
      this.resolveResult(message);
    }
    this.emit(message);
    return undefined;
  }

  resized(height) {
    if (!height || (this.options.height && this.options.height !== 'auto')) return;
    this.contentHeight = height;
    if (this.fullScreen) return; // the screen's height until the check ends
    this.iframe.style.height = height + 'px';
    if (document.activeElement === this.iframe) this.reveal();
  }

  /** The whole widget into view, without moving more than needed. */
  reveal() {
    if (this.options.scrollIntoView === false || !this.iframe.scrollIntoView) return;
    this.iframe.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  wantsFullScreen() {
    const mode = this.options.fullScreen;
    return mode === 'always' || (mode === 'small' && Math.min(window.innerWidth, window.innerHeight) < SMALL_SCREEN_PX);
  }

  /** The iframe over the whole screen (and the page under it not scrolling) while the check runs. */
  enterFullScreen() {
    if (this.fullScreen) return;
    const style = this.iframe.style;
    this.saved = {};
    for (const key of Object.keys(FULL_SCREEN_STYLE)) this.saved[key] = style[key] || '';
    Object.assign(style, FULL_SCREEN_STYLE);
    const body = document.body;
    if (body && body.style) {
      this.saved.bodyOverflow = body.style.overflow || '';
      body.style.overflow = 'hidden';
    }
    this.fullScreen = true;
    this.sendViewport();
  }

  exitFullScreen() {
    if (!this.fullScreen) return;
    const saved = this.saved;
    const body = document.body;
    if (body && body.style) body.style.overflow = saved.bodyOverflow;
    delete saved.bodyOverflow;
    Object.assign(this.iframe.style, saved);
    if (this.contentHeight && (!this.options.height || this.options.height === 'auto')) {
      this.iframe.style.height = this.contentHeight + 'px';
    }
    this.fullScreen = false;
    this.saved = null;
    this.sendViewport();
    this.reveal();
  }

  emit(message) {
    const type = message.type;
    if (!Object.values(LiveCheckEvent).includes(type)) return;
    const callback = this.options[callbackName(type)];
    const listeners = [].concat(typeof callback === 'function' ? [callback] : [], [...(this.listeners.get(type) || [])]);
    for (const listener of listeners) {
      try { listener(message); } catch (err) { setTimeout(() => { throw err; }); }
    }
  }

  /** Adds a listener for one of LiveCheckEvent; returns the function that removes it. */
  on(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(listener);
    return () => this.off(type, listener);
  }

  off(type, listener) {
    const set = this.listeners.get(type);
    if (set) set.delete(listener);
  }

  /** Removes the iframe and every listener; a pending mount() rejects with `unmounted`. */
  unmount() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
    window.removeEventListener('message', this.onMessage);
    window.removeEventListener('resize', this.onResize);
    if (!this.isReady && !this.finished) this.refuse(ErrorCode.UNMOUNTED, 'unmounted before the widget was ready');
    if (!this.finished) {
      this.finished = true;
      this.resolveResult({ type: LiveCheckEvent.ERROR, sessionId: this.sessionId, status: '', code: ErrorCode.UNMOUNTED });
    }
    this.exitFullScreen();
    this.listeners.clear();
    if (this.iframe.parentNode) this.iframe.parentNode.removeChild(this.iframe);
  }
}

/** Mounts the widget in `element` (an element or a selector). Resolves with the LiveCheckWidget once it is ready;
 * rejects with a LiveCheckError. The promise's `widget` is the same object, available at once. */
function mount(element, options) {
  try {
    const target = typeof element === 'string' ? document.querySelector(element) : element;
    if (!target || typeof target.appendChild !== 'function') throw fail(ErrorCode.ELEMENT_NOT_FOUND, 'element not found');
    if (!options || typeof options.widgetUrl !== 'string' || !options.widgetUrl) {
      throw fail(ErrorCode.INVALID_OPTIONS, 'widgetUrl is required');
    }
    const widget = new LiveCheckWidget(target, options);
    const ready = widget.ready.then(() => widget);
    ready.widget = widget; // to unmount before it is ready
    return ready;
  } catch (err) {
    return Promise.reject(err instanceof LiveCheckError ? err : fail(ErrorCode.INVALID_OPTIONS, String(err && err.message)));
  }
}

window.LiveCheck = Object.freeze({ mount: mount, LiveCheckWidget: LiveCheckWidget, LiveCheckError: LiveCheckError, LiveCheckEvent: LiveCheckEvent, ErrorCode: ErrorCode, VERSION: VERSION, widgetSrc: widgetSrc, readMessage: readMessage });
})();
