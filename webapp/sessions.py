"""Live-check session routes: integrators create and read sessions (API key); the widget/client exchanges SDP
or uses the recording fallback with the session's one-time client token. See docs/protocol.md."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from quart import Blueprint, Quart, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from realtime.errors import SessionCode, SessionError
from realtime.fallback import FallbackPlan
from realtime.offer import MAX_OFFER_BYTES
from realtime.registry import SessionOptions, SessionRegistry
from webapp import errors
from webapp.analysis import decode_b64
from webapp.auth import bearer_token, require_key
from webapp.errors import ApiError
from webapp.origins import normalize_origin
from webapp.services import services
from webapp.signing import key_id, result_claims, result_signer
from webapp.uploads import (
    FRAMING_BYTES,
    base64_chars,
    body_bytes,
    file_field,
    json_object,
    limit_body,
    media_type,
)

blueprint = Blueprint("sessions", __name__)
errors.install(blueprint, also=(SessionError,))  # refused session operations in the native shape
MAX_REFERENCE_BYTES = 5 * 1024 * 1024
MAX_ORIGINS = 16
MAX_RETURN_URL_CHARS = 2048
NO_ALLOWED_ORIGINS = "no_allowed_origins"  # a `warnings` code of POST /v1/sessions
# What each route's body needs, capped before a byte is read: options with a base64 reference photo; an SDP offer
# (realtime.offer.MAX_OFFER_BYTES of SDP, JSON-escaped, and the type).
CREATE_BODY_BYTES = base64_chars(MAX_REFERENCE_BYTES) + FRAMING_BYTES
OFFER_BODY_BYTES = MAX_OFFER_BYTES + 4 * 1024
TOKEN_IN_HEADER = "Send the session's client token as Authorization: Bearer <client_token>."


def registry(app: Quart | None = None) -> SessionRegistry:
    """The app's one session registry (webapp.services.Services.sessions)."""
    return services(app).sessions()


def _not_draining() -> None:
    """New checks go to other nodes while this one shuts down (running ones and their uploads finish)."""
    if services().lifecycle.draining:
        raise SessionError(
            SessionCode.SERVER_DRAINING,
            "This server is shutting down; try again (another node will answer).",
            503,
            retry_after_s=1,
        )


async def _json(limit: int) -> dict[str, Any]:
    limit_body(request, limit)
    return await json_object(request, allow_empty=True)


def _options(body: dict[str, Any], owner: str | None = None) -> SessionOptions:
    def bad(message: str) -> ApiError:
        return ApiError(SessionCode.INVALID_SESSION_OPTIONS, message, 400)

    count = body.get("action_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise bad("action_count must be an integer.")
    actions = body.get("actions")
    if actions is not None and (not isinstance(actions, list) or not all(isinstance(a, str) for a in actions)):
        raise bad("actions must be a list of action names.")
    origins = body.get("allowed_origins", [])
    if not isinstance(origins, list) or len(origins) > MAX_ORIGINS:
        raise bad(f"allowed_origins must be a list of at most {MAX_ORIGINS} http(s) origins.")
    for index, entry in enumerate(origins):
        if normalize_origin(entry) is None:  # refused, never silently dropped (the widget would be unframeable)
            shown = repr(entry)[:100]
            raise ApiError(
                SessionCode.INVALID_ALLOWED_ORIGIN,
                f"allowed_origins[{index}] = {shown} is not a plain "
                "scheme://host[:port] origin (no path, query, wildcard or credentials).",
                400,
            )
    fallback = body.get("recording_fallback", False)
    if not isinstance(fallback, bool):
        raise bad("recording_fallback must be true or false.")
    light = body.get("light")
    if light is not None and not isinstance(light, bool):
        raise bad("light must be true or false.")
    ttl = body.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
        raise bad("ttl must be a number of seconds.")
    audit = body.get("audit_images", False)
    if not isinstance(audit, bool):
        raise bad("audit_images must be true or false.")
    reference = None
    photo = body.get("reference_photo")
    if photo is not None:
        too_large = f"reference_photo must be base64 of at most {MAX_REFERENCE_BYTES} bytes."
        if not isinstance(photo, str) or len(photo) > base64_chars(MAX_REFERENCE_BYTES) + FRAMING_BYTES:
            raise bad(too_large)
        try:
            reference = decode_b64(photo)
        except ValueError:
            raise bad("reference_photo is not valid base64.") from None
        if len(reference) > MAX_REFERENCE_BYTES:
            raise bad(too_large)
    return SessionOptions(
        action_count=count,
        actions=tuple(actions) if actions is not None else None,
        reference_photo=reference,
        allowed_origins=tuple(o.rstrip("/") for o in origins),
        ttl_s=float(ttl) if ttl is not None else None,
        audit_images=audit,
        owner=owner,
        recording_fallback=fallback,
        light=light,
    )


def _return_url(body: dict[str, Any], origins: tuple[str, ...]) -> str:
    """Where the widget's end screens lead when it is opened on its own (a link, a QR code). Only to one of the
    session's allowed origins: the widget page is on this server's origin, and it must not become an open redirect
    for anyone who crafts a link (the widget checks the same before following it)."""
    url = body.get("return_url")
    if url is None:
        return ""
    parts = urlsplit(url) if isinstance(url, str) and len(url) <= MAX_RETURN_URL_CHARS else None
    origin = normalize_origin(f"{parts.scheme}://{parts.netloc}") if parts and not parts.username else None
    if origin is None or origin not in origins:
        raise ApiError(
            SessionCode.INVALID_SESSION_OPTIONS,
            f"return_url must be an http(s) URL of at most {MAX_RETURN_URL_CHARS} characters on one of the "
            "session's allowed_origins.",
            400,
        )
    return str(url)


def _origin_warnings(origins: tuple[str, ...]) -> list[dict[str, str]]:
    """No allowed origins: no page can frame the widget (it can still be opened on its own). Said in the answer,
    or refused with `[server] require-allowed-origins = true`, never a silently unframeable widget."""
    if origins:
        return []
    message = (
        "allowed_origins is empty: no page can embed this widget (its CSP frame-ancestors is 'none'); it can only "
        "be opened on its own. List the embedding page's exact origin (scheme, host and port)."
    )
    if services().config.server.require_allowed_origins:
        raise ApiError(SessionCode.INVALID_SESSION_OPTIONS, message, 400)
    return [{"code": NO_ALLOWED_ORIGINS, "message": message}]


def _client_token() -> str:
    """The client token, from the Authorization header only: a token inside a body would mean reading (and
    parsing) a stranger's body before knowing whether it may send one (issue 19). 403 invalid_token without it,
    before the session store is asked or a byte of the body is read."""
    token = bearer_token(request)
    if token is None:
        raise SessionError(SessionCode.INVALID_TOKEN, TOKEN_IN_HEADER, 403)
    return token


@blueprint.post("/v1/sessions")
async def create_session() -> Any:
    svc = services()
    api_key = require_key(svc.keys, request)
    body = await _json(CREATE_BODY_BYTES)
    options = _options(body, owner=key_id(api_key))
    return_url = _return_url(body, options.allowed_origins)
    warnings = _origin_warnings(options.allowed_origins)
    reg = registry()
    reference = None
    if options.reference_photo is not None:
        reference = await svc.pool.run(reg.embed_reference, options.reference_photo)
    session, token = await reg.create(options, reference)
    base = (svc.config.server.public_url or request.host_url).rstrip("/")
    fragment = f"token={token}" + (f"&return={quote(return_url, safe='')}" if return_url else "")
    created: dict[str, Any] = {
        "session_id": session.id,
        "client_token": token,
        "widget_url": f"{base}/widget/{session.id}#{fragment}",
        "expires_at": int(session.expires_at),
        "status": session.status,
    }
    if warnings:
        created["warnings"] = warnings
    response = jsonify(created)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/v1/sessions/<session_id>")
async def get_session(session_id: str) -> Any:
    api_key = require_key(services().keys, request)
    record = await registry().get(session_id, owner=key_id(api_key))
    view = record.public()
    if "result" in view:
        signer = result_signer()
        claims = result_claims(view, decided_at=record.decided_at, tenant=key_id(api_key), ttl_s=signer.ttl_s)
        view["signed_result"] = signer.sign(claims, api_key)
    response = jsonify(view)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/v1/sessions/<session_id>/offer")
async def offer(session_id: str) -> Any:
    _not_draining()
    reg = registry()
    token = _client_token()
    await reg.check_client(session_id, token)  # the token is checked before the body is read
    try:
        body = await _json(OFFER_BODY_BYTES)
    except RequestEntityTooLarge:
        raise SessionError(SessionCode.INVALID_OFFER, "The offer is larger than 64 KiB.", 413) from None
    sdp, kind = body.get("sdp"), body.get("type", "offer")
    if not isinstance(sdp, str) or not isinstance(kind, str):
        raise SessionError(SessionCode.INVALID_OFFER, 'Expected {"sdp": ..., "type": "offer"}.', 400)
    return jsonify(await reg.offer(session_id, token, sdp, kind))


def _fallback_view(session_id: str, plan: FallbackPlan, now: float) -> dict[str, Any]:
    return {"session_id": session_id, **plan.describe(now)}


@blueprint.post("/v1/sessions/<session_id>/fallback")
async def fallback_start(session_id: str) -> Any:
    """The client started recording (claims the session, like an offer); says when to ask for the first prompt.
    Only for sessions created with recording_fallback: true."""
    _not_draining()
    reg = registry()
    plan = await reg.start_recording(session_id, _client_token())
    return jsonify(_fallback_view(session_id, plan, reg.clock()))


@blueprint.get("/v1/sessions/<session_id>/fallback")
async def fallback_state(session_id: str) -> Any:
    """Where the recording stands on the server's clock (to resynchronise a client); reveals no new prompt."""
    plan, now = await registry().fallback_state(session_id, _client_token())
    return jsonify(_fallback_view(session_id, plan, now))


@blueprint.post("/v1/sessions/<session_id>/fallback/next")
async def fallback_next(session_id: str) -> Any:
    """The next prompt, once it is due (409 prompt_not_due + Retry-After before); the server keeps its time."""
    prompt, plan, now = await registry().next_prompt(session_id, _client_token())
    return jsonify(
        {
            **_fallback_view(session_id, plan, now),
            "action": prompt.action,
            "index": prompt.index,
            "deadline_ms": max(0, prompt.ends_ms - prompt.issued_ms),
        }
    )


@blueprint.post("/v1/sessions/<session_id>/fallback/cancel")
async def fallback_cancel(session_id: str) -> Any:
    """The user cancelled in the recording fallback: the session ends FAILED, reason `cancelled` (no body)."""
    session = await registry().recording.cancel(session_id, _client_token())
    return jsonify({"session_id": session.id, "status": session.status})


@blueprint.post("/v1/sessions/<session_id>/recording")
async def recording(session_id: str) -> Any:
    """The recording of the fallback: raw video bytes (or multipart field `video`). The token is checked and the
    body capped (the engine's video-size) before a byte of it is read."""
    svc = services()
    reg = registry()
    token = _client_token()
    await reg.accepts_upload(session_id, token)
    limit_body(request, svc.config.engine.limits.video_size + FRAMING_BYTES)
    if media_type(request).startswith("multipart/form-data"):
        data = await file_field(request, "video") or b""
    else:
        data = await body_bytes(request)
    session = await reg.decide_recording(session_id, token, data, run=svc.pool.run)
    return jsonify({"session_id": session.id, "status": session.status})
