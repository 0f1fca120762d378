"""livecheck's own API: `POST /v1/analyze` returns the full verdict the CLI prints.

Body: raw (video/*, image/*, application/octet-stream) with options in the query string, or multipart/form-data
with a `media` file, an optional `reference` file and the same options as fields.
"""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from scoring import actions as scoring_actions
from scoring.engine import AnalysisOptions
from scoring.settings import FaceSelector
from webapp import errors
from webapp.analysis import analyze
from webapp.auth import require_key
from webapp.errors import BAD_REQUEST, ApiError
from webapp.services import request_id, services
from webapp.uploads import body_bytes, file_field, limit_body, require_type

blueprint = Blueprint("native", __name__)
errors.install(blueprint)
ENDPOINT = "native"


def parse_windows(text: str | None) -> tuple[tuple[int, int], ...] | None:
    """Huawei-style action_time, with a malformed value answered as a 400."""
    try:
        return scoring_actions.parse_windows(text)
    except ValueError as exc:
        raise ApiError(BAD_REQUEST, f"action_time: {exc}") from None


def options_from(fields: dict[str, str], reference: bytes | None) -> AnalysisOptions:
    actions = tuple(a.strip() for a in fields.get("actions", "").split(",") if a.strip())
    nod = fields.get("nod_threshold")
    try:
        nod_value = float(nod) if nod else None
    except ValueError:
        raise ApiError(BAD_REQUEST, "nod_threshold must be a number.") from None
    selector = fields.get("mf_selector") or None
    if selector is not None and selector not in tuple(FaceSelector):
        raise ApiError(BAD_REQUEST, f"mf_selector must be one of {', '.join(FaceSelector)}.")
    return AnalysisOptions(
        actions=actions,
        action_windows_ms=parse_windows(fields.get("action_time")),
        nod_threshold_deg=nod_value,
        reference=reference,
        mf_selector=selector,
    )


@blueprint.post("/v1/analyze")
async def analyze_media() -> Response:
    svc = services()
    require_key(svc.keys, request)
    limits = svc.config.engine.limits
    limit_body(request, max(limits.video_size, limits.image_size) * 2 + 64 * 1024)  # media + reference photo
    kind = require_type(request, "video/", "image/", "application/octet-stream", "multipart/form-data")
    if kind == "multipart/form-data":
        form = await request.form
        media = await file_field(request, "media")
        if media is None:
            raise ApiError(BAD_REQUEST, "multipart body needs a `media` file field.")
        reference = await file_field(request, "reference")
        fields = {k: v for k, v in form.items()}
    else:
        media = await body_bytes(request)
        reference = None
        fields = {k: v for k, v in request.args.items()}
    options = options_from(fields, reference)
    verdict = await analyze(svc, ENDPOINT, media, options)
    return jsonify({**verdict.to_dict(), "request_id": request_id()})
