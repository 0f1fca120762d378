"""The Quart application factory: config -> services (webapp.services) -> the blueprints, registered explicitly.

To add an endpoint: a route in the blueprint it belongs to (or a new module with its own `blueprint`, added to
`BLUEPRINTS` below); it reaches the engine, pool, store and the rest through `webapp.services.services()`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from quart import Blueprint, Quart, Response, g, request

from realtime.store import open_store
from scoring.engine import LivenessEngine
from webapp import api_facia, api_findface, api_huawei, api_native, api_silent, openapi, ops, sessions, widget
from webapp.auth import KeyRing, RateLimiter
from webapp.client_address import parse_networks
from webapp.config import ConfigError, ServiceConfig
from webapp.detections import DetectionCache
from webapp.errors import guard_host, install_log_escaping
from webapp.errors import install_app as install_errors
from webapp.fetch import EXTENSION as FETCHER
from webapp.fetch import VideoFetcher, parse_prefixes
from webapp.metrics import Metrics
from webapp.services import EXTENSION, Services, services
from webapp.signing import EXTENSION as SIGNER
from webapp.signing import ResultSigner, parse_signing_keys
from webapp.uploads import MemoryRequest
from webapp.workers import WorkerPool

log = logging.getLogger("livecheck")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Every feature's routes, in registration order.
BLUEPRINTS: tuple[Blueprint, ...] = (
    ops.blueprint,
    openapi.blueprint,
    api_native.blueprint,
    api_findface.blueprint,
    api_huawei.blueprint,
    api_facia.blueprint,
    api_silent.blueprint,
    sessions.blueprint,
    widget.blueprint,
)


def _check(config: ServiceConfig) -> None:
    """Settings whose validity depends on each other (single keys are validated by load_config)."""
    key, iv = config.server.silent_aes_key, config.server.silent_aes_iv
    if key and (len(key.encode()) != 32 or len(iv.encode()) != 12):
        raise ConfigError(["server.silent-aes-key / silent-aes-iv: need a 32-character key and a 12-character IV"])
    server = config.server
    timeouts = {
        "request-timeout-s": server.request_timeout_s,
        "queue-wait-s": server.queue_wait_s,
        "body-timeout-s": server.body_timeout_s,
        "read-timeout-s": server.read_timeout_s,
        "keep-alive-timeout-s": server.keep_alive_timeout_s,
    }
    problems = [f"server.{name}: must be > 0" for name, value in timeouts.items() if not value > 0]
    if server.read_timeout_s <= server.request_timeout_s:
        # Hypercorn closes a connection whose client sent nothing for read-timeout-s, even while its request is
        # being analyzed: the analysis must be answered (or refused with 503) before that.
        problems.append("server.read-timeout-s: must be longer than server.request-timeout-s")
    if not server.video_url_timeout_s > 0:
        problems.append("server.video-url-timeout-s: must be > 0")
    if server.video_url_fetches < 1:
        problems.append("server.video-url-fetches: must be at least 1")
    try:
        parse_prefixes(server.video_url_prefixes)
    except ValueError as exc:
        problems.append(str(exc))
    try:
        parse_signing_keys(server.signing_keys)
    except ValueError as exc:
        problems.append(str(exc))
    if not server.signed_result_ttl_s >= 1:
        problems.append("server.signed-result-ttl-s: must be at least 1")
    live = config.realtime
    for name, low, high in (
        ("fallback-lead", live.fallback_lead_min_ms, live.fallback_lead_max_ms),
        ("fallback-gap", live.fallback_gap_min_ms, live.fallback_gap_max_ms),
    ):
        if not 0 < low <= high:
            problems.append(f"realtime.{name}-min-ms / -max-ms: need 0 < min <= max")
    if problems:
        raise ConfigError(problems)


def create_app(config: ServiceConfig, *, engine: LivenessEngine | None = None) -> Quart:
    """Loads the engine from the config unless one is given (tests share one; it is then not closed here)."""
    install_log_escaping()  # request paths and headers in log lines cannot forge lines
    app = _quart_app(config)
    _check(config)
    _install_services(app, config, engine)
    _log_key_setup(config)
    _install_request_hooks(app)
    _install_error_handlers(app)
    _register_blueprints(app)
    _install_lifecycle(app)
    return app


def _quart_app(config: ServiceConfig) -> Quart:
    """The bare app: the in-memory request class, the Host guard and the body/response limits."""
    app = Quart("livecheck")
    app.request_class = MemoryRequest
    app.asgi_app = guard_host(app.asgi_app)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = config.server.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = config.server.max_body_bytes
    app.config["BODY_TIMEOUT"] = config.server.body_timeout_s
    app.config["RESPONSE_TIMEOUT"] = config.server.request_timeout_s
    return app


def _load_engine(config: ServiceConfig) -> LivenessEngine:
    """The engine with one landmarker per worker and per live check (the demo has its own share)."""
    return LivenessEngine.load(
        config.engine,
        config.models_dir,
        landmarkers=config.server.landmarkers,
        live_landmarkers=config.realtime.max_sessions + (config.realtime.demo_max_live if config.server.demo else 0),
    )


def _install_services(app: Quart, config: ServiceConfig, engine: LivenessEngine | None) -> None:
    """What the routes reach through `services()`, the video fetcher and the result signer, on app.extensions."""
    owns_engine = engine is None
    if engine is None:
        engine = _load_engine(config)
    store = open_store(config.store.url)
    app.extensions[EXTENSION] = Services(
        config=config,
        engine=engine,
        pool=WorkerPool(
            config.server.workers,
            config.server.queue,
            queue_wait_s=config.server.queue_wait_s,
            job_timeout_s=config.server.request_timeout_s,
        ),
        metrics=Metrics(),
        keys=KeyRing(config.api_keys),
        detections=DetectionCache(store, config.server.detection_ttl_s),
        facia_limiter=RateLimiter(store, config.server.facia_rate_limit_per_minute),
        store=store,
        owns_engine=owns_engine,
        trusted_proxies=parse_networks(config.server.trusted_proxies),
    )
    app.extensions[FETCHER] = VideoFetcher(
        config.server.video_url_prefixes, config.server.video_url_fetches, config.server.video_url_timeout_s
    )
    app.extensions[SIGNER] = ResultSigner(config.server.signing_keys, config.server.signed_result_ttl_s)


def _log_key_setup(config: ServiceConfig) -> None:
    """Says at start-up how results are signed and that integrator endpoints refuse everyone without keys."""
    if not config.server.signing_keys and config.api_keys:
        log.info("server.signing-keys unset: signed results use a key derived from each API key (docs/api.md)")
    if not config.api_keys:
        log.warning("no API keys configured (api-keys or LIVECHECK_API_KEYS): integrator endpoints answer 401")


def _install_request_hooks(app: Quart) -> None:
    """Per request: its id (the client's X-Request-Id when well-formed), the in-flight count, the request metrics."""

    @app.before_request
    async def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        services(app).lifecycle.requests += 1

    @app.teardown_request
    async def _done(exc: BaseException | None) -> None:
        lifecycle = services(app).lifecycle
        lifecycle.requests = max(0, lifecycle.requests - 1)

    @app.after_request
    async def _finish(response: Response) -> Response:
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        started = getattr(g, "started", None)
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if started is not None:
            services(app).metrics.request(endpoint, request.method, response.status_code, time.perf_counter() - started)
        return response


def _install_error_handlers(app: Quart) -> None:
    """The app-wide handlers of webapp.errors (each blueprint installs its own API's shape when it is imported)."""
    install_errors(app)


def _register_blueprints(app: Quart) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def _install_lifecycle(app: Quart) -> None:
    """Opens the session registry in the serving loop; closes the services and the fetcher after serving."""

    @app.before_serving
    async def _open_sessions() -> None:
        services(app).sessions()  # in the serving loop, so /metrics shows the session gauges from the start

    @app.after_serving
    async def _cleanup() -> None:
        await services(app).close()
        app.extensions[FETCHER].close()
