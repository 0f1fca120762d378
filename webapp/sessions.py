"""Live-check session routes: integrators create and read sessions (API key); the widget/client exchanges SDP
or uses the recording fallback with the session's one-time client token. See docs/protocol.md."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from quart import Blueprint, Quart, current_app, jsonify, request

from realtime.registry import SessionError, SessionOptions, SessionRegistry
from webapp import errors
from webapp.app import services
from webapp.auth import bearer_token, require_key
from webapp.errors import ApiError
from webapp.signing import key_id, result_claims, sign

blueprint = Blueprint("sessions", __name__)
errors.install(blueprint)
REGISTRY = "sessions"  # key in Services.extras
MAX_REFERENCE_BYTES = 5 * 1024 * 1024
MAX_ORIGINS = 16


def registry(app: Quart | None = None) -> SessionRegistry:
    """The app's one session registry, created on first use inside the serving event loop."""
    svc = services(app)
    found = svc.extras.get(REGISTRY)
    if found is None:
        found = SessionRegistry(svc.engine, svc.config.realtime)
        found.start()
        svc.extras[REGISTRY] = found
    return found  # type: ignore[no-any-return]


@blueprint.after_app_serving
async def _close_registry() -> None:
    found = services(current_app).extras.pop(REGISTRY, None)
    if found is not None:
        await found.close()


@blueprint.errorhandler(SessionError)
async def _session_error(exc: SessionError) -> Any:
    response = jsonify({"error": {"code": exc.code, "message": exc.message}})
    response.status_code = exc.status
    if exc.code == "too_many_sessions":
        response.headers["Retry-After"] = "5"
    return response


async def _json() -> dict[str, Any]:
    body = await request.get_json(force=True, silent=True)
    if body is None and (await request.get_data()):
        raise ApiError(errors.BAD_REQUEST, "The body must be a JSON object.")
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(errors.BAD_REQUEST, "The body must be a JSON object.")
    return body


def _options(body: dict[str, Any], owner: str | None = None) -> SessionOptions:
    def bad(message: str) -> ApiError:
        return ApiError("invalid_session_options", message, 400)

    count = body.get("action_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise bad("action_count must be an integer.")
    actions = body.get("actions")
    if actions is not None and (not isinstance(actions, list) or not all(isinstance(a, str) for a in actions)):
        raise bad("actions must be a list of action names.")
    origins = body.get("allowed_origins", [])
    if not isinstance(origins, list) or len(origins) > MAX_ORIGINS or not all(
            isinstance(o, str) and o.startswith(("https://", "http://")) for o in origins):
        raise bad(f"allowed_origins must be a list of at most {MAX_ORIGINS} http(s) origins.")
    ttl = body.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
        raise bad("ttl must be a number of seconds.")
    audit = body.get("audit_images", False)
    if not isinstance(audit, bool):
        raise bad("audit_images must be true or false.")
    reference = None
    photo = body.get("reference_photo")
    if photo is not None:
        if not isinstance(photo, str) or len(photo) > MAX_REFERENCE_BYTES * 4 // 3 + 4:
            raise bad(f"reference_photo must be base64 of at most {MAX_REFERENCE_BYTES} bytes.")
        try:
            reference = base64.b64decode(photo.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            raise bad("reference_photo is not valid base64.") from None
    return SessionOptions(
        action_count=count, actions=tuple(actions) if actions is not None else None, reference_photo=reference,
        allowed_origins=tuple(o.rstrip("/") for o in origins), ttl_s=float(ttl) if ttl is not None else None,
        audit_images=audit, owner=owner,
    )


def _client_token(body: dict[str, Any] | None = None) -> str | None:
    token = bearer_token(request)
    if token is None and body is not None and isinstance(body.get("token"), str):
        token = body["token"]
    return token


@blueprint.post("/v1/sessions")
async def create_session() -> Any:
    svc = services()
    api_key = require_key(svc.keys, request)
    options = _options(await _json(), owner=key_id(api_key))
    reg = registry()
    reference = None
    if options.reference_photo is not None:
        reference = await svc.pool.run(reg.embed_reference, options.reference_photo)
    session, token = reg.create(options, reference)
    base = (svc.config.server.public_url or request.host_url).rstrip("/")
    response = jsonify({
        "session_id": session.id,
        "client_token": token,
        "widget_url": f"{base}/widget/{session.id}#token={token}",
        "expires_at": int(session.expires_at_wall),
        "status": session.status,
    })
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/v1/sessions/<session_id>")
async def get_session(session_id: str) -> Any:
    api_key = require_key(services().keys, request)
    view = registry().get(session_id, owner=key_id(api_key)).public()
    if "result" in view:
        view["signed_result"] = sign(result_claims(view), api_key)
    response = jsonify(view)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/v1/sessions/<session_id>/offer")
async def offer(session_id: str) -> Any:
    body = await _json()
    sdp, kind = body.get("sdp"), body.get("type", "offer")
    if not isinstance(sdp, str) or not isinstance(kind, str):
        raise SessionError("invalid_offer", "Expected {\"sdp\": ..., \"type\": \"offer\"}.", 400)
    answer = await registry().offer(session_id, _client_token(body), sdp, kind)
    return jsonify(answer)


@blueprint.get("/v1/sessions/<session_id>/fallback")
async def fallback_schedule(session_id: str) -> Any:
    """The recording fallback's prompt schedule (claims the session, like an offer)."""
    steps = await registry().fallback_schedule(session_id, _client_token())
    return jsonify({"session_id": session_id, "actions": [s.to_dict() for s in steps],
                    "total_ms": max((s.end_ms for s in steps), default=0) + 1000, "issued_at": int(time.time())})


@blueprint.post("/v1/sessions/<session_id>/recording")
async def recording(session_id: str) -> Any:
    """The recording of the fallback schedule: raw video bytes (or multipart field `video`)."""
    files = await request.files
    data = files["video"].read() if "video" in files else await request.get_data()
    svc = services()
    session = await registry().decide_recording(session_id, _client_token(), data, run=svc.pool.run)
    return jsonify({"session_id": session.id, "status": session.status})
