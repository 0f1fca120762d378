/* Messages to the embedding page (embed.js): only to the session's allowed origins, never '*', and nothing but
 * the session id and a status, so a hostile page learns nothing to tune an attack against. */
import { EmbedMessage } from './constants.js';

function post(sessionId, origins, type, status) {
  if (window.parent === window) return;
  const message = { type: 'livecheck:' + type, sessionId: sessionId, status: status };
  for (const origin of origins) {
    if (origin === '*') continue;
    try { window.parent.postMessage(message, origin); } catch (e) { /* a malformed origin: skip it */ }
  }
}

/** `ready()` once the widget can start, `progress(phase)` as the check goes on, `completed(status)` at the end. */
export function createNotifier(sessionId, origins) {
  return Object.freeze({
    ready: () => post(sessionId, origins, EmbedMessage.READY, EmbedMessage.READY),
    progress: (phase) => post(sessionId, origins, EmbedMessage.PROGRESS, phase),
    completed: (status) => post(sessionId, origins, EmbedMessage.COMPLETED, status),
  });
}
