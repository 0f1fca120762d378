"""Huawei Cloud FRS LiveDetect compatible: `POST /v2/{project_id}/live-detect`.

Action codes: 1 turn left, 2 turn right, 3 nod, 4 mouth movement (Huawei's), 5 blink, 6 smile (livecheck's).
Limits are the document's only: 8 MB (of base64 text for video_base64 and video_url, "the video size after Base64
encoding"; of the file for video_file) and 1-15 s. It sets no frame-rate or resolution limit, so portrait phone
video and 60 fps pass; only decoding-cost bounds remain (MediaLimits.without_rate_and_resolution). Every failure
is {"error_code": "FRS.0xxx", "error_msg"}; the table is ERROR_CODES below and in docs/api.md.
"""

from __future__ import annotations

from dataclasses import replace

from quart import Blueprint, Response, jsonify, request

from scoring import actions as scoring_actions
from scoring import errors as codes
from scoring.actions import Action
from scoring.engine import AnalysisOptions
from scoring.reasons import Reason
from scoring.settings import FaceSelector
from webapp import errors
from webapp.analysis import analyze, b64, decode_b64, photo_jpeg
from webapp.auth import require_key
from webapp.errors import BAD_REQUEST, ApiError, Failure
from webapp.fetch import video_fetcher
from webapp.services import services
from webapp.uploads import FRAMING_BYTES, base64_bytes, file_field, json_object, limit_body, require_type

blueprint = Blueprint("huawei", __name__)
ENDPOINT = "huawei"
MAX_VIDEO_BYTES = 8 * 1024 * 1024  # of base64 text (video_base64, video_url) or of the file (video_file)
MIN_SECONDS, MAX_SECONDS = 1.0, 15.0
ACTION_CODES: dict[int, Action] = {
    1: Action.TURN_LEFT,
    2: Action.TURN_RIGHT,
    3: Action.NOD,
    4: Action.OPEN_MOUTH,
    5: Action.BLINK,
    6: Action.SMILE,
}
CODE_OF_ACTION: dict[str, int] = {name: code for code, name in ACTION_CODES.items()}

FALLBACK_ERROR = "FRS.0010"  # a livecheck code with no FRS code of its own: "invalid request parameter"
# livecheck code -> (FRS code, HTTP status, message)
ERROR_CODES: dict[str, tuple[str, int, str]] = {
    errors.UNAUTHORIZED: ("FRS.0001", 401, "Authentication failed: X-Auth-Token or Bearer key missing or invalid."),
    BAD_REQUEST: (FALLBACK_ERROR, 400, "Invalid request parameter."),
    codes.INVALID_ACTIONS: ("FRS.0011", 400, "Invalid actions, action_time or nod_threshold."),
    errors.UNSUPPORTED_CONTENT_TYPE: ("FRS.0012", 400, "Content-Type must be application/json or multipart/form-data."),
    codes.EMPTY_INPUT: ("FRS.0013", 400, "No video: give video_base64, video_file or video_url."),
    codes.CORRUPT_MEDIA: ("FRS.0701", 400, "Parse video data failed."),
    codes.UNSUPPORTED_MEDIA: ("FRS.0701", 400, "Parse video data failed."),
    codes.EXPECTED_VIDEO: ("FRS.0701", 400, "Parse video data failed."),
    errors.BODY_TOO_LARGE: ("FRS.0702", 400, "The video exceeds 8 MB."),
    codes.INPUT_TOO_LARGE: ("FRS.0702", 400, "The video exceeds 8 MB."),
    codes.VIDEO_TOO_LONG: ("FRS.0703", 400, "The video duration must be 1 to 15 seconds."),
    codes.VIDEO_TOO_SHORT: ("FRS.0703", 400, "The video duration must be 1 to 15 seconds."),
    codes.FPS_TOO_HIGH: ("FRS.0704", 400, "The video frame rate or resolution exceeds the limits."),
    codes.RESOLUTION_TOO_HIGH: ("FRS.0704", 400, "The video frame rate or resolution exceeds the limits."),
    errors.URL_NOT_ALLOWED: ("FRS.0705", 400, "video_url is not allowed on this server."),
    errors.FETCH_FAILED: ("FRS.0706", 400, "video_url could not be fetched."),
    errors.BUSY: ("FRS.0503", 503, "The service is busy; retry later."),
}
# Reason codes reported in warning-list when a video is judged not alive.
# Huawei's own warning numbers are not in its document; these are livecheck's, stable once given.
WARNING_CODES: dict[Reason, int] = {
    Reason.NO_FACE: 1,
    Reason.MULTIPLE_FACES: 2,
    Reason.SHORT_TIME: 3,
    Reason.STATIC_VIDEO: 4,
    Reason.FACE_CHANGED: 5,
    Reason.LOW_LIVENESS: 6,
    Reason.ACTIONS_FAILED: 7,
    Reason.TOO_FEW_FRAMES: 8,
    Reason.LOOPED_VIDEO: 9,
    Reason.FLAT_FACE: 10,
}


def render(failure: Failure) -> tuple[object, int]:
    code, status, message = ERROR_CODES.get(failure.code, (FALLBACK_ERROR, 400, "Invalid request."))
    detail = failure.message if failure.message and failure.message != message else ""
    return {"error_code": code, "error_msg": f"{message} {detail}".strip()}, status


errors.install(blueprint, render)


def parse_actions(text: object) -> tuple[Action, ...]:
    if not isinstance(text, str) or not text.strip():
        raise ApiError(codes.INVALID_ACTIONS, 'actions is required, e.g. "1,3,2".')
    names = []
    for part in text.split(","):
        try:
            names.append(ACTION_CODES[int(part.strip())])
        except (ValueError, KeyError):
            raise ApiError(codes.INVALID_ACTIONS, f"Unknown action code {part.strip()!r}; use 1-6.") from None
    return tuple(names)


def parse_windows(value: object) -> tuple[tuple[int, int], ...] | None:
    """action_time is a string ("1000-3000,4000-7000"); anything else (a JSON array, say) is refused with
    FRS.0011 like a malformed string, never silently ignored."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(codes.INVALID_ACTIONS, 'action_time must be a string such as "1000-3000,4000-7000".')
    try:
        return scoring_actions.parse_windows(value)
    except ValueError as exc:
        raise ApiError(codes.INVALID_ACTIONS, f"action_time: {exc}") from None


def parse_nod(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ApiError(codes.INVALID_ACTIONS, "nod_threshold must be a number from 1 to 90.") from None
    if not 1 <= number <= 90:
        raise ApiError(codes.INVALID_ACTIONS, "nod_threshold must be from 1 to 90.")
    return number


@blueprint.post("/v2/<project_id>/live-detect")
async def live_detect(project_id: str) -> Response:
    svc = services()
    require_key(svc.keys, request, request.headers.get("X-Auth-Token"))
    limit_body(request, MAX_VIDEO_BYTES + FRAMING_BYTES)  # 8 MB of base64 text or file, plus JSON/multipart framing
    kind = require_type(request, "application/json", "multipart/form-data")
    video: bytes | None = None
    if kind == "application/json":
        fields = await json_object(request)
    else:
        fields = dict((await request.form).items())
        video = await file_field(request, "video_file")
    actions = parse_actions(fields.get("actions"))
    windows = parse_windows(fields.get("action_time"))
    options = AnalysisOptions(
        actions=actions,
        action_windows_ms=windows,
        nod_threshold_deg=parse_nod(fields.get("nod_threshold")),
        mf_selector=FaceSelector.BIGGEST,
        min_seconds=MIN_SECONDS,
    )
    if video is None and isinstance(fields.get("video_base64"), str):
        if len(fields["video_base64"]) > MAX_VIDEO_BYTES:
            raise ApiError(codes.INPUT_TOO_LARGE, "video_base64 is longer than 8 MB.")
        try:
            video = decode_b64(fields["video_base64"])
        except ValueError:
            raise ApiError(codes.CORRUPT_MEDIA, "video_base64 is not valid base64.") from None
    if video is None and isinstance(fields.get("video_url"), str):
        video = await video_fetcher().fetch(fields["video_url"], base64_bytes(MAX_VIDEO_BYTES))
    if not video:
        raise ApiError(codes.EMPTY_INPUT, "")
    if len(video) > MAX_VIDEO_BYTES:
        raise ApiError(codes.INPUT_TOO_LARGE, "")
    limits = replace(
        svc.config.engine.limits.without_rate_and_resolution(),
        video_size=MAX_VIDEO_BYTES,
        video_min_length_sec=MIN_SECONDS,
        video_length_sec=MAX_SECONDS,
    )
    verdict = await analyze(svc, ENDPOINT, video, options, limits=limits, kind="video")
    if Reason.SHORT_TIME in verdict.reasons:
        raise ApiError(codes.VIDEO_TOO_SHORT, f"The video lasts {verdict.duration_s:.2f} s.")
    picture = photo_jpeg(verdict, svc.config.engine.fullframe_jpeg_quality)
    return jsonify(
        {
            "video-result": {
                "alive": verdict.alive,
                "actions": [
                    {"action": CODE_OF_ACTION[a.action], "confidence": round(a.confidence, 4)} for a in verdict.actions
                ],
                "picture": b64(picture) if picture else "",
            },
            "warning-list": [
                {"warningCode": WARNING_CODES[Reason(r)], "warningMsg": r}
                for r in verdict.reasons
                if r in WARNING_CODES
            ],
        }
    )
