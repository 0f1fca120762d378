/* Prompts, the cue icon, steps and the progress bar: shared by live checks and recorded ones. */
import { Phase } from './constants.js';
import { Countdown } from './countdown.js';

export class PromptView {
  /** `onProgress()` runs when the server reports progress (the embedding page hears of it). */
  constructor(ui, t, onProgress) {
    this.ui = ui;
    this.t = t;
    this.onProgress = onProgress;
    this.countdown = new Countdown(ui.countdown, (seconds) => t('check.seconds', { seconds: seconds }));
  }

  show(action, index, total, deadlineMs) {
    const ui = this.ui;
    ui.root.dataset.phase = Phase.CHALLENGE;
    ui.root.dataset.action = action;
    ui.prompt.textContent = this.t('prompt.' + action);
    ui.cueUse.setAttribute('href', '#icon-' + action);
    ui.cue.hidden = false;
    ui.cue.dataset.action = action;
    this.setStep(index + 1, total);
    this.setProgress(index, total, false);
    this.countdown.start(deadlineMs);
  }

  hideCue() {
    this.countdown.stop();
    this.ui.cue.hidden = true;
    delete this.ui.root.dataset.action;
  }

  setStep(current, total) {
    this.ui.step.textContent = this.t('check.step', { current: Math.min(current, total), total: total });
  }

  /** `announce` (default true): the server said so, rather than a prompt being drawn. */
  setProgress(completed, total, announce) {
    if (!(total > 0)) return;
    const ui = this.ui;
    ui.bar.setAttribute('aria-valuemax', String(total));
    ui.bar.setAttribute('aria-valuenow', String(completed));
    ui.barFill.style.width = Math.round(100 * completed / total) + '%';
    if (announce !== false) {
      if (completed >= total) this.hideCue();
      this.onProgress();
    }
  }
}
