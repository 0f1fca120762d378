/* The live check's connection: one RTCPeerConnection sending the camera, one ordered data channel for the
 * protocol. It reports what happened through callbacks and decides nothing about screens. */
import { CHANNEL_LABEL, ErrorScreen } from './constants.js';
import { encode } from './protocol.js';
import { errorCode, sessionProblem } from './api.js';

const ICE_GATHERING_LIMIT_MS = 3000;
const DISCONNECTED_GRACE_MS = 4000; // a short 'disconnected' can recover; give it a moment
/** A node past its capacity answers the offer 503 `busy` + Retry-After (realtime/capacity.py): asked again this
 * many more times, each after its Retry-After (1-30 s), then the error screen. */
export const BUSY_RETRIES = 3;
const BUSY = 'busy';
const MAX_BUSY_WAIT_S = 30;

/** Seconds to wait from a busy answer's Retry-After (a number of seconds; an HTTP date or nothing: 1-5 s). */
export function busyWaitSeconds(retryAfter) {
  const seconds = parseInt(String(retryAfter || ''), 10);
  if (Number.isFinite(seconds) && seconds > 0) return Math.min(MAX_BUSY_WAIT_S, seconds);
  const date = Date.parse(String(retryAfter || ''));
  if (Number.isFinite(date)) return Math.min(MAX_BUSY_WAIT_S, Math.max(1, Math.ceil((date - Date.now()) / 1000)));
  return 5;
}

function waitForIce(peer, limitMs) {
  if (peer.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); peer.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (peer.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, limitMs);
    peer.addEventListener('icegatheringstatechange', check);
  });
}

export class LiveConnection {
  /** Callbacks: `onOpen()` the channel is open; `onMessage(raw)`; `onUnreachable()` WebRTC cannot connect from
   * here (nothing was spent: record instead); `onLost()` the connection dropped mid-check; `onProblem(kind)` an
   * error screen; `onBusy(seconds)` the server is busy: a promise that resolves when the offer may be sent again. */
  constructor(api, iceServers, connectTimeoutMs, callbacks) {
    this.api = api;
    this.iceServers = iceServers;
    this.connectTimeoutMs = connectTimeoutMs;
    this.on = callbacks;
    this.pc = null;
    this.channel = null;
    this.connected = false;
    this.closed = false;
    this.connectTimer = 0;
  }

  get open() { return !this.closed && this.channel !== null && this.channel.readyState === 'open'; }

  async connect(stream) {
    if (typeof RTCPeerConnection === 'undefined') return this.on.onUnreachable();
    try {
      const pc = this.pc = new RTCPeerConnection({ iceServers: this.iceServers });
      for (const track of stream.getVideoTracks()) pc.addTrack(track, stream);
      const channel = this.channel = pc.createDataChannel(CHANNEL_LABEL, { ordered: true });
      channel.onopen = () => this.opened();
      channel.onmessage = (event) => this.on.onMessage(event.data);
      channel.onclose = () => { if (this.connected && !this.closed) this.on.onLost(); };
      pc.onconnectionstatechange = () => this.stateChanged();
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIce(pc, ICE_GATHERING_LIMIT_MS);
      if (this.closed) return undefined;
      // Not one network path to offer: WebRTC cannot connect. The token is still unused.
      if (!/\r\na=candidate:/.test(pc.localDescription.sdp)) return this.on.onUnreachable();
      const res = await this.sendOffer(pc.localDescription);
      if (res === null) return undefined; // closed while waiting
      if (!res.ok) return this.on.onProblem(await sessionProblem(res));
      await pc.setRemoteDescription(await res.json());
      this.connectTimer = setTimeout(() => { if (!this.connected && !this.closed) this.on.onUnreachable(); },
        this.connectTimeoutMs);
    } catch (err) {
      if (!this.closed) this.on.onProblem(navigator.onLine === false ? ErrorScreen.NETWORK : ErrorScreen.GENERIC);
    }
    return undefined;
  }

  /** The offer, asked again after Retry-After while the node is busy (a few times): the session stays unused
   * meanwhile. The answer, or null when closed while waiting. */
  async sendOffer(description) {
    for (let retries = 0; ; retries += 1) {
      const res = await this.api.offer(description);
      if (res.ok || res.status !== 503 || retries >= BUSY_RETRIES || await errorCode(res) !== BUSY) return res;
      await this.on.onBusy(busyWaitSeconds(res.headers.get('Retry-After')));
      if (this.closed) return null;
    }
  }

  opened() {
    this.connected = true;
    clearTimeout(this.connectTimer);
    this.on.onOpen();
  }

  stateChanged() {
    const state = this.pc && this.pc.connectionState;
    if (this.closed) return;
    if (state === 'failed' && !this.connected) this.on.onUnreachable();
    else if ((state === 'failed' || state === 'disconnected') && this.connected) {
      setTimeout(() => { if (!this.closed && this.pc.connectionState !== 'connected') this.on.onLost(); },
        state === 'failed' ? 0 : DISCONNECTED_GRACE_MS);
    }
  }

  send(type) {
    if (this.open) this.channel.send(encode(type));
  }

  close() {
    this.closed = true;
    clearTimeout(this.connectTimer);
    if (this.channel) { this.channel.onclose = null; try { this.channel.close(); } catch (e) { /* closed */ } }
    if (this.pc) { this.pc.onconnectionstatechange = null; try { this.pc.close(); } catch (e) { /* closed */ } }
  }
}
