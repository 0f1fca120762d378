/* <livecheck-widget widget-url="..." language="es" color-scheme="dark"></livecheck-widget>: a custom element over
 * the same core (livecheck.js). It re-dispatches the widget's events as DOM events named `livecheck-<type>`
 * (detail: the event), e.g. `el.addEventListener('livecheck-completed', (e) => ...)`. Setting `strings` (a
 * property, an object) overrides strings. Changing `widget-url` mounts the new session. */
import { LiveCheckEvent, LiveCheckWidget } from './livecheck.js';

const ATTRIBUTES = ['widget-url', 'language', 'color-scheme', 'height', 'full-screen'];

export class LiveCheckElement extends HTMLElement {
  static get observedAttributes() { return ATTRIBUTES; }

  constructor() {
    super();
    this.widget = null;
    this.strings = undefined;
  }

  connectedCallback() { this.render(); }

  disconnectedCallback() { this.teardown(); }

  attributeChangedCallback() { if (this.isConnected) this.render(); }

  teardown() {
    if (this.widget) this.widget.unmount();
    this.widget = null;
  }

  render() {
    this.teardown();
    const widgetUrl = this.getAttribute('widget-url');
    if (!widgetUrl) return;
    const options = { widgetUrl: widgetUrl, strings: this.strings };
    if (this.getAttribute('language')) options.language = this.getAttribute('language');
    if (this.getAttribute('color-scheme')) options.colorScheme = this.getAttribute('color-scheme');
    if (this.getAttribute('height')) options.height = this.getAttribute('height');
    if (this.getAttribute('full-screen')) options.fullScreen = this.getAttribute('full-screen');
    let widget;
    try {
      widget = this.widget = new LiveCheckWidget(this, options);
    } catch (err) {
      this.dispatchEvent(new CustomEvent('livecheck-' + LiveCheckEvent.ERROR, { detail: { code: err.code, message: err.message } }));
      return;
    }
    for (const type of Object.values(LiveCheckEvent)) {
      widget.on(type, (event) => this.dispatchEvent(new CustomEvent('livecheck-' + type, { detail: event })));
    }
    widget.ready.catch((err) => this.dispatchEvent(new CustomEvent('livecheck-' + LiveCheckEvent.ERROR,
      { detail: { type: LiveCheckEvent.ERROR, sessionId: widget.sessionId, status: '', code: err.code, message: err.message } })));
  }
}

if (typeof customElements !== 'undefined' && !customElements.get('livecheck-widget')) {
  customElements.define('livecheck-widget', LiveCheckElement);
}
