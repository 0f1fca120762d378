/* The recording fallback: prompts released one at a time by the server, recorded, uploaded, decided there.
 *
 * Only when the integrator allowed it for this session (otherwise the WebRTC-failed screen). The server's clock is
 * the recording's: the widget says when recording started, asks for each prompt when the server says it is due,
 * and uploads by the deadline. It never learns a prompt before it is due.
 */
import { ErrorScreen, FallbackCode, Phase, Screen } from './constants.js';
import { errorCode, sessionProblem } from './api.js';
import { stopCamera } from './camera.js';

const RECORDER_TYPES = ['video/webm;codecs=vp8', 'video/webm;codecs=vp9', 'video/webm', 'video/mp4'];
const RECORD_FPS = 15;
const RECORD_MAX_SIDE = 640;
const RECORD_BITS_PER_SECOND = 1000000;

function recorderType() {
  if (typeof MediaRecorder === 'undefined') return null;
  return RECORDER_TYPES.find((type) => MediaRecorder.isTypeSupported(type)) || null;
}

/** Milliseconds from now until `ms` on the server's recording clock (`elapsed_ms` when it answered). */
function clockOf(plan) {
  const startedAt = performance.now() - (Number(plan.elapsed_ms) || 0);
  return (ms) => Math.max(0, startedAt + Number(ms) - performance.now());
}

const given = (value) => value !== null && value !== undefined;

export class RecordingFallback {
  /** `host`: the widget (see check.js): `screens`, `prompts`, `notify`, `t`, `ui`, `stream`, `showCheck()`,
   * `showError(kind)`, `finish(status)`, `finished`, `wayForward(label)`. */
  constructor(host, api, allowed) {
    this.host = host;
    this.api = api;
    this.allowed = allowed;
    this.started = false;
    this.abandoned = false;
    this.recorder = null;
    this.timer = 0;
    this.drawTimer = 0;
    this.total = 0;
  }

  /** Offers to record instead (once): the start screen, or the WebRTC-failed screen when not allowed here. */
  offer() {
    if (this.started) return;
    this.started = true;
    const host = this.host;
    const type = recorderType();
    if (!this.allowed || !type) { host.showError(ErrorScreen.WEBRTC_FAILED); return; }
    // Cancel here, too: nothing has been sent yet, and the way forward is a new check.
    host.ui.root.dataset.mode = 'recording';
    host.screens.show(Screen.START, {
      stage: true, heading: host.t('start.heading'), body: host.t('fallback.notice'),
      buttons: [{ id: 'lc-start', label: host.t('start.button'), primary: true, onClick: () => this.record(type) },
        host.cancelButton()],
    });
  }

  record(type) {
    const host = this.host;
    const chunks = [];
    const recorder = this.recorder = new MediaRecorder(this.steadyStream(),
      { mimeType: type, videoBitsPerSecond: RECORD_BITS_PER_SECOND });
    recorder.ondataavailable = (event) => { if (event.data && event.data.size) chunks.push(event.data); };
    recorder.onstop = () => {
      if (!host.finished && !this.abandoned) this.upload(new Blob(chunks, { type: type.split(';')[0] }));
    };
    host.showCheck(); // with Cancel: a cancelled recording is never uploaded
    host.ui.rec.hidden = false;
    host.ui.rec.textContent = host.t('fallback.recording');
    recorder.onstart = async () => {
      host.ui.prompt.textContent = host.t('check.positioning');
      host.notify.progress(Phase.CHALLENGE);
      try {
        const res = await this.api.fallback('POST', ''); // the recording started: from now on, the server's clock
        if (this.abandoned || host.finished) return undefined; // cancelled meanwhile
        if (!res.ok) return this.abandon(await sessionProblem(res));
        const plan = await res.json();
        this.total = Number(plan.total) || 0;
        return this.follow(plan);
      } catch (err) {
        return this.abandon(ErrorScreen.NETWORK);
      }
    };
    recorder.start(1000);
  }

  /** Sets the timer for the next step from the server's answer. */
  follow(plan) {
    clearTimeout(this.timer);
    const at = clockOf(plan);
    if (given(plan.next_prompt_ms)) this.timer = setTimeout(() => this.askNext(), at(plan.next_prompt_ms));
    else if (given(plan.stop_at_ms)) this.timer = setTimeout(() => this.stopRecording(), at(plan.stop_at_ms));
  }

  get recording() { return this.recorder !== null && this.recorder.state !== 'inactive'; }

  async askNext() {
    if (this.host.finished || this.abandoned || !this.recording) return undefined;
    try {
      const res = await this.api.fallback('POST', '/next');
      if (res.status === 409 && await errorCode(res) === FallbackCode.PROMPT_NOT_DUE) {
        // our timer ran early: ask the server where the recording stands and wait for the prompt
        const state = await this.api.fallback('GET', '');
        if (state.ok) return this.follow(await state.json());
      }
      if (!res.ok) return this.abandon(await sessionProblem(res));
      const prompt = await res.json();
      const index = Number(prompt.index);
      const prompts = this.host.prompts;
      prompts.setProgress(index, this.total, index > 0);
      prompts.show(String(prompt.action), index, this.total, Number(prompt.deadline_ms));
      return this.follow(prompt);
    } catch (err) {
      return this.abandon(ErrorScreen.NETWORK);
    }
  }

  stopRecording() {
    this.host.prompts.setProgress(this.total, this.total);
    if (this.recording) this.recorder.stop();
  }

  /** Gives up on the recording: nothing is uploaded; the error screen says what happened. */
  abandon(kind) {
    if (this.host.finished || this.host.cancelled) return;
    this.abandoned = true;
    clearTimeout(this.timer);
    this.host.showError(kind);
  }

  /** The camera redrawn at a fixed 15 fps and at most 640 px: a small upload with a regular frame rate (cameras
   * and MediaRecorder produce variable rates that container headers misreport). Falls back to the camera itself. */
  steadyStream() {
    const video = this.host.ui.video;
    const canvas = document.createElement('canvas');
    if (!canvas.captureStream || !video.videoWidth) return this.host.stream;
    const scale = Math.min(1, RECORD_MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale / 2) * 2;
    canvas.height = Math.round(video.videoHeight * scale / 2) * 2;
    const context = canvas.getContext('2d');
    const draw = () => context.drawImage(video, 0, 0, canvas.width, canvas.height);
    draw();
    this.drawTimer = setInterval(draw, 1000 / RECORD_FPS);
    return canvas.captureStream(RECORD_FPS);
  }

  async upload(blob) {
    const host = this.host;
    clearInterval(this.drawTimer);
    host.ui.rec.hidden = true;
    host.prompts.hideCue();
    stopCamera(host.stream);
    host.screens.show(Screen.UPLOADING, { heading: host.t('fallback.uploading'), progress: false });
    host.notify.progress(Phase.DECIDING);
    try {
      const res = await this.api.upload(blob);
      if (!res.ok) return host.showError(await sessionProblem(res));
      const body = await res.json();
      return host.finish(String(body.status));
    } catch (err) {
      return host.showError(ErrorScreen.NETWORK);
    }
  }

  /** Stops everything it runs; a recording stopped here is not uploaded. */
  stop() {
    clearTimeout(this.timer);
    clearInterval(this.drawTimer);
    if (this.host.cancelled) this.abandoned = true; // a recording still starting is never followed or uploaded
    if (this.recording) {
      this.abandoned = true;
      try { this.recorder.stop(); } catch (e) { /* already stopped */ }
    }
  }
}
