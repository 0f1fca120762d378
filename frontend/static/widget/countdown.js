/* The seconds left for the current prompt, counted on this page's clock from the server's `deadline_ms`. */

export class Countdown {
  /** `label(seconds)` is the element's accessible text. */
  constructor(element, label) {
    this.element = element;
    this.label = label;
    this.timer = 0;
  }

  start(ms) {
    this.stop();
    const ends = performance.now() + Math.max(0, ms);
    const tick = () => {
      const left = Math.max(0, Math.ceil((ends - performance.now()) / 1000));
      this.element.textContent = String(left);
      this.element.setAttribute('aria-label', this.label(left));
      if (left <= 0) this.stop();
    };
    tick();
    this.timer = setInterval(tick, 250);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
  }
}
