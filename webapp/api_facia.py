"""Facia on-premises compatible: `POST /liveness` (JSON, base64 data-URI selfie) and `GET /status_check`.

hash_id is the credential: it must be one of the configured API keys (Bearer also works). Error bodies are
Facia's exact ones; statuses for them are not in its document, so: 400 image errors, 401 credentials,
429 request limit (with Retry-After), 413 body too large, 503 busy.

The per-key request limit is the document's "Demo Limit Reached": off by default on a self-hosted server
(`server.facia-rate-limit-per-minute = 0`); when on, only accepted requests count (a refused or malformed one
does not). A valid photo over the pixel limit (a 24 MP phone JPEG) is downscaled while decoding, not refused.

The key is checked before the body is read (issue 19): a Bearer header at once; Facia's own `hash_id` when it is
the body's first member (as Facia's examples send it) as soon as the first bytes arrive, so a wrong one is 401
with the rest unread. Only a body whose hash_id comes later must be read (capped, parsed off the event loop) before
its key is known: at most UNAUTHENTICATED_READS such bodies are read at once, the next is 503 busy at once.
"""

from __future__ import annotations

import asyncio
import re

from quart import Blueprint, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestTimeout

from scoring import errors as codes
from scoring.image_header import ImageFormat, image_format
from webapp import errors
from webapp.analysis import analyze, decode_b64
from webapp.auth import bearer_token, require_key
from webapp.errors import BAD_REQUEST, RATE_LIMITED, ApiError, Failure
from webapp.services import services
from webapp.uploads import FRAMING_BYTES, base64_chars, json_object, limit_body, require_type
from webapp.workers import Busy

blueprint = Blueprint("facia", __name__)
ENDPOINT = "facia"
MISSING_IMAGE = {"error": "Selfie_image is required and must be a JPEG, JPG or PNG."}
CORRUPT_IMAGE = {"error": "Invalid or corrupt selfie image. Images must be in PNG, JPG, or JPEG format."}
INVALID_CREDENTIALS = {"message": "Invalid credentials"}
LIMIT_REACHED = {"message": "Your request limit has been reached."}
MISSING = "missing_image"
RETRY_AFTER_S = 60  # the limit's one-minute window: by then every request counted against it has left it
# `{"hash_id": "<key>"` as the body's first member, read from its first LEADING_BYTES (no API key is that long)
LEADING_HASH_ID = re.compile(rb'\A\s*\{\s*"hash_id"\s*:\s*"([^"\\]{1,256})"')
LEADING_BYTES = 512
FIRST_NAME = re.compile(rb'\A\s*\{\s*"([^"\\]{0,64})"')
NOT_OBJECT = re.compile(rb"\A\s*[^\s{]")
# Bodies read before their key is known (hash_id not first): each may be the whole cap (~14 MB), so few at once
UNAUTHENTICATED_READS = 2
READS = "livecheck.facia.unauthenticated_reads"


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


def first_hash_id(data: bytes) -> str | bool | None:
    """From a body's first bytes: its hash_id when that is its first member; False when it cannot be (another
    member, or not an object); None while the bytes so far cannot tell."""
    leading = LEADING_HASH_ID.match(data)
    if leading is not None:
        return leading.group(1).decode("utf-8", "replace")
    name = FIRST_NAME.match(data)
    if (name is not None and name.group(1) != b"hash_id") or NOT_OBJECT.match(data):
        return False
    return None


async def leading_hash_id(req: Request) -> str | None:
    """The body's hash_id if it is its first member, known from its first bytes once they have arrived; none of
    the body is consumed (it is still read whole later). Within the body timeout (408 past it)."""
    body = req.body

    async def decided() -> str | None:
        while True:
            data = bytes(body._data[:LEADING_BYTES])  # noqa: SLF001 - Quart's Body buffer, left as it is
            found = first_hash_id(data)
            if isinstance(found, str):
                return found
            if found is False or len(data) >= LEADING_BYTES or body._complete.is_set():  # noqa: SLF001
                return None
            body._has_data.clear()  # noqa: SLF001 - set again by the next chunk received
            await body._has_data.wait()  # noqa: SLF001

    try:
        return await asyncio.wait_for(decided(), timeout=req.body_timeout)
    except TimeoutError:
        raise RequestTimeout() from None


def unauthenticated_reads() -> asyncio.Semaphore:
    """The app's bound on bodies read before their key is known (one per app: each app has its own loop)."""
    found = current_app.extensions.get(READS)
    if found is None:
        found = current_app.extensions[READS] = asyncio.Semaphore(UNAUTHENTICATED_READS)
    return found  # type: ignore[no-any-return]


@blueprint.post("/liveness")
async def liveness() -> Response:
    svc = services()
    key = require_key(svc.keys, request) if bearer_token(request) is not None else None
    limit_body(request, base64_chars(svc.config.engine.limits.image_size) + FRAMING_BYTES)
    require_type(request, "application/json")
    if key is None:
        hash_id = await leading_hash_id(request)
        if hash_id is not None:  # Facia's credential first: checked before the rest of the body is read
            key = require_key(svc.keys, request, hash_id)
    if key is not None:
        body = await json_object(request)
    else:
        reads = unauthenticated_reads()
        if reads.locked():
            raise Busy(1, "Too many requests whose hash_id is not the body's first member are being read; retry.")
        async with reads:
            body = await json_object(request)
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
