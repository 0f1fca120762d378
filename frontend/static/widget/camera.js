/* The camera: getUserMedia, and its failures named as the error screens that tell the user what to do. */
import { ErrorScreen } from './constants.js';

/** DOMException names (current and legacy) -> the error screen. Anything else: the camera is busy. */
const CAMERA_ERRORS = Object.freeze({
  NotAllowedError: ErrorScreen.PERMISSION_DENIED, SecurityError: ErrorScreen.PERMISSION_DENIED,
  PermissionDeniedError: ErrorScreen.PERMISSION_DENIED,
  NotFoundError: ErrorScreen.NO_CAMERA, DevicesNotFoundError: ErrorScreen.NO_CAMERA,
  OverconstrainedError: ErrorScreen.NO_CAMERA,
  NotReadableError: ErrorScreen.CAMERA_IN_USE, TrackStartError: ErrorScreen.CAMERA_IN_USE,
  AbortError: ErrorScreen.CAMERA_IN_USE,
});

export class CameraError extends Error {
  constructor(kind) {
    super('camera: ' + kind);
    this.kind = kind;
  }
}

/** The front camera at about 640x480, no audio; throws CameraError with the screen to show. */
export async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new CameraError(ErrorScreen.NO_CAMERA);
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: false, video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (err) {
    throw new CameraError(CAMERA_ERRORS[err && err.name] || ErrorScreen.CAMERA_IN_USE);
  }
}

export function stopCamera(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}
