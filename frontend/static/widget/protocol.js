/* The data-channel protocol, version 1 (docs/protocol.md): JSON messages carrying `v` and `type`. */
import { MAX_MESSAGE_BYTES, MessageType, PROTOCOL_VERSION } from './constants.js';
import { parseJson } from './config.js';

/** A client message (`ready` or `cancel`) as sent on the channel. */
export function encode(type) {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: type });
}

/** Hands a server message to its handler with typed fields: `state(phase)`, `feedback(code)`,
 * `prompt(action, index, total, deadlineMs)`, `progress(completed, total)`, `light(color, index, total)`,
 * `result(status)`. Anything too big,
 * of another version or of an unknown type is ignored (protocol v1). */
export function dispatch(raw, handlers) {
  if (typeof raw !== 'string' || raw.length > MAX_MESSAGE_BYTES) return;
  const msg = parseJson(raw, null);
  if (!msg || msg.v !== PROTOCOL_VERSION) return;
  switch (msg.type) {
    case MessageType.STATE: return handlers.state(String(msg.state));
    case MessageType.FEEDBACK: return handlers.feedback(String(msg.code));
    case MessageType.PROMPT:
      return handlers.prompt(String(msg.action), Number(msg.index), Number(msg.total), Number(msg.deadline_ms));
    case MessageType.PROGRESS: return handlers.progress(Number(msg.completed), Number(msg.total));
    case MessageType.LIGHT: return handlers.light(String(msg.color), Number(msg.index), Number(msg.total));
    case MessageType.RESULT: return handlers.result(String(msg.status));
    default: return undefined;
  }
}
