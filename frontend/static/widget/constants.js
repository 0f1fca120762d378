/* The widget's vocabulary, defined once. The first group mirrors the server's enums value for value
 * (tests/webapp/test_widget_constants.py compares them); the second is the widget's own (screens, error screens, the
 * messages posted to the embedding page). Other modules use these names, never the strings themselves.
 *
 * Keep the format: `export const Name = Object.freeze({ KEY: 'value', ... });`, one constant per line; the test
 * parses it without a JavaScript engine.
 */

/* ---- mirrors of the server (realtime/protocol.py, realtime/status.py, scoring/actions.py, realtime/fallback.py) */

/** realtime.protocol: the data channel's version, label and the largest message the widget reads. */
export const PROTOCOL_VERSION = 1;
export const CHANNEL_LABEL = 'livecheck';
export const MAX_MESSAGE_BYTES = 4096;
/** realtime.protocol.LIGHT_OFF: a `light` message's colour once the sequence is over. */
export const LIGHT_OFF = 'off';

/** realtime.status.SessionStatus: a session's status (the `status` of `result` messages and API answers). */
export const SessionStatus = Object.freeze({
  CREATED: 'CREATED',
  IN_PROGRESS: 'IN_PROGRESS',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  EXPIRED: 'EXPIRED',
});

/** realtime.protocol.Phase: what a `state` message announces. */
export const Phase = Object.freeze({
  WAITING: 'waiting',
  POSITIONING: 'positioning',
  CHALLENGE: 'challenge',
  LIGHT: 'light',
  DECIDING: 'deciding',
  DONE: 'done',
});

/** realtime.protocol.FeedbackCode: what a `feedback` message asks the user to fix (`feedback.<code>` strings). */
export const FeedbackCode = Object.freeze({
  OK: 'ok',
  NO_FACE: 'no_face',
  MULTIPLE_FACES: 'multiple_faces',
  FACE_TOO_FAR: 'face_too_far',
  FACE_TOO_CLOSE: 'face_too_close',
  MOVE_INTO_OVAL: 'move_into_oval',
  TOO_DARK: 'too_dark',
  TOO_BRIGHT: 'too_bright',
  HOLD_STILL: 'hold_still',
  TOO_SLOW: 'too_slow',
  LOOK_STRAIGHT: 'look_straight',
});

/** scoring.actions.Action: what a prompt asks for (`prompt.<action>` strings, `#icon-<action>` symbols). */
export const Action = Object.freeze({
  TURN_LEFT: 'turn_left',
  TURN_RIGHT: 'turn_right',
  NOD: 'nod',
  BLINK: 'blink',
  OPEN_MOUTH: 'open_mouth',
  SMILE: 'smile',
});

/** realtime.protocol.MessageType: the `type` of data-channel messages, both directions. */
export const MessageType = Object.freeze({
  STATE: 'state',
  FEEDBACK: 'feedback',
  PROMPT: 'prompt',
  PROGRESS: 'progress',
  RESULT: 'result',
  READY: 'ready',
  CANCEL: 'cancel',
  LIGHT: 'light',
  NO_LIGHT: 'no_light',
});

/** scoring.light.LightColor: the colours a `light` message shows (light.js fills the screen with them). */
export const LightColor = Object.freeze({
  BLACK: 'black',
  WHITE: 'white',
  RED: 'red',
  YELLOW: 'yellow',
  LIME: 'lime',
  CYAN: 'cyan',
  BLUE: 'blue',
  MAGENTA: 'magenta',
});

/** realtime.fallback.FallbackCode: error codes of the recording fallback's endpoints. */
export const FallbackCode = Object.freeze({
  NOT_ALLOWED: 'fallback_not_allowed',
  NOT_STARTED: 'fallback_not_started',
  PROMPT_NOT_DUE: 'prompt_not_due',
  NO_MORE_PROMPTS: 'no_more_prompts',
  DEADLINE_PASSED: 'recording_deadline_passed',
  TIMELINE: 'recording_timeline',
  MOVED_BEFORE_PROMPT: 'moved_before_prompt',
  EMPTY_RECORDING: 'empty_recording',
  NOT_VIDEO: 'recording_not_video',
});

/* ---- the widget's own --------------------------------------------------------------------------------------- */

/** `data-screen` of the widget's root: which screen is showing. */
export const Screen = Object.freeze({
  LOADING: 'loading',
  INTRO: 'intro',
  CAMERA: 'camera',
  START: 'start',
  CHECK: 'check',
  UPLOADING: 'uploading',
  RESULT: 'result',
  ERROR: 'error',
});

/** `data-error` of the widget's root: each has `error.<kind>.heading` and `.body` strings. webapp/widget.py sends
 * the first two as `data-problem`. */
export const ErrorScreen = Object.freeze({
  SESSION_EXPIRED: 'session_expired',
  SESSION_USED: 'session_used',
  PERMISSION_DENIED: 'permission_denied',
  NO_CAMERA: 'no_camera',
  CAMERA_IN_USE: 'camera_in_use',
  WEBRTC_FAILED: 'webrtc_failed',
  NETWORK: 'network',
  INSECURE_CONTEXT: 'insecure_context',
  GENERIC: 'generic',
});

/** Messages posted to the embedding page as `livecheck:<type>` (embed.js, clients/js, listens for them). */
export const EmbedMessage = Object.freeze({
  READY: 'ready',
  PROGRESS: 'progress',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  ERROR: 'error',
  RETRY: 'retry',
  HEIGHT: 'height',
});

/** Messages the embedding page posts to the widget as `livecheck:<type>`. */
export const HostMessage = Object.freeze({
  VIEWPORT: 'viewport',
});

/** The colour scheme: `theme` in the URL fragment, else the browser's `prefers-color-scheme`. */
export const Theme = Object.freeze({
  AUTO: 'auto',
  LIGHT: 'light',
  DARK: 'dark',
});

/** `data-layout` of the root: the camera above the controls, or beside them on short landscape screens. */
export const Layout = Object.freeze({
  STACKED: 'stacked',
  WIDE: 'wide',
});
