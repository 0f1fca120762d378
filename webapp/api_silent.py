"""Silent image verification compatible: `POST /identity/silent_image_verification/stateless`.

Liveness of the video plus a face comparison with the photo, through the same engine call (reference photo).

Encryption: the document's sample builds `AESCipher(32-char key, 12-char IV)`. 32 bytes is an AES-256 key and
12 bytes is exactly GCM's standard nonce size (CBC/CFB/CTR take 16-byte IVs), so the likely reading is
AES-256-GCM: field = base64(ciphertext || 16-byte tag), key and nonce the UTF-8 bytes of the configured strings
(`server.silent-aes-key`, `server.silent-aes-iv`). With no key configured the fields are plain base64.
The document's curl sample (`-d encrypted_video=<base64>`) sends base64 unescaped in a form body, where `+` means
a space: base64 has no spaces, so spaces in a field are read back as `+` (field_bytes).

Limits: the document sets none for the video (no fps, resolution or length), so only decoding-cost bounds apply
(MediaLimits.without_rate_and_resolution; the configured length and size). 2003 "invalid image size" is the
photo's code: a video beyond the decoding bounds answers 4007. `[silent] require-key = false` serves the
document's keyless clients.

auto_rotate: the photo may be stored turned 90/180/270 degrees without an EXIF tag (the tag itself is always
honoured); the engine finds the upright turn (scoring.orientation). check_quality: the photo's eyes, nose and mouth
must lie inside the picture (4004, the one kind of occlusion that can be told soundly) and the face must be at least
80 px wide (2003), checked before the video is decoded (scoring.photo_check).

Errors: every failure on this API's paths, a wrong method (405) and an unknown path under /identity/ (404)
included, is the document's {"code", "message", "request_id"} with the table's message exactly; what livecheck
knows beyond it goes to X-Livecheck-Detail and the log (webapp.error_detail).
"""

from __future__ import annotations

from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from quart import Blueprint, Response, jsonify, request

from scoring import errors as codes
from scoring.engine import AnalysisOptions
from scoring.errors import InputError
from scoring.image_header import ImageFormat, image_format
from scoring.media import decode_image
from scoring.photo_check import FACE_CUT_OFF, FACE_TOO_SMALL, photo_problem
from scoring.reasons import Reason
from webapp import error_detail, errors
from webapp.analysis import analyze, b64, decode_b64, face_png, photo_jpeg
from webapp.api_findface import METHOD_NOT_ALLOWED
from webapp.auth import require_key
from webapp.errors import BAD_REQUEST, DECRYPT_FAILED, NOT_FOUND, ApiError, Failure
from webapp.services import request_id, services
from webapp.uploads import FRAMING_BYTES, base64_chars, limit_body, require_type

blueprint = Blueprint("silent", __name__)
ENDPOINT = "silent"
NO_FACE_IN_IMAGE = "no_face_in_image"
LIVENESS_CHECK_FAILED = "liveness_check_failed"
VIDEO_RESOLUTION = "video_resolution_too_high"  # the video's, not the photo's (2003)
PATH = "/identity/silent_image_verification/stateless"
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE"]


class LivenessStatus(StrEnum):
    """`liveness_status` with return_status: the seed's three values."""

    OK = "ok"
    HACK = "hack"  # judged not alive
    SHORT_TIME = "short_time"  # the video is too short to judge


# livecheck code -> (system code, HTTP status, message)
SYSTEM_CODES: dict[str, tuple[int, int, str]] = {
    BAD_REQUEST: (1200, 400, "invalid argument"),
    DECRYPT_FAILED: (1200, 400, "invalid argument"),
    errors.UNSUPPORTED_CONTENT_TYPE: (1200, 400, "invalid argument"),
    codes.EMPTY_INPUT: (1200, 400, "invalid argument"),
    errors.UNAUTHORIZED: (1200, 401, "invalid argument"),
    codes.RESOLUTION_TOO_HIGH: (2003, 400, "invalid image size"),
    codes.INPUT_TOO_LARGE: (2004, 400, "invalid content length"),
    errors.BODY_TOO_LARGE: (2004, 413, "invalid content length"),
    codes.UNSUPPORTED_MEDIA: (2005, 400, "invalid image type or corrupted"),
    codes.CORRUPT_MEDIA: (2005, 400, "invalid image type or corrupted"),
    codes.EXPECTED_IMAGE: (2005, 400, "invalid image type or corrupted"),
    codes.EXPECTED_VIDEO: (2005, 400, "invalid image type or corrupted"),
    NO_FACE_IN_IMAGE: (4000, 400, "detection failed"),
    FACE_TOO_SMALL: (2003, 400, "invalid image size"),
    FACE_CUT_OFF: (4004, 400, "face occlusion"),
    LIVENESS_CHECK_FAILED: (4007, 400, "liveness silent check failed"),
    codes.VIDEO_TOO_LONG: (4007, 400, "liveness silent check failed"),
    codes.FPS_TOO_HIGH: (4007, 400, "liveness silent check failed"),
    VIDEO_RESOLUTION: (4007, 400, "liveness silent check failed"),
    NOT_FOUND: (1200, 404, "invalid argument"),
    METHOD_NOT_ALLOWED: (1200, 405, "invalid argument"),
    errors.BUSY: (1200, 503, "service busy"),
}


def render(failure: Failure) -> tuple[object, int]:
    """The document's body: its code and message exactly (the detail is not in it)."""
    code, status, message = SYSTEM_CODES.get(failure.code, (1200, failure.status, "invalid argument"))
    return {"code": code, "message": message, "request_id": request_id()}, status


def respond(failure: Failure, retry_after_s: int | None = None) -> Response:
    body, status = render(failure)
    response = jsonify(body)
    response.status_code = status
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return error_detail.attach(response, ENDPOINT, body["code"], failure.message)  # type: ignore[index]


async def _handle(exc: Exception) -> Response:
    failure = errors.failure_of(exc)
    return respond(failure, failure.retry_after_s)


errors.install_handler(blueprint, _handle)


def field_bytes(text: str) -> bytes:
    """Base64 of a form field. A form body decodes an unescaped `+` as a space (curl -d with raw base64, as in the
    document's sample); base64 never contains spaces, so they are read as `+` first, and only when that is not
    valid base64 are they dropped as whitespace. Raises ValueError."""
    if " " in text:
        try:
            return decode_b64(text.replace(" ", "+"))
        except ValueError:
            pass
    return decode_b64(text)


def decrypt(field: str, text: object, key: str, iv: str) -> bytes:
    if not isinstance(text, str) or not text.strip():
        raise ApiError(BAD_REQUEST, f"{field} is required.")
    try:
        raw = field_bytes(text)
    except ValueError:
        raise ApiError(DECRYPT_FAILED, f"{field} is not valid base64.") from None
    if not key:
        return raw
    try:
        return AESGCM(key.encode()).decrypt(iv.encode(), raw, None)
    except (InvalidTag, ValueError):
        raise ApiError(DECRYPT_FAILED, f"{field} could not be decrypted with the configured key.") from None


def encrypt(data: bytes, key: str, iv: str) -> str:
    """The client side of the scheme (for tests and docs)."""
    return b64(AESGCM(key.encode()).encrypt(iv.encode(), data, None) if key else data)


def _flag(fields: dict[str, str], name: str) -> bool:
    return str(fields.get(name, "false")).lower() in ("1", "true", "yes", "on")


@blueprint.route(PATH, methods=OTHER_METHODS)
async def wrong_method() -> Response:
    """Clients of this API parse {"code", "message", "request_id"} on every error, a wrong method included."""
    response = respond(Failure(METHOD_NOT_ALLOWED, f"{request.method} is not allowed here; use POST.", 405))
    response.headers["Allow"] = "POST"
    return response


@blueprint.route("/identity/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def not_found(rest: str) -> Response:
    """Any other path under /identity/ is this API's 404, in its shape."""
    return respond(Failure(NOT_FOUND, f"No endpoint /identity/{rest}.", 404))


@blueprint.post(PATH)
async def stateless() -> Response:
    svc = services()
    require_key(svc.keys, request, required=svc.config.silent.require_key)
    limits = svc.config.engine.limits.without_rate_and_resolution()
    limit_body(request, base64_chars(limits.video_size + limits.image_size) + FRAMING_BYTES)
    require_type(request, "application/x-www-form-urlencoded", "multipart/form-data")
    fields = {k: v for k, v in (await request.form).items()}
    server = svc.config.server
    video = decrypt("encrypted_video", fields.get("encrypted_video"), server.silent_aes_key, server.silent_aes_iv)
    image = decrypt("encrypted_image", fields.get("encrypted_image"), server.silent_aes_key, server.silent_aes_iv)
    if len(image) > limits.image_size:
        raise ApiError(codes.INPUT_TOO_LARGE, f"The image is larger than {limits.image_size} bytes.")
    if image_format(image) not in (ImageFormat.JPEG, ImageFormat.PNG, ImageFormat.BMP):
        raise ApiError(codes.UNSUPPORTED_MEDIA, "encrypted_image is not a JPEG, PNG or BMP.")
    auto_rotate = _flag(fields, "auto_rotate")
    known_embedding = None
    if not _flag(fields, "check_quality"):
        await svc.pool.run(decode_image, image, limits)  # the photo's size/format errors (2003/2005) before the video
    else:  # photo_face decodes the photo first: the same errors
        photo = await svc.pool.run(svc.engine.photo_face, image, auto_rotate)
        if photo is None:
            raise ApiError(NO_FACE_IN_IMAGE, "no face in the photo")
        problem = photo_problem(photo.face, photo.width, photo.height)
        if problem is not None:
            raise ApiError(problem.code, problem.message)
        known_embedding = photo.face.embedding  # the engine need not find this face again
    options = AnalysisOptions(reference=image, auto_rotate=auto_rotate, reference_embedding=known_embedding)
    try:
        verdict = await analyze(svc, ENDPOINT, video, options, limits=limits, kind="video")
    except InputError as exc:
        if exc.code == codes.RESOLUTION_TOO_HIGH:  # the photo passed above: this is the video's
            raise ApiError(VIDEO_RESOLUTION, exc.message) from None
        raise
    if Reason.REFERENCE_NO_FACE in verdict.reasons:
        raise ApiError(NO_FACE_IN_IMAGE, "no face in the photo")
    if {Reason.NO_FACE, Reason.TOO_FEW_FRAMES, Reason.MULTIPLE_FACES} & set(
        verdict.reasons
    ) and Reason.SHORT_TIME not in verdict.reasons:
        raise ApiError(LIVENESS_CHECK_FAILED, "no usable face in the video")
    passed = verdict.alive
    body: dict[str, object] = {
        "code": 1000,
        "passed": passed,
        # the calibrated probability of a live face: >= 0.5 exactly when passed (docs/api.md "Silent")
        "liveness_score": round(verdict.score_on(0.5, svc.config.engine.liveness_threshold), 6),
        "request_id": request_id(),
    }
    if _flag(fields, "return_status"):
        short = Reason.SHORT_TIME in verdict.reasons
        body["liveness_status"] = (
            LivenessStatus.OK if passed else (LivenessStatus.SHORT_TIME if short else LivenessStatus.HACK)
        )
    if passed and verdict.match is not None:
        body["verification_score"] = round(verdict.match.score, 6)
    if passed and _flag(fields, "return_image") and verdict.best_face is not None:
        body["image_timestamp"] = round(verdict.best_face.timestamp_s, 3)
        body["base64_image"] = b64(photo_jpeg(verdict, svc.config.engine.fullframe_jpeg_quality) or b"")
    if passed and _flag(fields, "return_face_image") and verdict.best_face is not None:
        body["base64_face_image"] = b64(face_png(verdict) or b"")
    return jsonify(body)
