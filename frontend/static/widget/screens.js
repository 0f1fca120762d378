/* Screens: one region of the page (#livecheck) redrawn per step; `data-screen` says which step shows. */

/** The page's elements by role (ids from frontend/templates/widget.html). */
export function findUi(doc) {
  const $ = (id) => doc.getElementById(id);
  return Object.freeze({
    root: $('livecheck'), heading: $('lc-heading'), body: $('lc-body'), stage: $('lc-stage'), video: $('lc-video'),
    privacy: $('lc-privacy'),
    cue: $('lc-cue'), cueUse: $('lc-cue-use'), countdown: $('lc-countdown'), rec: $('lc-rec'),
    prompt: $('lc-prompt'), feedback: $('lc-feedback'), progress: $('lc-progress'), step: $('lc-step'),
    bar: $('lc-bar'), barFill: $('lc-bar-fill'), next: $('lc-next'), buttons: $('lc-buttons'),
  });
}

export class Screens {
  /** `clearLive` empties the live region (prompt, feedback, cue) when a screen does not keep it. */
  constructor(ui, clearLive) {
    this.ui = ui;
    this.clearLive = clearLive;
    this.current = [];
  }

  /** Buttons from specs `{id, label, primary, disabled, onClick}`; returns the first primary one. */
  setButtons(buttons) {
    const ui = this.ui;
    this.current = buttons || [];
    ui.buttons.replaceChildren();
    let first = null;
    for (const spec of buttons || []) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = spec.label;
      button.className = spec.primary ? 'primary' : 'secondary';
      if (spec.id) button.id = spec.id;
      if (spec.disabled) button.disabled = true;
      button.addEventListener('click', spec.onClick);
      ui.buttons.appendChild(button);
      if (!first && spec.primary) first = button;
    }
    return first;
  }

  /** Options: tone, heading, body, next, stage, progress, keepLive, buttons, focus. */
  show(screen, opts) {
    const ui = this.ui;
    opts = opts || {};
    ui.root.dataset.screen = screen;
    if (opts.tone) ui.root.dataset.tone = opts.tone; else delete ui.root.dataset.tone;
    ui.heading.textContent = opts.heading || '';
    ui.body.textContent = opts.body || '';
    ui.body.hidden = !opts.body;
    ui.next.textContent = opts.next || '';
    ui.next.hidden = !opts.next;
    ui.stage.hidden = !opts.stage;
    ui.progress.hidden = !opts.progress;
    if (!opts.keepLive) { ui.prompt.textContent = ''; ui.feedback.textContent = ''; this.clearLive(); }
    const primary = this.setButtons(opts.buttons);
    // Keyboard and screen-reader users land on what matters: the main action, else the heading. Never by
    // scrolling: inside an iframe that would jump the embedding page (layout.js brings the camera into view).
    const target = (primary && !primary.disabled) ? primary : ui.heading;
    if (opts.focus !== false) target.focus({ preventScroll: true });
  }
}
