// Just enough of a browser for the host API: a window that receives messages, a document that makes iframes, and
// elements that hold them. Each test gets a fresh one (install()).

export class FakeFrameWindow {
  constructor() { this.posted = []; }
  postMessage(message, targetOrigin) { this.posted.push({ message, targetOrigin }); }
}

export class FakeIframe extends EventTarget {
  constructor() {
    super();
    this.style = {};
    this.contentWindow = new FakeFrameWindow();
    this.parentNode = null;
    this.scrolls = 0;
  }
  scrollIntoView() { this.scrolls += 1; }
}

export class FakeElement {
  constructor() { this.children = []; }
  appendChild(child) { child.parentNode = this; this.children.push(child); return child; }
  removeChild(child) { this.children = this.children.filter((c) => c !== child); child.parentNode = null; }
}

export function install({ origin = 'https://shop.example' } = {}) {
  const win = new EventTarget();
  Object.assign(win, { innerWidth: 360, innerHeight: 740, location: { origin } });
  const elements = {};
  const doc = {
    baseURI: origin + '/checkout',
    activeElement: null,
    iframes: [],
    createElement(tag) {
      if (tag !== 'iframe') throw new Error('unexpected element ' + tag);
      const frame = new FakeIframe();
      this.iframes.push(frame);
      return frame;
    },
    querySelector(selector) { return elements[selector] || null; },
  };
  globalThis.window = win;
  globalThis.document = doc;
  return {
    window: win,
    document: doc,
    element(selector) { const el = new FakeElement(); elements[selector] = el; return el; },
    /** A message as the browser delivers it: from `source` (a frame's window) and `origin`. */
    deliver(data, origin, source) {
      const event = new Event('message');
      Object.assign(event, { data, origin, source });
      win.dispatchEvent(event);
    },
  };
}

export const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
