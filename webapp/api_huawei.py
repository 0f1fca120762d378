"""Huawei Cloud FRS LiveDetect compatible: `POST /v2/{project_id}/live-detect`.

Action codes: 1 turn left, 2 turn right, 3 nod, 4 mouth movement (Huawei's), 5 blink, 6 smile (livecheck's).
Limits are the document's only: 8 MB (of base64 text for video_base64 and video_url, "the video size after Base64
encoding"; of the file for video_file) and 1-15 s. It sets no frame-rate or resolution limit, so portrait phone
video and 60 fps pass; only decoding-cost bounds remain (MediaLimits.without_rate_and_resolution).

Every failure is {"error_code", "error_msg"} with the code, HTTP status and message of Huawei's public FRS error
table (FRS_TABLE; `%s` is the parameter or header the message names, as Huawei fills it); what livecheck knows
beyond that goes to the X-Livecheck-Detail header and the log (webapp.error_detail). Credentials follow
`[huawei] auth` (webapp.huawei_auth), checked before the body is read.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from quart import Blueprint, Response, jsonify, request

from scoring import actions as scoring_actions
from scoring import errors as codes
from scoring.actions import Action
from scoring.engine import AnalysisOptions
from scoring.reasons import Reason
from scoring.settings import FaceSelector
from webapp import error_detail, errors
from webapp.analysis import analyze, b64, decode_b64, photo_jpeg
from webapp.auth import Unauthorized, require_key
from webapp.errors import BAD_REQUEST, ApiError
from webapp.fetch import video_fetcher
from webapp.huawei_auth import AkSkVerifier, AuthFailure, Authorization, HuaweiAuth, SignedRequest, parse_pairs
from webapp.services import Services, services
from webapp.uploads import (
    FRAMING_BYTES,
    base64_bytes,
    body_bytes,
    json_object,
    limit_body,
    media_type,
    require_type,
)

blueprint = Blueprint("huawei", __name__)
ENDPOINT = "huawei"
MAX_VIDEO_BYTES = 8 * 1024 * 1024  # of base64 text (video_base64, video_url) or of the file (video_file)
MIN_SECONDS, MAX_SECONDS = 1.0, 15.0
MAX_ACTIONS = 10  # FRS.0704 "The number of action exceed 10."
ACTION_CODES: dict[int, Action] = {
    1: Action.TURN_LEFT,
    2: Action.TURN_RIGHT,
    3: Action.NOD,
    4: Action.OPEN_MOUTH,
    5: Action.BLINK,
    6: Action.SMILE,
}
CODE_OF_ACTION: dict[str, int] = {name: code for code, name in ACTION_CODES.items()}


class Frs(StrEnum):
    """The FRS codes this API answers with, each in Huawei's public error table."""

    AUTH_FAILED = "FRS.0002"
    HEADER_MISSING = "FRS.0010"
    PARAMETER_MISSING = "FRS.0011"
    PARAMETER_FORMAT = "FRS.0012"
    SIZE = "FRS.0013"
    NOT_JSON = "FRS.0014"
    INNER_ERROR = "FRS.0018"
    VIDEO_PARSE = "FRS.0701"
    ACTION_UNSUPPORTED = "FRS.0702"
    TOO_MANY_ACTIONS = "FRS.0704"
    VIDEO_TIME = "FRS.0706"


# Huawei's table: HTTP status and error_msg as published (%s: the parameter or header the message names).
FRS_TABLE: dict[Frs, tuple[int, str]] = {
    Frs.AUTH_FAILED: (403, "The authentication token is abnormal."),
    Frs.HEADER_MISSING: (400, "Lack Header or Header %s is empty."),
    Frs.PARAMETER_MISSING: (400, "Lack the request parameter, or the request parameter %s is empty."),
    Frs.PARAMETER_FORMAT: (400, "The request param has wrong format, %s"),
    Frs.SIZE: (400, "The face image size is too large or too small."),
    Frs.NOT_JSON: (400, "The input is not in JSON format."),
    Frs.INNER_ERROR: (500, "The service inner error."),  # busy: 503 + Retry-After instead (STATUS_OVERRIDE)
    Frs.VIDEO_PARSE: (400, "Parse video data failed."),
    Frs.ACTION_UNSUPPORTED: (400, "Do not support action %s."),
    Frs.TOO_MANY_ACTIONS: (400, "The number of action exceed 10."),
    Frs.VIDEO_TIME: (400, "Video time %s."),
}
VIDEO_FIELDS = "video_base64/video_file/video_url"
FALLBACK_ERROR = Frs.PARAMETER_FORMAT  # a livecheck code with no row below (none today)
# livecheck code -> (FRS code, what its %s names)
ERROR_CODES: dict[str, tuple[Frs, str]] = {
    errors.UNAUTHORIZED: (Frs.AUTH_FAILED, ""),
    BAD_REQUEST: (Frs.PARAMETER_FORMAT, "body"),
    codes.INVALID_ACTIONS: (Frs.PARAMETER_FORMAT, "action_time"),  # the engine's window checks
    errors.UNSUPPORTED_CONTENT_TYPE: (Frs.PARAMETER_FORMAT, "Content-Type"),
    codes.EMPTY_INPUT: (Frs.PARAMETER_MISSING, VIDEO_FIELDS),
    codes.CORRUPT_MEDIA: (Frs.VIDEO_PARSE, ""),
    codes.UNSUPPORTED_MEDIA: (Frs.VIDEO_PARSE, ""),
    codes.EXPECTED_VIDEO: (Frs.VIDEO_PARSE, ""),
    codes.FPS_TOO_HIGH: (Frs.VIDEO_PARSE, ""),
    errors.FETCH_FAILED: (Frs.VIDEO_PARSE, ""),
    errors.BODY_TOO_LARGE: (Frs.SIZE, ""),
    codes.INPUT_TOO_LARGE: (Frs.SIZE, ""),
    codes.RESOLUTION_TOO_HIGH: (Frs.SIZE, ""),
    codes.VIDEO_TOO_LONG: (Frs.VIDEO_TIME, "is not in [1, 15] s"),
    codes.VIDEO_TOO_SHORT: (Frs.VIDEO_TIME, "is not in [1, 15] s"),
    errors.URL_NOT_ALLOWED: (Frs.PARAMETER_FORMAT, "video_url"),
    errors.BUSY: (Frs.INNER_ERROR, ""),
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


class HuaweiError(Exception):
    """A failure this adapter names by its FRS code itself; `detail` goes to X-Livecheck-Detail, never the body."""

    def __init__(self, frs: Frs, detail: str, param: str = "") -> None:
        super().__init__(detail)
        self.frs = frs
        self.detail = detail
        self.param = param


# The table has no row for "busy": it is answered with the inner-error code and message but 503 + Retry-After, so
# clients and load balancers retry it and a 500 stays what it means everywhere in livecheck (a bug).
STATUS_OVERRIDE: dict[str, int] = {errors.BUSY: 503}


def error_body(frs: Frs, param: str = "") -> tuple[dict[str, str], int]:
    status, template = FRS_TABLE[frs]
    return {"error_code": frs.value, "error_msg": template.replace("%s", param)}, status


async def _handle(exc: Exception) -> Response:
    retry_after = None
    if isinstance(exc, HuaweiError):
        frs, param, detail = exc.frs, exc.param, exc.detail
    else:
        failure = errors.failure_of(exc)
        frs, param = ERROR_CODES.get(failure.code, (FALLBACK_ERROR, "body"))
        detail, retry_after = failure.message, failure.retry_after_s
    body, status = error_body(frs, param)
    if not isinstance(exc, HuaweiError):
        status = STATUS_OVERRIDE.get(failure.code, status)
    response = jsonify(body)
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return error_detail.attach(response, ENDPOINT, frs.value, detail)


errors.install_handler(blueprint, _handle, also=(HuaweiError,))


def parse_actions(text: object) -> tuple[Action, ...]:
    if not isinstance(text, str) or not text.strip():
        raise HuaweiError(Frs.PARAMETER_MISSING, 'actions is required, e.g. "1,3,2".', "actions")
    names = []
    for part in text.split(","):
        try:
            number = int(part.strip())
        except ValueError:
            raise HuaweiError(Frs.PARAMETER_FORMAT, f"action {part.strip()!r} is not a number.", "actions") from None
        if number not in ACTION_CODES:
            raise HuaweiError(Frs.ACTION_UNSUPPORTED, "Action codes are 1-6.", str(number))
        names.append(ACTION_CODES[number])
    if len(names) > MAX_ACTIONS:
        raise HuaweiError(Frs.TOO_MANY_ACTIONS, f"{len(names)} actions given.")
    return tuple(names)


def parse_windows(value: object) -> tuple[tuple[int, int], ...] | None:
    """action_time is a string ("1000-3000,4000-7000"); anything else (a JSON array, say) is refused with
    FRS.0012 like a malformed string, never silently ignored."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise HuaweiError(
            Frs.PARAMETER_FORMAT, 'action_time must be a string such as "1000-3000,4000-7000".', "action_time"
        )
    try:
        return scoring_actions.parse_windows(value)
    except ValueError as exc:
        raise HuaweiError(Frs.PARAMETER_FORMAT, f"action_time: {exc}", "action_time") from None


def parse_nod(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise HuaweiError(Frs.PARAMETER_FORMAT, "nod_threshold must be a number.", "nod_threshold") from None
    if not 1 <= number <= 90:
        raise HuaweiError(Frs.PARAMETER_FORMAT, "nod_threshold must be from 1 to 90.", "nod_threshold")
    return number


def _signed_request() -> SignedRequest:
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.path
    headers = {name.lower(): value for name, value in request.headers.items()}
    return SignedRequest(request.method, path, request.query_string, headers)


def _verifier(svc: Services) -> AkSkVerifier:
    settings = svc.config.huawei
    return AkSkVerifier(parse_pairs(settings.access_keys), settings.max_clock_skew_s)


def authenticate(svc: Services) -> tuple[AkSkVerifier, SignedRequest, Authorization] | None:
    """The credential check that needs no body. For AK/SK it returns what check_body needs once the body is read."""
    mode = svc.config.huawei.auth
    if mode == HuaweiAuth.NONE:
        return None
    if mode == HuaweiAuth.TOKEN:
        try:
            require_key(svc.keys, request, request.headers.get("X-Auth-Token"))
        except Unauthorized as exc:
            if exc.missing:
                raise HuaweiError(Frs.HEADER_MISSING, "No X-Auth-Token (or Bearer key).", "X-Auth-Token") from None
            raise HuaweiError(Frs.AUTH_FAILED, "X-Auth-Token is not a configured API key.") from None
        return None
    verifier, signed = _verifier(svc), _signed_request()
    try:
        return verifier, signed, verifier.check_headers(signed)
    except AuthFailure as exc:
        if exc.missing:
            raise HuaweiError(Frs.HEADER_MISSING, exc.detail, exc.missing) from None
        raise HuaweiError(Frs.AUTH_FAILED, f"AK/SK: {exc.detail}") from None


async def read_fields(
    signing: tuple[AkSkVerifier, SignedRequest, Authorization] | None,
) -> tuple[dict[str, Any], bytes | None]:
    """The body's fields and the multipart video_file, after the AK/SK signature over the raw body is verified."""
    kind = media_type(request)
    if not kind:
        raise HuaweiError(Frs.HEADER_MISSING, "No Content-Type.", "Content-Type")
    kind = require_type(request, "application/json", "multipart/form-data")
    raw = await body_bytes(request)
    if signing is not None:
        verifier, signed, auth = signing
        try:
            verifier.check_body(signed, auth, raw)
        except AuthFailure as exc:
            raise HuaweiError(Frs.AUTH_FAILED, f"AK/SK: {exc.detail}") from None
    if kind == "application/json":
        try:
            return await json_object(request), None  # the body read above, cached
        except ApiError as exc:
            raise HuaweiError(Frs.NOT_JSON, exc.message) from None
    fields = dict((await request.form).items())
    files = await request.files
    storage = files.get("video_file")
    video = None
    if storage is not None:
        video = storage.read()
        storage.close()
    return fields, video


@blueprint.post("/v2/<project_id>/live-detect")
async def live_detect(project_id: str) -> Response:
    svc = services()
    signing = authenticate(svc)
    limit_body(request, MAX_VIDEO_BYTES + FRAMING_BYTES)  # 8 MB of base64 text or file, plus JSON/multipart framing
    fields, video = await read_fields(signing)
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
        raise ApiError(codes.EMPTY_INPUT, "No video: give video_base64, video_file or video_url.")
    if len(video) > MAX_VIDEO_BYTES:
        raise ApiError(codes.INPUT_TOO_LARGE, "The video is larger than 8 MB.")
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
