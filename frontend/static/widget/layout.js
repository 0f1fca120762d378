/* Fitting the screen: the camera view is sized so that the oval, the prompt, the countdown and Cancel fit the
 * viewport the user sees (the embedding page's, which it reports, else this page's own); short landscape screens
 * put the camera beside the controls. The content's height goes to the embedding page, which sizes the iframe. */
import { Layout, Theme } from './constants.js';
import { embedded } from './messaging.js';

const MIN_STAGE_PX = 140; // below this the face cannot be placed in the oval: the page scrolls instead
const WIDE_MAX_HEIGHT = 520; // landscape viewports at most this tall put the camera beside the controls
const SLACK_PX = 16; // room for a line of feedback wrapping before the camera view shrinks again

/** The colour scheme and writing direction on <html> (CSS reads `data-theme`; `auto` follows the browser). */
export function applyLook(theme, lang, dir) {
  const html = document.documentElement;
  html.lang = lang;
  html.dir = dir;
  html.dataset.theme = Object.values(Theme).includes(theme) ? theme : Theme.AUTO;
}

export class Fit {
  /** `onHeight(px)` hears every change of the content's height. */
  constructor(ui, onHeight) {
    this.ui = ui;
    this.onHeight = onHeight;
    this.viewport = null; // the embedding page's {width, height}, once it says
    this.lastHeight = 0;
    this.frame = 0;
    // in the observer's own callback: a new line of text resizes the camera view before the frame is painted
    this.observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => this.update());
    if (this.observer) this.observer.observe(ui.root);
    window.addEventListener('resize', () => this.schedule());
    this.update(); // at once: the embedding page tells a refused frame by its silence
  }

  setViewport(width, height) {
    this.viewport = { width: width, height: height };
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.update(); });
  }

  /** The height the user sees: the embedding page's viewport, else this window's. */
  visibleHeight() {
    return this.viewport && embedded() ? this.viewport.height : window.innerHeight;
  }

  visibleWidth() {
    return this.viewport && embedded() ? this.viewport.width : window.innerWidth;
  }

  update() {
    const ui = this.ui;
    const height = this.visibleHeight();
    const wide = this.visibleWidth() > height && height <= WIDE_MAX_HEIGHT;
    ui.root.dataset.layout = wide ? Layout.WIDE : Layout.STACKED;
    const root = ui.root;
    const style = getComputedStyle(root);
    const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    let room;
    if (wide) {
      room = height - padding - SLACK_PX;
    } else {
      // everything but the stage keeps its height; the stage gets the rest of the screen
      const stageHeight = ui.stage.hidden ? 0 : ui.stage.getBoundingClientRect().height;
      const others = root.getBoundingClientRect().height - stageHeight;
      room = height - others - SLACK_PX;
    }
    root.style.setProperty('--lc-stage-max-h', Math.max(MIN_STAGE_PX, Math.floor(room)) + 'px');
    const content = Math.ceil(root.getBoundingClientRect().height);
    if (content !== this.lastHeight) {
      this.lastHeight = content;
      this.onHeight(content);
    }
  }

  /** The camera view and the prompt into view when this page scrolls itself (the embedding page scrolls the
   * iframe into view when the check starts; scrolling from inside a frame would jump the page around). */
  reveal() {
    if (embedded()) return;
    const target = this.ui.stage.hidden ? this.ui.root : this.ui.stage;
    target.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
}
