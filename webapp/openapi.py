"""`GET /openapi.json`: every endpoint, its request and its response/error bodies (tests validate against it).

Every closed vocabulary (statuses, reasons, actions, error codes, the data channel's phases and feedback codes) is
generated from the enum that defines it, so the document cannot drift from the code (tests/test_vocabulary.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from quart import Blueprint, Response, jsonify

from realtime.errors import SessionCode
from realtime.fallback import FallbackCode
from realtime.modes import Assurance, SessionMode
from realtime.protocol import PROTOCOL_VERSION, FeedbackCode, MessageType, Phase
from realtime.reasons import LiveReason
from realtime.status import SessionStatus
from scoring.actions import Action
from scoring.errors import InputCode
from scoring.light import LightColor, LightOutcome
from scoring.reasons import Reason
from scoring.settings import FaceSelector
from webapp.api_findface import METHOD_NOT_ALLOWED
from webapp.api_huawei import ACTION_CODES, WARNING_CODES, Frs
from webapp.api_silent import SYSTEM_CODES, LivenessStatus
from webapp.errors import ApiCode
from webapp.ops import Readiness
from webapp.sessions import NO_ALLOWED_ORIGINS

blueprint = Blueprint("openapi", __name__)

NUM = {"type": "number"}
INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}


def enum(values: Iterable[str | int]) -> dict[str, Any]:
    """A JSON-schema enum of a vocabulary's values, deduplicated, in the order the vocabulary gives them."""
    out: list[str | int] = []
    for value in values:
        plain = value if isinstance(value, int) else str(value)
        if plain not in out:
            out.append(plain)
    return {"enum": out}


# The vocabularies, each from the one place that defines it.
ACTION_NAME = enum(Action)
SESSION_STATUS = enum(SessionStatus)
VERDICT_REASON = enum(Reason)
# A session's result adds the live check's own reasons, the fallback's, a refused recording's input code, and
# invalid_offer for an offer that passed validation but that the WebRTC stack could not answer.
SESSION_REASON = enum([*Reason, *LiveReason, *FallbackCode, *InputCode, SessionCode.INVALID_OFFER])
# {"error": {"code"}} of the native API and the session endpoints.
ERROR_CODE = enum([*InputCode, *ApiCode, *SessionCode, *FallbackCode, Reason.REFERENCE_NO_FACE])


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def reply(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, **json_content(schema)}


BBOX = obj({"left": INT, "top": INT, "right": INT, "bottom": INT})
NATIVE_ERROR = obj({"error": obj({"code": ERROR_CODE, "message": STR}, {"request_id": {"type": ["string", "null"]}})})
# FindFace upper-cases livecheck's codes (its own documents' style); Huawei maps them to FRS codes.
FINDFACE_ERROR = obj({"code": enum(c.upper() for c in [*InputCode, *ApiCode, METHOD_NOT_ALLOWED]), "desc": STR})
HUAWEI_ERROR = obj({"error_code": enum([code.value for code in Frs]), "error_msg": STR})
SILENT_ERROR = obj(
    {"code": enum(sorted({1200, *(code for code, _, _ in SYSTEM_CODES.values())})), "message": STR, "request_id": STR}
)
FACIA_ERROR = {"oneOf": [obj({"message": STR}), obj({"error": STR})]}
VERDICT = obj(
    {
        "kind": {"enum": ["video", "image"]},
        "alive": BOOL,
        "average_liveness": NUM,
        "reasons": {"type": "array", "items": VERDICT_REASON},
        "best_face": {
            "oneOf": [
                {"type": "null"},
                obj(
                    {"frame_no": INT, "timestamp_s": NUM, "bbox": BBOX, "quality": {"type": "object"}, "liveness": NUM}
                ),
            ]
        },
        "actions": {"type": "array", "items": obj({"action": ACTION_NAME, "passed": BOOL, "confidence": NUM})},
        "match": {"oneOf": [{"type": "null"}, obj({"score": NUM, "cosine": NUM, "same_person": BOOL})]},
        "frames": {"type": "object"},
        "duration_s": NUM,
        "timings_ms": {"type": "object"},
        "request_id": STR,
    },
)
FINDFACE_FACE = obj(
    {"liveness": NUM, "quality": NUM, "bbox": BBOX, "frame_no": INT, "frame_ts": NUM},
    {"detection_id": STR, "photo": STR, "normalized": STR},
)
FINDFACE_RESULT = obj(
    {"alive": BOOL, "average_liveness": NUM, "best_face": {"oneOf": [{"type": "null"}, FINDFACE_FACE]}}
)
HUAWEI_RESULT = obj(
    {
        "video-result": obj(
            {
                "alive": BOOL,
                "actions": {"type": "array", "items": obj({"action": enum(ACTION_CODES), "confidence": NUM})},
                "picture": STR,
            }
        ),
        "warning-list": {
            "type": "array",
            "items": obj({"warningCode": enum(WARNING_CODES.values()), "warningMsg": enum(WARNING_CODES)}),
        },
    }
)
FACIA_RESULT = obj(
    {"liveness_result": obj({"is_live": {"enum": [0, 1]}, "liveness_score": NUM}), "message": {"const": "Success"}}
)
SILENT_RESULT = obj(
    {"code": {"const": 1000}, "passed": BOOL, "liveness_score": NUM, "request_id": STR},
    {
        "liveness_status": enum(LivenessStatus),
        "verification_score": NUM,
        "image_timestamp": NUM,
        "base64_image": STR,
        "base64_face_image": STR,
    },
)
FLAG = {"in": "query", "schema": {"type": "boolean", "default": False}}
NULLABLE_NUM = {"oneOf": [{"type": "null"}, NUM]}
NULLABLE_INT = {"oneOf": [{"type": "null"}, INT]}
SESSION_OPTIONS = {
    "type": "object",
    "properties": {
        "action_count": {"type": "integer", "minimum": 0, "maximum": 6},
        "actions": {"type": "array", "items": ACTION_NAME, "maxItems": 6},
        "reference_photo": {
            "type": "string",
            "description": "base64 (or data URI) of a photo to match the face against",
        },
        "allowed_origins": {"type": "array", "items": STR, "maxItems": 16},
        "ttl": {"type": "number", "minimum": 1, "maximum": 3600},
        "audit_images": BOOL,
        "recording_fallback": {
            "type": "boolean",
            "default": False,
            "description": "allow the recording fallback when WebRTC fails (lower assurance)",
        },
        "light": {
            "type": "boolean",
            "description": "the light challenge after positioning (default: [realtime] light, off); "
            "docs/protocol.md 'Light challenge'",
        },
        "return_url": {
            "type": "string",
            "maxLength": 2048,
            "description": "where the widget's end screens lead when it is opened on its own (not in an iframe); "
            "must be on one of allowed_origins",
        },
    },
}
SESSION_WARNING = obj({"code": {"type": "string", "enum": [NO_ALLOWED_ORIGINS]}, "message": STR})
SESSION_CREATED = obj(
    {"session_id": STR, "client_token": STR, "widget_url": STR, "expires_at": INT, "status": SESSION_STATUS},
    {"warnings": {"type": "array", "items": SESSION_WARNING}},
)
SESSION_ACTION = obj(
    {"action": ACTION_NAME, "passed": BOOL, "confidence": NUM},
    {
        "prompted_s": NUM,
        "start_s": NULLABLE_NUM,
        "end_s": NULLABLE_NUM,
        "reaction_ms": NULLABLE_INT,
        "window_s": {"oneOf": [{"type": "null"}, {"type": "array", "items": NUM}]},
    },
)
SESSION_RESULT = obj(
    {"alive": BOOL, "reasons": {"type": "array", "items": SESSION_REASON}, "model_versions": {"type": "object"}},
    {
        "mode": enum(SessionMode),
        "assurance": enum(Assurance),
        "confidence": NUM,
        "average_liveness": NUM,
        "liveness_frames": INT,
        "actions": {"type": "array", "items": SESSION_ACTION},
        "best_face": {
            "oneOf": [
                {"type": "null"},
                obj(
                    {"timestamp_s": NUM, "bbox": BBOX, "quality": {"type": "object"}, "liveness": NUM},
                    {"frame_no": INT, "image_jpeg_b64": STR},
                ),
            ]
        },
        "audit_images": {"type": "array", "items": STR, "maxItems": 4},
        "match": {"oneOf": [{"type": "null"}, obj({"score": NUM, "cosine": NUM, "same_person": BOOL})]},
        "identity_min_cosine": NULLABLE_NUM,
        "frames_analyzed": INT,
        "duration_s": NUM,
        "score": {
            "oneOf": [{"type": "null"}, obj({"score": NUM, "logit": NUM, "parts": {"type": "object"}})],
            "description": "the calibrated score the decision weighed (docs/verdict.md 'The score')",
        },
        "light": {
            "oneOf": [
                {"type": "null"},
                obj(
                    {"outcome": enum(LightOutcome), "colors": {"type": "array", "items": enum(LightColor)}},
                    {
                        "frames": INT,
                        "lag_ms": NULLABLE_INT,
                        "correlation": NULLABLE_NUM,
                        "region_gains": {"type": "object", "additionalProperties": NUM},
                        "region_spread": NULLABLE_NUM,
                        "relief": NULLABLE_NUM,
                        "luma": NULLABLE_NUM,
                    },
                ),
            ]
        },
    },
)
SESSION = obj(
    {"session_id": STR, "status": SESSION_STATUS, "expires_at": INT},
    {
        "result": SESSION_RESULT,
        "signed_result": {
            "type": "string",
            "description": "Compact JWS (HS256, key = your API key) of the "
            "decision; see docs/protocol.md 'Signed results'.",
        },
    },
)
SDP = obj({"sdp": STR, "type": {"enum": ["offer", "answer"]}})
FALLBACK = obj(
    {
        "session_id": STR,
        "total": INT,
        "issued": INT,
        "elapsed_ms": INT,
        "next_prompt_ms": NULLABLE_INT,
        "stop_at_ms": NULLABLE_INT,
        "upload_by_ms": NULLABLE_INT,
    }
)
FALLBACK_PROMPT = {
    **FALLBACK,
    "required": FALLBACK["required"] + ["action", "index", "deadline_ms"],
    "properties": {**FALLBACK["properties"], "action": ACTION_NAME, "index": INT, "deadline_ms": INT},
}
SESSION_ID = {"name": "session_id", "in": "path", "required": True, "schema": STR}
# The data channel (docs/protocol.md): not HTTP, so described as schemas for clients written from this document.
CHANNEL_SCHEMAS: dict[str, Any] = {
    "ChannelMessageType": {**enum(MessageType), "description": "`type` of every data-channel message (both ways)."},
    "Phase": {**enum(Phase), "description": "`state` of a `state` message."},
    "FeedbackCode": {**enum(FeedbackCode), "description": "`code` of a `feedback` message."},
    "ChannelMessage": {
        "description": f"A data-channel message, protocol version {PROTOCOL_VERSION}.",
        "type": "object",
        "required": ["v", "type"],
        "properties": {
            "v": {"const": PROTOCOL_VERSION},
            "type": {"$ref": "#/components/schemas/ChannelMessageType"},
            "state": {"$ref": "#/components/schemas/Phase"},
            "code": {"$ref": "#/components/schemas/FeedbackCode"},
            "action": ACTION_NAME,
            "index": INT,
            "total": INT,
            "deadline_ms": INT,
            "completed": INT,
            "status": enum([SessionStatus.SUCCEEDED, SessionStatus.FAILED]),
        },
    },
    "Reason": {**SESSION_REASON, "description": "Every reason a verdict or a session result can give."},
    "ErrorCode": {**ERROR_CODE, "description": "`error.code` of the native API and the session endpoints."},
}


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def errors(schema: dict[str, Any], *statuses: int) -> dict[str, Any]:
    return {str(s): reply("error", schema) for s in statuses}


def _native_paths() -> dict[str, Any]:
    """The native API."""
    return {
        "/v1/analyze": {
            "post": {
                "summary": "Full verdict for a video or still (raw body or multipart media/reference).",
                "security": BEARER,
                "parameters": [
                    {"name": n, "in": "query", "schema": STR} for n in ("actions", "action_time", "nod_threshold")
                ]
                + [{"name": "mf_selector", "in": "query", "schema": enum(FaceSelector)}],
                "requestBody": {
                    "content": {
                        "video/*": {},
                        "image/*": {},
                        "application/octet-stream": {},
                        "multipart/form-data": {},
                    }
                },
                "responses": {
                    "200": reply("verdict", VERDICT),
                    **errors(NATIVE_ERROR, 400, 401, 413, 415, 422, 503),
                },
            }
        },
    }


def _findface_paths() -> dict[str, Any]:
    """FindFace's video liveness and its detections."""
    return {
        "/v1/video-liveness": {
            "post": {
                "summary": "FindFace findface-liveness-api compatible.",
                "security": BEARER,
                "parameters": [{"name": n, **FLAG} for n in ("return_detection", "return_normalized", "return_photo")],
                "requestBody": {"content": {"video/*": {}}},
                "responses": {
                    "200": reply("result", FINDFACE_RESULT),
                    **errors(FINDFACE_ERROR, 400, 401, 413, 415, 422, 503),
                },
            },
            **{
                m: {
                    "summary": "Wrong method: 405 in FindFace's error shape.",
                    "responses": errors(FINDFACE_ERROR, 405),
                }
                for m in ("get", "put", "patch", "delete")
            },
        },
        "/v1/detections/{detection_id}": {
            "get": {
                "summary": "A best face kept by return_detection, until it expires.",
                "security": BEARER,
                "parameters": [{"name": "detection_id", "in": "path", "required": True, "schema": STR}],
                "responses": {
                    "200": reply("detection", obj({"id": STR, "liveness": NUM, "bbox": BBOX})),
                    **errors(FINDFACE_ERROR, 401, 404),
                },
            },
            **{
                m: {
                    "summary": "Wrong method: 405 in FindFace's error shape.",
                    "responses": errors(FINDFACE_ERROR, 405),
                }
                for m in ("post", "put", "patch", "delete")
            },
        },
    }


def _huawei_paths() -> dict[str, Any]:
    """Huawei FRS live detection."""
    return {
        "/v2/{project_id}/live-detect": {
            "post": {
                "summary": "Huawei FRS LiveDetect compatible. actions: 1 left, 2 right, 3 nod, 4 mouth, 5 blink, 6 smile.",
                "security": BEARER + [{"X-Auth-Token": []}],
                "parameters": [{"name": "project_id", "in": "path", "required": True, "schema": STR}],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": obj(
                                {"actions": STR},
                                {"video_base64": STR, "video_url": STR, "action_time": STR, "nod_threshold": NUM},
                            )
                        },
                        "multipart/form-data": {
                            "schema": obj(
                                {"actions": STR}, {"video_file": STR, "action_time": STR, "nod_threshold": STR}
                            )
                        },
                    }
                },
                "responses": {"200": reply("result", HUAWEI_RESULT), **errors(HUAWEI_ERROR, 400, 403, 503)},
            }
        },
    }


def _facia_paths() -> dict[str, Any]:
    """Facia's liveness and status check."""
    return {
        "/liveness": {
            "post": {
                "summary": "Facia compatible: base64 data-URI selfie, hash_id = API key.",
                "requestBody": json_content(obj({"hash_id": STR, "selfie_image": STR})),
                "responses": {"201": reply("result", FACIA_RESULT), **errors(FACIA_ERROR, 400, 401, 413, 429, 503)},
            }
        },
        "/status_check": {
            "get": {
                "summary": "Facia: 'Services is live'.",
                "responses": {"200": {"description": "text", "content": {"text/plain": {"schema": STR}}}},
            }
        },
    }


def _silent_paths() -> dict[str, Any]:
    """The silent image verification, and its error shape under /identity/."""
    return {
        "/identity/silent_image_verification/stateless": {
            "post": {
                "summary": "Silent liveness + face comparison. Fields AES-256-GCM (base64 ciphertext||tag) or plain base64.",
                "security": BEARER,
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": obj(
                                {"encrypted_video": STR, "encrypted_image": STR},
                                {
                                    n: STR
                                    for n in (
                                        "auto_rotate",
                                        "check_quality",
                                        "return_image",
                                        "return_face_image",
                                        "return_status",
                                    )
                                },
                            )
                        }
                    }
                },
                "responses": {"200": reply("result", SILENT_RESULT), **errors(SILENT_ERROR, 400, 401, 413, 503)},
            },
            **{
                m: {
                    "summary": "Wrong method: 405 in the silent verification's error shape.",
                    "responses": errors(SILENT_ERROR, 405),
                }
                for m in ("get", "put", "patch", "delete")
            },
        },
        "/identity/{rest}": {
            m: {
                "summary": "Any other path under /identity/: 404 in the silent verification's error shape.",
                "parameters": [{"name": "rest", "in": "path", "required": True, "schema": STR}],
                "responses": errors(SILENT_ERROR, 404),
            }
            for m in ("get", "post", "put", "patch", "delete")
        },
    }


def _session_paths() -> dict[str, Any]:
    """Live-check sessions: the integrator's side, the widget's offer and the recording fallback."""
    return {**_session_live_paths(), **_session_fallback_paths()}


def _session_live_paths() -> dict[str, Any]:
    """The integrator creates and reads a session; the widget sends its WebRTC offer."""
    return {
        "/v1/sessions": {
            "post": {
                "summary": "Create a live-check session (integrator). The client token is shown once.",
                "security": BEARER,
                "requestBody": json_content(SESSION_OPTIONS),
                "responses": {"201": reply("session", SESSION_CREATED), **errors(NATIVE_ERROR, 400, 401, 413, 503)},
            }
        },
        "/v1/sessions/{session_id}": {
            "get": {
                "summary": "A session's status and, once decided, its result and signed_result (integrator; a "
                "session another API key created answers 404).",
                "security": BEARER,
                "parameters": [SESSION_ID],
                "responses": {"200": reply("session", SESSION), **errors(NATIVE_ERROR, 401, 404)},
            }
        },
        "/v1/sessions/{session_id}/offer": {
            "post": {
                "summary": "WebRTC SDP offer/answer; the session's client token as Bearer (header only).",
                "parameters": [SESSION_ID],
                "requestBody": json_content(obj({"sdp": STR}, {"type": {"const": "offer"}})),
                "responses": {
                    "200": reply("answer", SDP),
                    **errors(NATIVE_ERROR, 400, 403, 404, 409, 410, 413, 503),
                },
            }
        },
    }


def _session_fallback_paths() -> dict[str, Any]:
    """The recording fallback, step by step: start or read the plan, the next prompt, cancel, upload."""
    return {
        "/v1/sessions/{session_id}/fallback": {
            "post": {
                "summary": "Recording fallback: the client started recording (claims the session; also after an offer "
                "whose connection never delivered a frame). Only with recording_fallback: true at create.",
                "parameters": [SESSION_ID],
                "responses": {"200": reply("plan", FALLBACK), **errors(NATIVE_ERROR, 403, 404, 409, 410, 503)},
            },
            "get": {
                "summary": "Where the recording stands on the server's clock; reveals no prompt.",
                "parameters": [SESSION_ID],
                "responses": {"200": reply("plan", FALLBACK), **errors(NATIVE_ERROR, 403, 404, 409)},
            },
        },
        "/v1/sessions/{session_id}/fallback/next": {
            "post": {
                "summary": "The next prompt once it is due (409 prompt_not_due + Retry-After before).",
                "parameters": [SESSION_ID],
                "responses": {"200": reply("prompt", FALLBACK_PROMPT), **errors(NATIVE_ERROR, 403, 404, 409)},
            }
        },
        "/v1/sessions/{session_id}/fallback/cancel": {
            "post": {
                "summary": "The user cancelled (recording fallback, or before a connection delivered a frame): the "
                "session ends failed with reason cancelled.",
                "parameters": [SESSION_ID],
                "responses": {
                    "200": reply("cancelled", obj({"session_id": STR, "status": SESSION_STATUS})),
                    **errors(NATIVE_ERROR, 403, 404, 409),
                },
            }
        },
        "/v1/sessions/{session_id}/recording": {
            "post": {
                "summary": "The fallback recording (raw video body or multipart `video`); decides the session. A "
                "recording refused as bad media fails the session with the input error's code.",
                "parameters": [SESSION_ID],
                "requestBody": {"content": {"video/*": {}, "application/octet-stream": {}, "multipart/form-data": {}}},
                "responses": {
                    "200": reply("decided", obj({"session_id": STR, "status": SESSION_STATUS})),
                    **errors(NATIVE_ERROR, 400, 403, 404, 409, 410, 413, 415, 422, 503),
                },
            }
        },
    }


# /readyz's body (webapp/ops.py): `live` is the admission headroom a load balancer routes new checks by
# (realtime.capacity.Headroom.to_dict).
READINESS_FIELDS: dict[str, Any] = {
    "models": BOOL,
    "store": BOOL,
    "node": STR,
    "workers": INT,
    "in_flight": INT,
    "live": obj(
        {
            "capacity": INT,
            "running": INT,
            "headroom": INT,
            "behind": INT,
            "frame_ms": NUM,
            "guaranteed_fps": NUM,
            "frame_workers": INT,
        }
    ),
}


def _ops_paths() -> dict[str, Any]:
    """Operations: liveness, readiness, metrics and this document."""
    return {
        "/healthz": {"get": {"responses": {"200": reply("alive", obj({"status": {"const": "ok"}}))}}},
        "/readyz": {
            "get": {
                "responses": {
                    "200": reply("ready", obj(READINESS_FIELDS | {"status": {"const": Readiness.READY.value}})),
                    "503": reply("not ready", obj(READINESS_FIELDS | {"status": enum(Readiness)})),
                }
            }
        },
        "/metrics": {
            "get": {
                "responses": {"200": {"description": "Prometheus text", "content": {"text/plain": {"schema": STR}}}}
            }
        },
        "/openapi.json": {"get": {"responses": {"200": reply("this document", {"type": "object"})}}},
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "livecheck",
            "version": "1",
            "description": "Face liveness: native and seed-compatible APIs.",
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": CHANNEL_SCHEMAS},
        "paths": {
            **_native_paths(),
            **_findface_paths(),
            **_huawei_paths(),
            **_facia_paths(),
            **_silent_paths(),
            **_session_paths(),
            **_ops_paths(),
        },
    }


@blueprint.get("/openapi.json")
async def openapi() -> Response:
    return jsonify(document())
