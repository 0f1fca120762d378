"""Facia on-premises compatible: `POST /liveness` (JSON, base64 data-URI selfie) and `GET /status_check`.

hash_id is the credential: it must be one of the configured API keys (Bearer also works). Error bodies are
Facia's exact ones; statuses for them are not in its document, so: 400 image errors, 401 credentials,
429 request limit (with Retry-After), 413 body too large, 503 busy.

The per-key request limit is the document's "Demo Limit Reached": off by default on a self-hosted server
(`server.facia-rate-limit-per-minute = 0`); when on, only accepted requests count (a refused or malformed one
does not). A valid photo over the pixel limit (a 24 MP phone JPEG) is downscaled while decoding, not refused.
"""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from scoring import errors as codes
from scoring.image_header import ImageFormat, image_format
from webapp import errors
from webapp.analysis import analyze, decode_b64
from webapp.auth import bearer_token, require_key
from webapp.errors import BAD_REQUEST, RATE_LIMITED, ApiError, Failure
from webapp.services import services
from webapp.uploads import FRAMING_BYTES, base64_chars, json_object, limit_body, require_type

blueprint = Blueprint("facia", __name__)
ENDPOINT = "facia"
MISSING_IMAGE = {"error": "Selfie_image is required and must be a JPEG, JPG or PNG."}
CORRUPT_IMAGE = {"error": "Invalid or corrupt selfie image. Images must be in PNG, JPG, or JPEG format."}
INVALID_CREDENTIALS = {"message": "Invalid credentials"}
LIMIT_REACHED = {"message": "Your request limit has been reached."}
MISSING = "missing_image"
RETRY_AFTER_S = 60  # the limit's one-minute window: by then every request counted against it has left it


def render(failure: Failure) -> tuple[object, int]:
    if failure.code == errors.UNAUTHORIZED:
        return INVALID_CREDENTIALS, 401
    if failure.code == RATE_LIMITED:
        return LIMIT_REACHED, 429
    if failure.code == MISSING:
        return MISSING_IMAGE, 400
    if failure.code in (errors.BUSY, errors.BODY_TOO_LARGE):
        return {"message": failure.message}, failure.status
    if failure.code in (BAD_REQUEST, errors.UNSUPPORTED_CONTENT_TYPE):
        return {"error": failure.message}, 400
    return CORRUPT_IMAGE, 400  # every media failure: not a readable JPEG/PNG


errors.install(blueprint, render)


@blueprint.get("/status_check")
async def status_check() -> Response:
    return Response("Services is live", content_type="text/plain; charset=utf-8")


@blueprint.post("/liveness")
async def liveness() -> Response:
    svc = services()
    # A Bearer key is checked before the body is read; Facia's own credential (hash_id) is inside the JSON, so
    # such a body is read under the cap and parsed off the event loop (uploads.json_object) before it is checked.
    key = require_key(svc.keys, request) if bearer_token(request) is not None else None
    limit_body(request, base64_chars(svc.config.engine.limits.image_size) + FRAMING_BYTES)
    require_type(request, "application/json")
    body = await json_object(request)
    if key is None:
        hash_id = body.get("hash_id") if isinstance(body.get("hash_id"), str) else None
        key = require_key(svc.keys, request, hash_id)
    selfie = body.get("selfie_image")
    if not isinstance(selfie, str) or not selfie.strip():
        raise ApiError(MISSING, "")
    if selfie.startswith("data:") and selfie[5:].split(";")[0].lower() not in ("image/jpeg", "image/jpg", "image/png"):
        raise ApiError(codes.UNSUPPORTED_MEDIA, "")
    try:
        image = decode_b64(selfie)
    except ValueError:
        raise ApiError(codes.CORRUPT_MEDIA, "") from None
    if image_format(image) not in (ImageFormat.JPEG, ImageFormat.PNG):
        raise ApiError(codes.UNSUPPORTED_MEDIA, "")
    if not await svc.facia_limiter.allow(key):  # counted once the request is accepted
        payload, status = render(Failure(RATE_LIMITED, "request limit reached", 429))
        limited = jsonify(payload)
        limited.status_code = status
        limited.headers["Retry-After"] = str(RETRY_AFTER_S)
        return limited
    verdict = await analyze(svc, ENDPOINT, image, kind="image")
    score = round(verdict.best_face.liveness, 6) if verdict.best_face else 0.0
    response = jsonify(
        {"liveness_result": {"is_live": int(verdict.alive), "liveness_score": score}, "message": "Success"}
    )
    response.status_code = 201
    return response
