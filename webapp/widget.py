"""The browser side: widget page, embed script, static files, string catalogs and the demo page.

The widget page may only be framed by its session's allowed origins (`Content-Security-Policy: frame-ancestors`).
The demo (`GET /`, on by default, `[server] demo = false` turns it off) creates sessions through the server itself,
for its own origin only, so no API key ever reaches a browser. Its sessions come from the demo's own quota
(realtime/quota.py: a cap and a per-address rate limit), never from integrators' capacity, and their status is
readable only by the page that created them (a status token) from this origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quart import Blueprint, Response, abort, jsonify, render_template, request, send_from_directory

import frontend
from realtime.errors import SessionCode, SessionError
from realtime.registry import CREATED, EXPIRED, SessionRegistry
from webapp import errors
from webapp.auth import bearer_token
from webapp.client_address import client_address
from webapp.origins import normalize_origin
from webapp.services import Services, services

FRONTEND = Path(frontend.__file__).parent
STATIC = FRONTEND / "static"
I18N = FRONTEND / "i18n"
LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "zh-Hans", "ja", "ar")  # the first is the fallback
CONNECT_TIMEOUT_MS = 10_000  # WebRTC must connect within this, else the widget records instead (when allowed)

blueprint = Blueprint("widget", __name__, template_folder=str(FRONTEND / "templates"))
errors.install(blueprint, also=(SessionError,))  # the demo routes raise; webapp.errors answers


def _services() -> Services:
    return services()


def _registry() -> SessionRegistry:
    return services().sessions()


def safe_origins(origins: tuple[str, ...] | list[str]) -> list[str]:
    """Only plain scheme://host[:port] origins reach a CSP header or postMessage (sessions.py refuses others at
    create; this is the second line)."""
    return [o for o in (normalize_origin(x) for x in origins) if o is not None]


def frame_ancestors(origins: list[str]) -> str:
    return " ".join(origins) if origins else "'none'"


def widget_csp(origins: list[str]) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src 'self' blob: mediastream:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors(origins)}",
        )
    )


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def told_hosts(listen: str) -> tuple[str, ...]:
    """Without `public-url`, the Host values this server answers the demo for: the address it listens on, and
    loopback names (a page on the visitor's own machine). Anything else could be a forged Host header."""
    return (listen.lower(),) if listen.rpartition(":")[0] not in ("", "0.0.0.0", "[::]", "::") else ()


def own_origin() -> str | None:
    """This server's origin for the demo's sessions (their CSP frame-ancestors and postMessage target): public-url
    when set; otherwise the request's Host only when it is one the server was told (told_hosts) or loopback. None:
    a Host nobody configured, refused, so a forged Host never becomes a session's allowed origin."""
    public = _services().config.server.public_url
    if public:
        return public.rstrip("/")
    host = request.host.lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if host in told_hosts(_services().config.listen) or name in LOOPBACK_HOSTS:
        return f"{request.scheme}://{host}"
    return None


def _ice_servers() -> list[dict[str, Any]]:
    settings = _services().config.realtime
    servers: list[dict[str, Any]] = [{"urls": url} for url in settings.stun_servers]
    servers += [
        {"urls": url, "username": settings.turn_username, "credential": settings.turn_password}
        for url in settings.turn_servers
    ]
    return servers


def _page_headers(response: Response, csp: str) -> Response:
    response.headers["Content-Security-Policy"] = csp
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Permissions-Policy"] = "camera=(self)"
    return response


@blueprint.get("/widget/<session_id>")
async def widget_page(session_id: str) -> Response:
    """The check itself. Unknown sessions get the page too (it shows 'expired'), framed by nobody."""
    origins: list[str] = []
    problem = ""
    recording_fallback = False
    light = False
    stores_images = False
    try:
        session = await _registry().get(session_id)
        origins = safe_origins(session.allowed_origins)
        recording_fallback = session.recording_fallback
        light = session.light
        stores_images = session.audit_images
        if session.status == EXPIRED:
            problem = "session_expired"
        elif session.status != CREATED:
            problem = "session_used"
    except SessionError:
        problem = "session_expired"
    html = await render_template(
        "widget.html",
        session_id=session_id,
        allowed_origins=origins,
        ice_servers=_ice_servers(),
        languages=list(LANGUAGES),
        i18n_base="/widget/i18n/",
        api_base="",
        connect_timeout_ms=CONNECT_TIMEOUT_MS,
        problem=problem,
        recording_fallback=recording_fallback,
        light=light,
        stores_images=stores_images,
        positioning_timeout_ms=int(_services().config.realtime.positioning_timeout_s * 1000),
        static_url=lambda name: f"/widget/static/{name}",
    )
    return _page_headers(Response(html, content_type="text/html; charset=utf-8"), widget_csp(origins))


@blueprint.get("/widget/static/<path:name>")
async def widget_static(name: str) -> Response:
    response = await send_from_directory(STATIC, name)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.get("/widget/i18n/<lang>.json")
async def widget_catalog(lang: str) -> Response:
    if lang not in LANGUAGES:
        abort(404)
    response = await send_from_directory(I18N, f"{lang}.json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/embed.js")
async def embed_script() -> Response:
    response = await send_from_directory(STATIC, "embed.js")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # integrators' pages load it
    return response


# -- demo ----------------------------------------------------------------------------------------------------------


def _client() -> str:
    """The demo's rate is per client: the TCP peer, or what a trusted proxy says it is (webapp.client_address)."""
    forwarded = request.headers.getlist("X-Forwarded-For")
    return client_address(request.remote_addr, forwarded, _services().trusted_proxies)


def _demo_enabled() -> None:
    if not _services().config.server.demo:
        abort(404)


@blueprint.get("/")
async def demo_page() -> Response:
    _demo_enabled()
    html = await render_template("demo.html")
    csp = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src data:",
            "connect-src 'self'",
            "frame-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return _page_headers(Response(html, content_type="text/html; charset=utf-8"), csp)


@blueprint.post("/demo/sessions")
async def demo_create() -> Response:
    """A session for the demo page itself: same-origin requests only, allowed origin = this server, from the
    demo's own quota (per client address and a cap of its own)."""
    _demo_enabled()
    origin = own_origin()
    if origin is None:
        raise SessionError(
            SessionCode.ORIGIN_NOT_ALLOWED,
            "This server was not told its address: set server.public-url to serve the demo under this host.",
            403,
        )
    if request.headers.get("Origin", "").rstrip("/") != origin:
        raise SessionError(SessionCode.ORIGIN_NOT_ALLOWED, "The demo creates sessions for its own page only.", 403)
    session, token, status_token = await _registry().create_demo(_client(), origin)
    response = jsonify(
        {
            "session_id": session.id,
            "widget_url": f"{origin}/widget/{session.id}#token={token}",
            "status_token": status_token,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/demo/sessions/<session_id>")
async def demo_status(session_id: str) -> Response:
    """The demo shows the server's word on the outcome: status only, never the scores; only to the page that
    created the session (its status token) from this origin, and only for demo sessions."""
    _demo_enabled()
    if not same_origin_request():
        raise SessionError(SessionCode.ORIGIN_NOT_ALLOWED, "Demo endpoints answer their own page only.", 403)
    session = await _registry().get_demo(session_id, bearer_token(request))
    response = jsonify({"session_id": session.id, "status": session.status})
    response.headers["Cache-Control"] = "no-store"
    return response


def same_origin_request() -> bool:
    """A browser's request from this server's own page: Origin (sent on POST and cross-origin fetches) must be ours,
    and without Origin, Sec-Fetch-Site must say same-origin (browsers send it on every fetch). A request with
    neither is refused. Scripts can forge both headers, which is why the demo status also needs the token."""
    origin = request.headers.get("Origin", "").rstrip("/")
    if origin:
        return own_origin() is not None and origin == own_origin()
    return request.headers.get("Sec-Fetch-Site", "") == "same-origin"
