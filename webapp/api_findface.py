"""FindFace findface-liveness-api compatible: `POST /v1/video-liveness` and `GET /v1/detections/{id}`.

Errors use FindFace's shape {"code": "UPPER_CASE", "desc": "..."}; statuses follow errors.STATUS_BY_CODE, and a
wrong method on these routes answers 405 in the same shape. `best_face.photo` is the whole frame at source
resolution (upright), so `bbox` is in its pixels. `[findface] require-key = false` serves FindFace's keyless
clients (see KeylessSettings).
"""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from scoring.verdict import Verdict
from webapp import errors
from webapp.analysis import analyze, b64, face_png, photo_jpeg
from webapp.auth import require_key
from webapp.errors import NOT_FOUND, ApiError, Failure
from webapp.services import services
from webapp.signing import key_id
from webapp.uploads import body_bytes, limit_body, require_type

blueprint = Blueprint("findface", __name__)
ENDPOINT = "findface"
METHOD_NOT_ALLOWED = "method_not_allowed"
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE"]


def render(failure: Failure) -> tuple[object, int]:
    return {"code": failure.code.upper(), "desc": failure.message}, failure.status


errors.install(blueprint, render)


def _owner(api_key: str) -> str:
    """Whose detections: the key's public fingerprint ("" for a keyless client, `[findface] require-key = false`)."""
    return key_id(api_key) if api_key else ""


def _flag(name: str) -> bool:
    return request.args.get(name, "false").lower() in ("1", "true", "yes", "on")


@blueprint.post("/v1/video-liveness")
async def video_liveness() -> Response:
    svc = services()
    owner = _owner(require_key(svc.keys, request, required=svc.config.findface.require_key))
    limit_body(request, svc.config.engine.limits.video_size)
    require_type(request, "video/", "application/octet-stream")
    data = await body_bytes(request)
    verdict = await analyze(svc, ENDPOINT, data, kind="video")
    best = None
    if verdict.best_face is not None:
        face = verdict.best_face
        best = {
            "liveness": round(face.liveness, 6),
            "quality": round(face.quality.score, 6),
            "bbox": face.bbox.to_dict(),
            "frame_no": face.frame_no,
            "frame_ts": round(face.timestamp_s, 6),
        }
        if _flag("return_photo"):
            best["photo"] = b64(photo_jpeg(verdict, svc.config.engine.fullframe_jpeg_quality) or b"")
        if _flag("return_normalized"):
            best["normalized"] = b64(face_png(verdict) or b"")
        if _flag("return_detection"):
            best["detection_id"] = await svc.detections.put(
                {**best, "normalized": b64(face_png(verdict) or b"")}, owner
            )
    return jsonify({"alive": verdict.alive, "average_liveness": findface_liveness(verdict), "best_face": best})


FINDFACE_THRESHOLD = 0.95  # the liveness-threshold of FindFace's own documented ini


def findface_liveness(verdict: Verdict) -> float:
    """`average_liveness` on FindFace's scale: >= 0.95 exactly when livecheck's calibrated decision accepts (a
    client that applies its 0.95 to the number gets livecheck's answer; docs/api.md 'FindFace')."""
    return round(verdict.score_on(FINDFACE_THRESHOLD, services().config.engine.liveness_threshold), 6)


@blueprint.get("/v1/detections/<detection_id>")
async def detection(detection_id: str) -> Response:
    svc = services()
    owner = _owner(require_key(svc.keys, request, required=svc.config.findface.require_key))
    found = await svc.detections.get(detection_id, owner)
    if found is None:
        raise ApiError(NOT_FOUND, "No such detection (unknown or expired).")
    return jsonify({"id": detection_id, **{k: v for k, v in found.items() if k != "detection_id"}})


@blueprint.route("/v1/video-liveness", methods=OTHER_METHODS)
@blueprint.route("/v1/detections/<detection_id>", methods=["POST", "PUT", "PATCH", "DELETE"])
async def wrong_method(detection_id: str | None = None) -> Response:
    """FindFace clients parse {"code", "desc"} on every error, a wrong method included."""
    allowed = "GET" if detection_id is not None else "POST"
    body, status = render(Failure(METHOD_NOT_ALLOWED, f"{request.method} is not allowed here; use {allowed}.", 405))
    response = jsonify(body)
    response.status_code = status
    response.headers["Allow"] = allowed
    return response
