/* The widget's flow: intro -> camera -> start -> check (live, or recorded when WebRTC cannot connect) -> result.
 *
 * The server decides everything; this page only shows what it is told and never sees a score.
 */
import { ErrorScreen, FeedbackCode, MessageType, Phase, Screen, SessionStatus } from './constants.js';
import { SessionApi } from './api.js';
import { CameraError, openCamera, stopCamera } from './camera.js';
import { RecordingFallback } from './fallback.js';
import { createNotifier } from './messaging.js';
import { PromptView } from './prompts.js';
import { dispatch } from './protocol.js';
import { Screens } from './screens.js';
import { LiveConnection } from './webrtc.js';

/** Problems the server names in `data-problem` before anything starts. */
const PAGE_PROBLEMS = [ErrorScreen.SESSION_EXPIRED, ErrorScreen.SESSION_USED];

export class Widget {
  constructor(ui, config, token, t) {
    this.ui = ui;
    this.config = config;
    this.token = token;
    this.t = t;
    this.notify = createNotifier(config.sessionId, config.origins);
    this.prompts = new PromptView(ui, t, () => this.notify.progress(Phase.CHALLENGE));
    this.screens = new Screens(ui, () => this.prompts.hideCue());
    this.api = new SessionApi(config.apiBase, config.sessionId, token);
    this.fallback = new RecordingFallback(this, this.api, config.recordingFallback);
    this.live = null;
    this.stream = null;
    this.finished = false;
    this.lastFeedback = '';
  }

  /** The first screen: the intro, or the reason this page cannot run a check. */
  start() {
    const t = this.t;
    if (PAGE_PROBLEMS.includes(this.config.problem)) return this.showError(this.config.problem);
    if (!this.token) return this.showError(ErrorScreen.SESSION_USED);
    this.notify.ready();
    return this.screens.show(Screen.INTRO, {
      heading: t('intro.heading'), body: t('intro.body'),
      buttons: [{ id: 'lc-camera', label: t('intro.button'), primary: true, onClick: () => this.openCamera() }],
    });
  }

  get connected() { return this.live !== null && this.live.connected; }

  get recording() { return this.fallback.started; }

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
  }

  enableStart() {
    const button = document.getElementById('lc-start');
    if (!button) return;
    button.textContent = this.t('start.button');
    button.disabled = false;
    button.focus();
  }

  connect() {
    this.live = new LiveConnection(this.api, this.config.iceServers, this.config.connectTimeoutMs, {
      onOpen: () => this.enableStart(),
      onMessage: (raw) => this.onServerMessage(raw),
      onUnreachable: () => this.startFallback(),
      onLost: () => { if (!this.finished) this.showError(ErrorScreen.NETWORK); },
      onProblem: (kind) => { if (!this.finished) this.showError(kind); },
    });
    return this.live.connect(this.stream);
  }

  /** WebRTC cannot connect from here: record instead, if this session allows it. */
  startFallback() {
    if (this.fallback.started || this.finished) return;
    if (this.live) this.live.close();
    this.fallback.offer();
  }

  pressStart() {
    if (!this.live || !this.live.open) return;
    this.live.send(MessageType.READY);
    this.showCheck();
  }

  showCheck() {
    const t = this.t;
    this.screens.show(Screen.CHECK, {
      stage: true, progress: true, heading: t('check.heading'),
      buttons: [{ label: t('check.cancel'), onClick: () => this.cancel() }], focus: false,
    });
    this.ui.prompt.textContent = t('check.positioning');
    this.ui.heading.focus();
  }

  cancel() {
    if (this.live && this.live.open) this.live.send(MessageType.CANCEL);
    else this.finish(SessionStatus.FAILED);
  }

  onServerMessage(raw) {
    if (this.finished) return;
    dispatch(raw, {
      state: (phase) => this.onPhase(phase),
      feedback: (code) => this.setFeedback(code),
      prompt: (action, index, total, deadlineMs) => this.prompts.show(action, index, total, deadlineMs),
      progress: (completed, total) => this.prompts.setProgress(completed, total),
      result: (status) => this.finish(status),
    });
  }

  onPhase(phase) {
    this.ui.root.dataset.phase = phase;
    if (phase === Phase.POSITIONING) this.ui.prompt.textContent = this.t('check.positioning');
    if (phase === Phase.DECIDING) { this.prompts.hideCue(); this.ui.prompt.textContent = this.t('check.deciding'); }
    if (phase === Phase.POSITIONING || phase === Phase.CHALLENGE || phase === Phase.DECIDING) {
      this.notify.progress(phase);
    }
  }

  setFeedback(code) {
    if (code === this.lastFeedback) return;
    this.lastFeedback = code;
    this.ui.root.dataset.feedback = code;
    this.ui.feedback.textContent = code === FeedbackCode.OK ? '' : this.t('feedback.' + code);
  }

  stopEverything() {
    this.prompts.hideCue();
    this.fallback.stop();
    if (this.live) this.live.close();
    stopCamera(this.stream);
    this.ui.video.srcObject = null;
  }

  /** An error screen; by default its way forward is a new check (the embedding page hears FAILED). */
  showError(kind, buttons) {
    const t = this.t;
    this.stopEverything();
    this.screens.show(Screen.ERROR, {
      tone: 'bad', heading: t('error.' + kind + '.heading'), body: t('error.' + kind + '.body'),
      buttons: buttons || [{ label: t('button.new_check'), primary: true,
        onClick: () => this.finish(SessionStatus.FAILED, true) }],
    });
    this.ui.root.dataset.error = kind;
  }

  /** The end: SUCCEEDED, or FAILED for anything else. `silent`: tell the embedding page only. */
  finish(status, silent) {
    if (this.finished) return;
    this.finished = true;
    const passed = status === SessionStatus.SUCCEEDED;
    this.stopEverything();
    this.notify.completed(passed ? SessionStatus.SUCCEEDED : SessionStatus.FAILED);
    if (silent) return;
    const t = this.t;
    if (passed) {
      this.screens.show(Screen.RESULT, { tone: 'good', heading: t('result.passed.heading'), body: t('result.passed.body') });
      this.ui.root.dataset.result = 'passed';
    } else {
      // Not passed; the way forward is a new check. Running out of time gets its own, more hopeful, sentence.
      const slow = this.lastFeedback === FeedbackCode.TOO_SLOW;
      this.screens.show(Screen.RESULT, {
        tone: 'bad', heading: t('result.failed.heading'), body: t(slow ? 'result.retry.body' : 'result.failed.body'),
        next: t('result.failed.next'),
      });
      this.ui.root.dataset.result = 'failed';
    }
  }
}
