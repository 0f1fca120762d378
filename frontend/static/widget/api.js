/* The session endpoints this page calls with its client token (docs/api.md: offer, fallback, cancel, recording). */
import { ErrorScreen } from './constants.js';

export class SessionApi {
  constructor(apiBase, sessionId, token) {
    this.base = apiBase + '/v1/sessions/' + encodeURIComponent(sessionId);
    this.token = token;
  }

  headers(extra) { return Object.assign({ Authorization: 'Bearer ' + this.token }, extra || {}); }

  /** POST the SDP offer; the answer (on success) is the server's description. */
  offer(description) {
    return fetch(this.base + '/offer', {
      method: 'POST', headers: this.headers({ 'Content-Type': 'application/json' }), credentials: 'omit',
      body: JSON.stringify({ sdp: description.sdp, type: description.type }),
    });
  }

  /** The recording fallback: POST '' starts it, POST '/next' asks for the next prompt, GET '' where it stands. */
  fallback(method, suffix) {
    return fetch(this.base + '/fallback' + suffix, { method: method, headers: this.headers(), credentials: 'omit' });
  }

  /** The user cancelled where no data channel carries `cancel` (the recording fallback): the session ends
   * FAILED with reason `cancelled` now, not at the recording's deadline. */
  cancel() {
    return fetch(this.base + '/fallback/cancel', { method: 'POST', headers: this.headers(), credentials: 'omit' });
  }

  upload(blob) {
    return fetch(this.base + '/recording', {
      method: 'POST', headers: this.headers({ 'Content-Type': blob.type || 'video/webm' }), credentials: 'omit',
      body: blob,
    });
  }
}

/** An HTTP failure of the session endpoints -> the error screen. The status classes are the stable part
 * (docs/errors.md): 404/410 the session is gone, 401/403/409 its token cannot run (again). */
export async function sessionProblem(res) {
  const body = await res.json().catch(() => ({}));
  const code = String((body && body.error && body.error.code) || '');
  if (window.console) console.warn('livecheck: the server refused the request: HTTP ' + res.status + ' ' + code);
  if (res.status === 404 || res.status === 410) return ErrorScreen.SESSION_EXPIRED;
  if (res.status === 401 || res.status === 403 || res.status === 409) return ErrorScreen.SESSION_USED;
  return ErrorScreen.GENERIC;
}

/** The error code of a refused request, without consuming its body. */
export async function errorCode(res) {
  const body = await res.clone().json().catch(() => ({}));
  return String((body && body.error && body.error.code) || '');
}
