/* The light challenge (docs/protocol.md "Light challenge"), for sessions created with `light: true`.
 *
 * Before the check: a photosensitivity notice, with a way to continue without lights (`no_light`; the result then
 * says so, at a lower assurance). During the server's `light` phase: the colour of each `light` message fills the
 * screen at once, behind the camera's oval (kept visible), until the next one; `off` takes it away, and so does a
 * face out of the oval for more than a second (the server interrupts the sequence too) and the end of the phase.
 * The server sends each colour when it is due: this page never knows the sequence ahead. */
import { FeedbackCode, LIGHT_OFF, LightColor, MessageType, Phase, Screen } from './constants.js';

/** Each colour as the screen shows it. */
const FILL = Object.freeze({
  [LightColor.BLACK]: '#000000',
  [LightColor.WHITE]: '#ffffff',
  [LightColor.RED]: '#ff0000',
  [LightColor.YELLOW]: '#ffff00',
  [LightColor.LIME]: '#00ff00',
  [LightColor.CYAN]: '#00ffff',
  [LightColor.BLUE]: '#0000ff',
  [LightColor.MAGENTA]: '#ff00ff',
});
/** Feedback that means the face is not where the light falls. */
const AWAY = [FeedbackCode.NO_FACE, FeedbackCode.MULTIPLE_FACES, FeedbackCode.MOVE_INTO_OVAL,
  FeedbackCode.FACE_TOO_FAR, FeedbackCode.FACE_TOO_CLOSE];
const AWAY_MS = 1000;

export class LightChallenge {
  /** `enabled`: the session asks for it (config.light); `send(type)`: a client message on the channel. */
  constructor(ui, screens, t, enabled, send) {
    this.ui = ui;
    this.screens = screens;
    this.t = t;
    this.enabled = enabled;
    this.send = send;
    this.decided = false;
    this.declined = false;
    this.active = false;
    this.overlay = null;
    this.awayTimer = 0;
    this.reducedMotion = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  /** Shows the notice when the session flashes and the user has not chosen yet; calls `onDone` after the choice.
   * Returns whether it took over (the caller waits for `onDone`). */
  consent(onDone) {
    if (!this.enabled || this.decided) return false;
    const t = this.t;
    const choose = (withLights) => {
      this.decided = true;
      this.declined = !withLights;
      if (!withLights) this.send(MessageType.NO_LIGHT);
      this.ui.root.dataset.light = withLights ? 'on' : 'off';
      onDone();
    };
    // Asked for reduced motion: continuing without the flashes is the suggested choice (either one stays open).
    const lights = { id: 'lc-light-on', label: t('light.notice.continue'), primary: !this.reducedMotion,
      onClick: () => choose(true) };
    const none = { id: 'lc-light-off', label: t('light.notice.skip'), primary: this.reducedMotion,
      onClick: () => choose(false) };
    this.screens.show(Screen.START, {
      stage: true, heading: t('light.notice.heading'),
      body: t('light.notice.body') + ' ' + t('light.brightness'),
      buttons: this.reducedMotion ? [none, lights] : [lights, none],
    });
    return true;
  }

  /** A `state` message: the colours belong to the light phase only. */
  phase(phase) {
    if (phase === Phase.LIGHT && this.enabled && !this.declined) {
      this.active = true;
      this.ui.prompt.textContent = this.t('light.hold');
    } else {
      this.active = false;
      this.hide();
    }
  }

  /** A `light` message: show `color` now (or take the colour away on `off`). */
  show(color) {
    if (!this.active || color === LIGHT_OFF || !(color in FILL)) return this.hide();
    const layer = this.layer();
    layer.style.background = FILL[color];
    layer.hidden = false;
    this.ui.root.dataset.lightColor = color;
    return undefined;
  }

  /** A `feedback` message: a face away for more than a second takes the colour away at once. */
  feedback(code) {
    if (!AWAY.includes(code)) {
      clearTimeout(this.awayTimer);
      this.awayTimer = 0;
      return;
    }
    if (!this.awayTimer) this.awayTimer = setTimeout(() => { this.awayTimer = 0; this.hide(); }, AWAY_MS);
  }

  hide() {
    if (this.overlay) this.overlay.hidden = true;
    delete this.ui.root.dataset.lightColor;
  }

  stop() {
    this.active = false;
    clearTimeout(this.awayTimer);
    this.hide();
  }

  /** The full-screen colour: fixed over the whole page, under the camera and the live text (raised above it). */
  layer() {
    if (this.overlay) return this.overlay;
    const layer = document.createElement('div');
    layer.id = 'lc-light';
    layer.setAttribute('aria-hidden', 'true');
    Object.assign(layer.style, { position: 'fixed', inset: '0', zIndex: '1', pointerEvents: 'none' });
    if (this.reducedMotion) layer.style.transition = 'none';
    for (const raised of [this.ui.stage, this.ui.prompt.parentElement, this.ui.buttons]) {
      if (raised) Object.assign(raised.style, { position: raised === this.ui.stage ? '' : 'relative', zIndex: '2' });
    }
    this.ui.root.appendChild(layer);
    this.overlay = layer;
    return layer;
  }
}
