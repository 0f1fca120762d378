/* The widget's flow: intro -> camera -> start -> check (live, or recorded when WebRTC cannot connect) -> result.
 *
 * The server decides everything; this page only shows what it is told and never sees a score. Every end screen has
 * a way forward: in an iframe, a `retry` message asks the embedding page for a new session; on its own, the
 * session's return URL (when given).
 */
import { EmbedMessage, ErrorScreen, FeedbackCode, MessageType, Phase, Screen, SessionStatus } from './constants.js';
import { SessionApi } from './api.js';
import { CameraError, openCamera, stopCamera } from './camera.js';
import { RecordingFallback } from './fallback.js';
import { createNotifier, embedded } from './messaging.js';
import { PromptView } from './prompts.js';
import { dispatch } from './protocol.js';
import { Screens } from './screens.js';
import { LiveConnection } from './webrtc.js';
import { LightChallenge } from './light.js';

/** Problems the server names in `data-problem` before anything starts. */
const PAGE_PROBLEMS = [ErrorScreen.SESSION_EXPIRED, ErrorScreen.SESSION_USED];
/** After a confirmed cancel, the server's `result` is awaited this long at most. */
const CANCEL_WAIT_MS = 3000;

export class Widget {
  /** `options`: the embedding page's (config.js takeOptions); `fit`: layout.js's Fit. */
  constructor(ui, config, options, t, fit) {
    this.ui = ui;
    this.config = config;
    this.token = options.token;
    this.returnUrl = options.returnUrl;
    this.t = t;
    this.fit = fit;
    this.notify = createNotifier(config.sessionId, config.origins);
    this.prompts = new PromptView(ui, t, () => this.notify.progress(Phase.CHALLENGE));
    this.screens = new Screens(ui, () => this.prompts.hideCue());
    this.api = new SessionApi(config.apiBase, config.sessionId, this.token);
    this.fallback = new RecordingFallback(this, this.api, config.recordingFallback);
    this.light = new LightChallenge(ui, this.screens, t, config.light, (type) => this.live && this.live.send(type));
    this.live = null;
    this.stream = null;
    this.finished = false;
    this.cancelled = false;
    this.confirming = false;
    this.lastFeedback = '';
    this.positionTimer = 0;
    this.cancelTimer = 0;
    this.busyTimer = 0;
    this.resumeButtons = [];
  }

  /** The first screen: the intro, or the reason this page cannot run a check. */
  start() {
    const t = this.t;
    if (PAGE_PROBLEMS.includes(this.config.problem)) return this.showError(this.config.problem);
    if (!this.token) return this.showError(ErrorScreen.SESSION_USED);
    if (!window.isSecureContext) return this.showError(ErrorScreen.INSECURE_CONTEXT);
    this.notify.ready();
    this.screens.show(Screen.INTRO, {
      heading: t('intro.heading'), body: t('intro.body'),
      buttons: [{ id: 'lc-camera', label: t('intro.button'), primary: true, onClick: () => this.openCamera() }],
    });
    this.ui.privacy.hidden = false;
    return undefined;
  }

  get connected() { return this.live !== null && this.live.connected; }

  get recording() { return this.fallback.started; }

  /** The buttons that lead on from an end screen (none when there is nowhere to go: the text says where). */
  wayForward(label) {
    if (embedded()) return [{ id: 'lc-retry', label: label, primary: true, onClick: () => this.notify.retry() }];
    if (this.returnUrl) {
      const url = this.returnUrl;
      return [{ id: 'lc-return', label: this.t('button.back_to_site'), primary: true,
        onClick: () => location.assign(url) }];
    }
    return [];
  }

  async openCamera() {
    this.screens.show(Screen.CAMERA, { heading: this.t('camera.waiting'), focus: false });
    try {
      this.stream = await openCamera();
    } catch (err) {
      // Nothing was sent to the server yet: the same session can still be used after the user fixes it.
      const kind = err instanceof CameraError ? err.kind : ErrorScreen.CAMERA_IN_USE;
      return this.showError(kind, [{ label: this.t('button.retry'), primary: true, onClick: () => this.openCamera() }]);
    }
    this.ui.video.srcObject = this.stream;
    this.showStart();
    return this.connect();
  }

  showStart() {
    const t = this.t;
    this.screens.show(Screen.START, {
      stage: true, heading: t('start.heading'), body: t('start.body'),
      buttons: [{ id: 'lc-start', label: t('start.connecting'), primary: true, disabled: true,
        onClick: () => this.pressStart() }],
    });
    this.fit.reveal();
  }

  enableStart() {
    const button = document.getElementById('lc-start');
    if (!button) return;
    button.textContent = this.t('start.button');
    button.disabled = false;
    button.focus({ preventScroll: true });
  }

  connect() {
    this.live = new LiveConnection(this.api, this.config.iceServers, this.config.connectTimeoutMs, {
      onOpen: () => this.enableStart(),
      onMessage: (raw) => this.onServerMessage(raw),
      onUnreachable: () => this.startFallback(),
      onLost: () => { if (this.cancelled) this.finish(SessionStatus.FAILED); else if (!this.finished) this.showError(ErrorScreen.NETWORK); },
      onProblem: (kind) => { if (!this.finished) this.showError(kind); },
      onBusy: (seconds) => this.waitWhileBusy(seconds),
    });
    return this.live.connect(this.stream);
  }

  /** The server is busy: "trying again in N s" counts down under the camera, then the offer goes again. */
  waitWhileBusy(seconds) {
    const ends = performance.now() + seconds * 1000;
    this.ui.root.dataset.busy = 'true';
    return new Promise((resolve) => {
      const tick = () => {
        const left = Math.ceil((ends - performance.now()) / 1000);
        if (left > 0 && !this.finished) {
          this.ui.feedback.textContent = this.t('start.busy', { seconds: left });
          return;
        }
        clearInterval(this.busyTimer);
        delete this.ui.root.dataset.busy;
        if (!this.finished) this.ui.feedback.textContent = '';
        resolve();
      };
      clearInterval(this.busyTimer);
      this.busyTimer = setInterval(tick, 250);
      tick();
    });
  }

  /** WebRTC cannot connect from here: record instead, if this session allows it. */
  startFallback() {
    if (this.fallback.started || this.finished) return;
    if (this.live) this.live.close();
    this.fallback.offer();
  }

  pressStart() {
    if (!this.live || !this.live.open) return;
    if (this.light.consent(() => this.pressStart())) return; // the photosensitivity notice first (light.js)
    this.live.send(MessageType.READY);
    this.showCheck();
    this.startPositioningClock();
  }

  cancelButton() {
    return { id: 'lc-cancel', label: this.t('check.cancel'), onClick: () => this.askCancel() };
  }

  showCheck() {
    const t = this.t;
    this.screens.show(Screen.CHECK, {
      stage: true, progress: true, heading: t('check.heading'), buttons: [this.cancelButton()], focus: false,
    });
    this.ui.prompt.textContent = t('check.positioning');
    this.ui.heading.focus({ preventScroll: true });
    this.fit.reveal();
  }

  /** The time the server gives for getting into position, counted from Start on this page's clock. */
  startPositioningClock() {
    const ends = performance.now() + this.config.positioningTimeoutMs;
    const tick = () => {
      const left = Math.max(0, Math.ceil((ends - performance.now()) / 1000));
      this.ui.step.textContent = this.t('check.position_time', { seconds: left });
      if (left <= 0) this.stopPositioningClock();
    };
    this.stopPositioningClock();
    tick();
    this.positionTimer = setInterval(tick, 500);
  }

  stopPositioningClock() {
    clearInterval(this.positionTimer);
    this.positionTimer = 0;
  }

  /** Cancel (the button or Esc) asks first: a slip of the finger should not end the check. */
  askCancel() {
    if (this.finished || this.confirming) return;
    this.confirming = true;
    const t = this.t;
    this.ui.root.dataset.confirming = 'true';
    this.ui.next.textContent = t('cancel.question');
    this.ui.next.hidden = false;
    this.resumeButtons = this.screens.current;
    const keep = this.screens.setButtons([
      { id: 'lc-keep', label: t('cancel.keep'), primary: true, onClick: () => this.keepGoing() },
      { id: 'lc-confirm-cancel', label: t('cancel.confirm'), onClick: () => this.confirmCancel() },
    ]);
    keep.focus({ preventScroll: true });
  }

  keepGoing() {
    this.confirming = false;
    delete this.ui.root.dataset.confirming;
    this.ui.next.textContent = '';
    this.ui.next.hidden = true;
    this.screens.setButtons(this.resumeButtons);
    this.ui.heading.focus({ preventScroll: true });
  }

  /** The user gave up: the server ends the session FAILED with reason `cancelled`; the page says "You cancelled"
   * and the embedding page hears `cancelled`. */
  confirmCancel() {
    if (this.finished) return;
    this.cancelled = true;
    this.confirming = false;
    if (this.live && this.live.open) {
      this.live.send(MessageType.CANCEL);
      this.cancelTimer = setTimeout(() => this.finish(SessionStatus.FAILED), CANCEL_WAIT_MS);
    } else if (this.recording) {
      // no data channel: the server hears it over HTTP; nothing recorded is uploaded (fallback.stop)
      this.fallback.stop();
      const told = () => this.finish(SessionStatus.FAILED);
      this.api.cancel().then((res) => {
        if (!res.ok && window.console) console.warn('livecheck: the server refused the cancel: HTTP ' + res.status);
      }).catch(() => undefined).then(told);
    } else {
      this.finish(SessionStatus.FAILED);
    }
  }

  /** Esc: the first press asks, a second one (or Enter on "Cancel the check") confirms. */
  escape() {
    if (this.ui.root.dataset.screen !== Screen.CHECK || this.finished) return;
    if (this.confirming) this.confirmCancel(); else this.askCancel();
  }

  onServerMessage(raw) {
    if (this.finished) return;
    dispatch(raw, {
      state: (phase) => this.onPhase(phase),
      feedback: (code) => this.setFeedback(code),
      prompt: (action, index, total, deadlineMs) => {
        this.stopPositioningClock();
        this.prompts.show(action, index, total, deadlineMs);
      },
      progress: (completed, total) => this.prompts.setProgress(completed, total),
      light: (color) => this.light.show(color),
      result: (status) => this.finish(status),
    });
  }

  onPhase(phase) {
    this.ui.root.dataset.phase = phase;
    this.light.phase(phase);
    if (phase !== Phase.POSITIONING) this.stopPositioningClock();
    if (phase === Phase.POSITIONING && !this.confirming) this.ui.prompt.textContent = this.t('check.positioning');
    if (phase === Phase.DECIDING) { this.prompts.hideCue(); this.ui.prompt.textContent = this.t('check.deciding'); }
    if (phase === Phase.POSITIONING || phase === Phase.CHALLENGE || phase === Phase.DECIDING) {
      this.notify.progress(phase);
    }
  }

  setFeedback(code) {
    if (code === this.lastFeedback) return;
    this.lastFeedback = code;
    this.light.feedback(code);
    this.ui.root.dataset.feedback = code;
    this.ui.feedback.textContent = code === FeedbackCode.OK ? '' : this.t('feedback.' + code);
  }

  stopEverything() {
    this.stopPositioningClock();
    this.light.stop();
    clearTimeout(this.cancelTimer);
    this.prompts.hideCue();
    this.fallback.stop();
    if (this.live) this.live.close();
    stopCamera(this.stream);
    this.ui.video.srcObject = null;
    this.ui.privacy.hidden = true;
    delete this.ui.root.dataset.confirming;
  }

  /** An error screen; by default its way forward is a new check. The embedding page hears `error` with its name. */
  showError(kind, buttons) {
    const t = this.t;
    this.stopEverything();
    this.screens.show(Screen.ERROR, {
      tone: 'bad', heading: t('error.' + kind + '.heading'), body: t('error.' + kind + '.body'),
      buttons: buttons || this.wayForward(t('button.new_check')),
    });
    this.ui.root.dataset.error = kind;
    if (!buttons) this.finished = true; // the session cannot go on; a retry is a new one
    this.notify.error(kind);
  }

  /** The end: SUCCEEDED, FAILED, or cancelled by the user (FAILED on the server, reason `cancelled`). */
  finish(status) {
    if (this.finished) return;
    this.finished = true;
    const passed = status === SessionStatus.SUCCEEDED && !this.cancelled;
    const outcome = passed ? SessionStatus.SUCCEEDED : SessionStatus.FAILED;
    const failedFeedback = this.lastFeedback;
    this.stopEverything();
    const t = this.t;
    if (this.cancelled) {
      this.screens.show(Screen.RESULT, {
        heading: t('result.cancelled.heading'), body: t('result.cancelled.body'),
        buttons: this.wayForward(t('button.new_check')),
      });
      this.ui.root.dataset.result = EmbedMessage.CANCELLED;
      this.notify.cancelled(outcome);
    } else if (passed) {
      this.screens.show(Screen.RESULT, {
        tone: 'good', heading: t('result.passed.heading'), body: t('result.passed.body'),
        buttons: embedded() || !this.returnUrl ? [] : this.wayForward(''),
      });
      this.ui.root.dataset.result = 'passed';
      this.notify.completed(outcome);
    } else {
      // Not passed; the way forward is a new check. Running out of time gets its own, more hopeful, sentence.
      const slow = failedFeedback === FeedbackCode.TOO_SLOW;
      this.screens.show(Screen.RESULT, {
        tone: 'bad', heading: t('result.failed.heading'), body: t(slow ? 'result.retry.body' : 'result.failed.body'),
        next: t('result.failed.next'), buttons: this.wayForward(t('button.retry')),
      });
      this.ui.root.dataset.result = 'failed';
      this.notify.completed(outcome);
    }
  }
}
