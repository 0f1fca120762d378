/* livecheck widget: camera, WebRTC live check (docs/protocol.md) and a recording fallback. No build step.
 *
 * The server decides everything; this page only shows what it is told and never sees a score. The client token
 * arrives in the URL fragment (#token=...) so it is not sent in Referer headers or server logs; it is removed
 * from the address bar at once.
 */
(() => {
  'use strict';

  const PROTOCOL_VERSION = 1;
  const root = document.getElementById('livecheck');
  const $ = (id) => document.getElementById(id);
  const ui = {
    heading: $('lc-heading'), body: $('lc-body'), stage: $('lc-stage'), video: $('lc-video'), oval: $('lc-oval'),
    cue: $('lc-cue'), cueUse: $('lc-cue-use'), countdown: $('lc-countdown'), rec: $('lc-rec'),
    prompt: $('lc-prompt'), feedback: $('lc-feedback'), progress: $('lc-progress'), step: $('lc-step'),
    bar: $('lc-bar'), barFill: $('lc-bar-fill'), next: $('lc-next'), buttons: $('lc-buttons'),
  };

  function parseJson(text, fallback) {
    try { return JSON.parse(text); } catch (e) { return fallback; }
  }

  const config = {
    sessionId: root.dataset.sessionId,
    origins: parseJson(root.dataset.allowedOrigins, []),
    iceServers: parseJson(root.dataset.iceServers, []),
    languages: parseJson(root.dataset.languages, ['en']),
    i18nBase: root.dataset.i18nBase,
    apiBase: root.dataset.apiBase || '',
    connectTimeoutMs: Number(root.dataset.connectTimeoutMs) || 10000,
  };
  const KNOWN_PROBLEMS = ['session_expired', 'session_used'];

  /* ---- client token: from the fragment (preferred) or the query, then scrubbed from the URL ------------- */
  function takeToken() {
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
    const query = new URLSearchParams(location.search);
    const token = fragment.get('token') || query.get('token') || '';
    query.delete('token');
    const search = query.toString();
    history.replaceState(null, '', location.pathname + (search ? '?' + search : ''));
    return token;
  }
  const token = takeToken();

  /* ---- strings -------------------------------------------------------------------------------------------- */
  let strings = {};
  let fallbackStrings = {};

  function pickLanguage(available) {
    const forced = new URLSearchParams(location.search).get('lang');
    const wanted = (forced ? [forced] : []).concat(navigator.languages || [navigator.language || 'en']);
    for (const tag of wanted) {
      const base = String(tag || '').toLowerCase().split('-')[0];
      if (available.includes(base)) return base;
    }
    return available[0] || 'en';
  }

  async function loadCatalog(lang) {
    const res = await fetch(config.i18nBase + encodeURIComponent(lang) + '.json', { credentials: 'omit' });
    if (!res.ok) throw new Error('catalog ' + lang + ': HTTP ' + res.status);
    return res.json();
  }

  function t(key, vars) {
    let text = strings[key] || fallbackStrings[key] || key;
    for (const [name, value] of Object.entries(vars || {})) text = text.split('{' + name + '}').join(String(value));
    return text;
  }

  /* ---- messages to the embedding page: only to the session's allowed origins, never '*' --------------- */
  function notify(type, status) {
    if (window.parent === window) return;
    const message = { type: 'livecheck:' + type, sessionId: config.sessionId, status: status };
    for (const origin of config.origins) {
      if (origin === '*') continue;
      try { window.parent.postMessage(message, origin); } catch (e) { /* a malformed origin: skip it */ }
    }
  }

  /* ---- screens -------------------------------------------------------------------------------------------- */
  function setButtons(buttons) {
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

  function show(screen, opts) {
    opts = opts || {};
    root.dataset.screen = screen;
    if (opts.tone) root.dataset.tone = opts.tone; else delete root.dataset.tone;
    ui.heading.textContent = opts.heading || '';
    ui.body.textContent = opts.body || '';
    ui.body.hidden = !opts.body;
    ui.next.textContent = opts.next || '';
    ui.next.hidden = !opts.next;
    ui.stage.hidden = !opts.stage;
    ui.progress.hidden = !opts.progress;
    if (!opts.keepLive) { ui.prompt.textContent = ''; ui.feedback.textContent = ''; hideCue(); }
    const primary = setButtons(opts.buttons);
    // Keyboard and screen-reader users land on what matters: the main action, else the heading.
    const target = (primary && !primary.disabled) ? primary : ui.heading;
    if (opts.focus !== false) target.focus({ preventScroll: false });
  }

  function showError(kind, buttons) {
    stopEverything();
    show('error', {
      tone: 'bad', heading: t('error.' + kind + '.heading'), body: t('error.' + kind + '.body'),
      buttons: buttons || [{ label: t('button.new_check'), primary: true, onClick: () => finish('FAILED', true) }],
    });
    root.dataset.error = kind;
  }

  /* ---- camera ------------------------------------------------------------------------------------------- */
  let stream = null;

  const CAMERA_ERRORS = {
    NotAllowedError: 'permission_denied', SecurityError: 'permission_denied', PermissionDeniedError: 'permission_denied',
    NotFoundError: 'no_camera', DevicesNotFoundError: 'no_camera', OverconstrainedError: 'no_camera',
    NotReadableError: 'camera_in_use', TrackStartError: 'camera_in_use', AbortError: 'camera_in_use',
  };

  async function openCamera() {
    show('camera', { heading: t('camera.waiting'), focus: false });
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return cameraFailed('no_camera');
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false, video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
      });
    } catch (err) {
      return cameraFailed(CAMERA_ERRORS[err && err.name] || 'camera_in_use');
    }
    ui.video.srcObject = stream;
    showStart();
    connect();
  }

  function cameraFailed(kind) {
    // Nothing was sent to the server yet: the same session can still be used after the user fixes it.
    showError(kind, [{ label: t('button.retry'), primary: true, onClick: openCamera }]);
  }

  /* ---- the start step ----------------------------------------------------------------------------------- */
  let startButton = null;

  function showStart() {
    show('start', {
      stage: true, heading: t('start.heading'), body: t('start.body'),
      buttons: [{ id: 'lc-start', label: t('start.connecting'), primary: true, disabled: true, onClick: pressStart }],
    });
    startButton = $('lc-start');
  }

  function enableStart() {
    if (!startButton) return;
    startButton.textContent = t('start.button');
    startButton.disabled = false;
    startButton.focus();
  }

  /* ---- live check over WebRTC --------------------------------------------------------------------------- */
  let pc = null;
  let channel = null;
  let finished = false;
  let connected = false;
  let lastError = '';
  let connectTimer = 0;

  function apiUrl(path) { return config.apiBase + path; }
  function authHeaders(extra) { return Object.assign({ Authorization: 'Bearer ' + token }, extra || {}); }

  function waitForIce(peer, limitMs) {
    if (peer.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); peer.removeEventListener('icegatheringstatechange', check); resolve(); };
      const check = () => { if (peer.iceGatheringState === 'complete') done(); };
      const timer = setTimeout(done, limitMs);
      peer.addEventListener('icegatheringstatechange', check);
    });
  }

  /** Maps an HTTP failure of the session endpoints onto one of the widget's error screens. */
  async function sessionProblem(res) {
    const body = await res.json().catch(() => ({}));
    const code = String((body && body.error && body.error.code) || body.code || '');
    if (window.console) console.warn('livecheck: the server refused the request: HTTP ' + res.status + ' ' + code);
    if (/expired/.test(code) || res.status === 410) return 'session_expired';
    if (/used|already|consumed|started|conflict/.test(code) || res.status === 409 || res.status === 401 || res.status === 403) return 'session_used';
    if (res.status === 404) return 'session_expired';
    return 'generic';
  }

  async function connect() {
    if (typeof RTCPeerConnection === 'undefined') return startFallback();
    try {
      pc = new RTCPeerConnection({ iceServers: config.iceServers });
      for (const track of stream.getVideoTracks()) pc.addTrack(track, stream);
      channel = pc.createDataChannel('livecheck', { ordered: true });
      channel.onopen = onChannelOpen;
      channel.onmessage = (event) => onServerMessage(event.data);
      channel.onclose = () => { if (connected && !finished) showError('network'); };
      pc.onconnectionstatechange = onConnectionState;
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIce(pc, 3000);
      if (!/\r\na=candidate:/.test(pc.localDescription.sdp)) {
        // Not one network path to offer: WebRTC cannot connect. Record instead (the token is still unused).
        return startFallback();
      }
      const res = await fetch(apiUrl('/v1/sessions/' + encodeURIComponent(config.sessionId) + '/offer'), {
        method: 'POST', headers: authHeaders({ 'Content-Type': 'application/json' }), credentials: 'omit',
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
      });
      if (!res.ok) return showError(await sessionProblem(res));
      await pc.setRemoteDescription(await res.json());
      connectTimer = setTimeout(() => { if (!connected) startFallback(); }, config.connectTimeoutMs);
    } catch (err) {
      if (!finished) showError(navigator.onLine === false ? 'network' : 'generic');
    }
  }

  function onConnectionState() {
    const state = pc && pc.connectionState;
    if (state === 'failed' && !connected && !finished) startFallback();
    else if ((state === 'failed' || state === 'disconnected') && connected && !finished) {
      // A short 'disconnected' can recover; give it a moment before calling the check lost.
      setTimeout(() => { if (pc && pc.connectionState !== 'connected' && !finished) showError('network'); },
        state === 'failed' ? 0 : 4000);
    }
  }

  function onChannelOpen() {
    connected = true;
    clearTimeout(connectTimer);
    enableStart();
  }

  function pressStart() {
    if (!channel || channel.readyState !== 'open') return;
    send({ type: 'ready' });
    showCheck();
  }

  function send(message) {
    if (channel && channel.readyState === 'open') channel.send(JSON.stringify(Object.assign({ v: PROTOCOL_VERSION }, message)));
  }

  function showCheck() {
    show('check', {
      stage: true, progress: true, heading: t('check.heading'),
      buttons: [{ label: t('check.cancel'), onClick: cancel }], focus: false,
    });
    ui.prompt.textContent = t('check.positioning');
    ui.heading.focus();
  }

  function cancel() {
    send({ type: 'cancel' });
    if (!channel || channel.readyState !== 'open') finish('FAILED');
  }

  function onServerMessage(raw) {
    if (typeof raw !== 'string' || raw.length > 4096) return;
    const msg = parseJson(raw, null);
    if (!msg || msg.v !== PROTOCOL_VERSION || finished) return;
    switch (msg.type) {
      case 'state': return onState(String(msg.state));
      case 'feedback': return setFeedback(String(msg.code));
      case 'prompt': return showPrompt(String(msg.action), Number(msg.index), Number(msg.total), Number(msg.deadline_ms));
      case 'progress': return setProgress(Number(msg.completed), Number(msg.total));
      case 'result': return finish(msg.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED');
      case 'error': return onServerError(String(msg.code));
      default: return undefined; // unknown types are ignored (protocol v1)
    }
  }

  function onState(state) {
    root.dataset.phase = state;
    if (state === 'positioning') ui.prompt.textContent = t('check.positioning');
    if (state === 'deciding') { hideCue(); ui.prompt.textContent = t('check.deciding'); }
    if (state === 'positioning' || state === 'challenge' || state === 'deciding') notify('progress', state);
  }

  function onServerError(code) {
    lastError = code;
    if (/expired/.test(code)) showError('session_expired');
    else if (/used|already/.test(code)) showError('session_used');
  }

  let lastFeedback = '';
  function setFeedback(code) {
    if (code === lastFeedback) return;
    lastFeedback = code;
    root.dataset.feedback = code;
    ui.feedback.textContent = code === 'ok' ? '' : t('feedback.' + code);
  }

  /* ---- prompts, countdown, progress (shared by live and recorded checks) --------------------------------- */
  let countdownTimer = 0;

  function showPrompt(action, index, total, deadlineMs) {
    root.dataset.phase = 'challenge';
    root.dataset.action = action;
    ui.prompt.textContent = t('prompt.' + action);
    ui.cueUse.setAttribute('href', '#icon-' + action);
    ui.cue.hidden = false;
    ui.cue.dataset.action = action;
    setStep(index + 1, total);
    setProgress(index, total, false);
    startCountdown(deadlineMs);
  }

  function startCountdown(ms) {
    clearInterval(countdownTimer);
    const ends = performance.now() + Math.max(0, ms);
    const tick = () => {
      const left = Math.max(0, Math.ceil((ends - performance.now()) / 1000));
      ui.countdown.textContent = String(left);
      ui.countdown.setAttribute('aria-label', t('check.seconds', { seconds: left }));
      if (left <= 0) clearInterval(countdownTimer);
    };
    tick();
    countdownTimer = setInterval(tick, 250);
  }

  function hideCue() {
    clearInterval(countdownTimer);
    ui.cue.hidden = true;
    delete root.dataset.action;
  }

  function setStep(current, total) {
    ui.step.textContent = t('check.step', { current: Math.min(current, total), total: total });
  }

  function setProgress(completed, total, announce) {
    if (!(total > 0)) return;
    ui.bar.setAttribute('aria-valuemax', String(total));
    ui.bar.setAttribute('aria-valuenow', String(completed));
    ui.barFill.style.width = Math.round(100 * completed / total) + '%';
    if (announce !== false) {
      if (completed >= total) hideCue();
      notify('progress', 'challenge');
    }
  }

  /* ---- the end -------------------------------------------------------------------------------------------- */
  function stopEverything() {
    clearTimeout(connectTimer);
    clearTimeout(fallbackTimer);
    hideCue();
    if (recorder && recorder.state !== 'inactive') { try { recorder.stop(); } catch (e) { /* already stopped */ } }
    if (channel) { channel.onclose = null; try { channel.close(); } catch (e) { /* closed */ } }
    if (pc) { pc.onconnectionstatechange = null; try { pc.close(); } catch (e) { /* closed */ } }
    if (stream) for (const track of stream.getTracks()) track.stop();
    ui.video.srcObject = null;
  }

  function finish(status, silent) {
    if (finished) return;
    finished = true;
    stopEverything();
    notify('completed', status);
    if (silent) return;
    if (status === 'SUCCEEDED') {
      show('result', { tone: 'good', heading: t('result.passed.heading'), body: t('result.passed.body') });
      root.dataset.result = 'passed';
    } else {
      // Not passed; the way forward is a new check. Running out of time gets its own, more hopeful, sentence.
      const slow = lastError === 'timeout' || lastFeedback === 'too_slow';
      show('result', {
        tone: 'bad', heading: t('result.failed.heading'), body: t(slow ? 'result.retry.body' : 'result.failed.body'),
        next: t('result.failed.next'),
      });
      root.dataset.result = 'failed';
    }
  }

  /* ---- recording fallback: prompts released one at a time by the server, recorded, uploaded, decided there ----
   * Only when the integrator allowed it for this session (otherwise the WebRTC-failed screen). The server's clock is
   * the recording's: the widget says when recording started, asks for each prompt when the server says it is due,
   * and uploads by the deadline. It never learns a prompt before it is due. */
  let recorder = null;
  let fallbackStarted = false;
  let fallbackAbandoned = false;
  let fallbackTimer = 0;
  let promptTotal = 0;
  const fallbackAllowed = root.dataset.recordingFallback === 'on';

  function recorderType() {
    if (typeof MediaRecorder === 'undefined') return null;
    for (const type of ['video/webm;codecs=vp8', 'video/webm;codecs=vp9', 'video/webm', 'video/mp4']) {
      if (MediaRecorder.isTypeSupported(type)) return type;
    }
    return null;
  }

  async function startFallback() {
    if (fallbackStarted || finished) return;
    fallbackStarted = true;
    clearTimeout(connectTimer);
    if (channel) { channel.onclose = null; try { channel.close(); } catch (e) { /* closed */ } }
    if (pc) { pc.onconnectionstatechange = null; try { pc.close(); } catch (e) { /* closed */ } }
    const type = recorderType();
    if (!fallbackAllowed || !type) return showError('webrtc_failed');
    root.dataset.mode = 'recording';
    show('start', {
      stage: true, heading: t('start.heading'), body: t('fallback.notice'),
      buttons: [{ id: 'lc-start', label: t('start.button'), primary: true, onClick: () => record(type) }],
    });
    startButton = $('lc-start');
  }

  function fallbackUrl(suffix) {
    return apiUrl('/v1/sessions/' + encodeURIComponent(config.sessionId) + '/fallback' + suffix);
  }

  function fallbackCall(method, suffix) {
    return fetch(fallbackUrl(suffix), { method: method, headers: authHeaders(), credentials: 'omit' });
  }

  /** Gives up on the recording: nothing is uploaded; the error screen says what happened. */
  function abandon(kind) {
    fallbackAbandoned = true;
    clearTimeout(fallbackTimer);
    showError(kind);
  }

  function record(type) {
    const chunks = [];
    recorder = new MediaRecorder(steadyStream(), { mimeType: type, videoBitsPerSecond: 1000000 });
    recorder.ondataavailable = (event) => { if (event.data && event.data.size) chunks.push(event.data); };
    recorder.onstop = () => {
      if (!finished && !fallbackAbandoned) upload(new Blob(chunks, { type: type.split(';')[0] }));
    };
    showCheck();
    setButtons([]);
    ui.rec.hidden = false;
    ui.rec.textContent = t('fallback.recording');
    recorder.onstart = async () => {
      ui.prompt.textContent = t('check.positioning');
      notify('progress', 'challenge');
      try {
        const res = await fallbackCall('POST', ''); // the recording started: from now on, the server's clock
        if (!res.ok) return abandon(await sessionProblem(res));
        const plan = await res.json();
        promptTotal = Number(plan.total) || 0;
        followPlan(plan);
      } catch (err) {
        abandon('network');
      }
    };
    recorder.start(1000);
  }

  /** Sets the timer for the next step from the server's answer (`elapsed_ms` on its clock when it answered). */
  function followPlan(plan) {
    clearTimeout(fallbackTimer);
    const startedAt = performance.now() - (Number(plan.elapsed_ms) || 0);
    const at = (ms) => Math.max(0, startedAt + Number(ms) - performance.now());
    if (plan.next_prompt_ms !== null && plan.next_prompt_ms !== undefined) {
      fallbackTimer = setTimeout(askNext, at(plan.next_prompt_ms));
    } else if (plan.stop_at_ms !== null && plan.stop_at_ms !== undefined) {
      fallbackTimer = setTimeout(stopRecording, at(plan.stop_at_ms));
    }
  }

  async function askNext() {
    if (finished || fallbackAbandoned || !recorder || recorder.state === 'inactive') return;
    try {
      const res = await fallbackCall('POST', '/next');
      if (res.status === 409) {
        const body = await res.clone().json().catch(() => ({}));
        if (body && body.error && body.error.code === 'prompt_not_due') {
          // our timer ran early: ask the server where the recording stands and wait for the prompt
          const state = await fallbackCall('GET', '');
          if (state.ok) return followPlan(await state.json());
        }
      }
      if (!res.ok) return abandon(await sessionProblem(res));
      const prompt = await res.json();
      setProgress(Number(prompt.index), promptTotal, Number(prompt.index) > 0);
      showPrompt(String(prompt.action), Number(prompt.index), promptTotal, Number(prompt.deadline_ms));
      followPlan(prompt);
    } catch (err) {
      abandon('network');
    }
  }

  function stopRecording() {
    setProgress(promptTotal, promptTotal);
    if (recorder && recorder.state !== 'inactive') recorder.stop();
  }

  /** The camera redrawn at a fixed 15 fps and at most 640 px: a small upload with a regular frame rate (cameras
   * and MediaRecorder produce variable rates that container headers misreport). Falls back to the camera itself. */
  const RECORD_FPS = 15;
  let drawTimer = 0;
  function steadyStream() {
    const canvas = document.createElement('canvas');
    if (!canvas.captureStream || !ui.video.videoWidth) return stream;
    const scale = Math.min(1, 640 / Math.max(ui.video.videoWidth, ui.video.videoHeight));
    canvas.width = Math.round(ui.video.videoWidth * scale / 2) * 2;
    canvas.height = Math.round(ui.video.videoHeight * scale / 2) * 2;
    const context = canvas.getContext('2d');
    const draw = () => context.drawImage(ui.video, 0, 0, canvas.width, canvas.height);
    draw();
    drawTimer = setInterval(draw, 1000 / RECORD_FPS);
    return canvas.captureStream(RECORD_FPS);
  }

  async function upload(blob) {
    clearInterval(drawTimer);
    ui.rec.hidden = true;
    hideCue();
    for (const track of stream.getTracks()) track.stop();
    show('uploading', { heading: t('fallback.uploading'), progress: false });
    notify('progress', 'deciding');
    try {
      const res = await fetch(apiUrl('/v1/sessions/' + encodeURIComponent(config.sessionId) + '/recording'), {
        method: 'POST', headers: authHeaders({ 'Content-Type': blob.type || 'video/webm' }), credentials: 'omit', body: blob,
      });
      if (!res.ok) return showError(await sessionProblem(res));
      const body = await res.json();
      finish(body.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED');
    } catch (err) {
      showError('network');
    }
  }

  /* ---- start-up ------------------------------------------------------------------------------------------- */
  window.addEventListener('offline', () => { if (connected && !finished) showError('network'); });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && root.dataset.screen === 'check' && !fallbackStarted) cancel();
  });

  async function main() {
    const lang = pickLanguage(config.languages);
    try {
      fallbackStrings = await loadCatalog('en');
      strings = lang === 'en' ? fallbackStrings : await loadCatalog(lang);
    } catch (err) { /* keys show through; the check still works */ }
    document.documentElement.lang = strings.lang || lang;
    document.title = t('title');
    if (KNOWN_PROBLEMS.includes(root.dataset.problem)) return showError(root.dataset.problem);
    if (!token) return showError('session_used');
    notify('ready', 'ready');
    show('intro', {
      heading: t('intro.heading'), body: t('intro.body'),
      buttons: [{ id: 'lc-camera', label: t('intro.button'), primary: true, onClick: openCamera }],
    });
  }

  main();
})();
