"""The long-lived objects a request handler uses, one typed field each, on `app.extensions["livecheck"]`.

A leaf of the webapp package: it imports no blueprint and no app factory, so every route module can import it
(webapp.app imports the routes; the routes import this). A handler gets them with `services()`:

    svc = services()
    verdict = await svc.pool.run(svc.engine.analyze, data, options)  # heavy work: always through the pool
    svc.metrics.verdict("my_endpoint", verdict.alive, verdict.timings_ms)
    svc.config.server / svc.config.engine / svc.keys.require(token)

A new long-lived service is a new typed field here, built in webapp.app.create_app and closed in `close()`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import partial

from quart import Quart, current_app, g

from realtime.registry import SessionRegistry
from realtime.store import SessionStore
from scoring.engine import LivenessEngine
from webapp.auth import KeyRing, RateLimiter
from webapp.client_address import Network
from webapp.config import ServiceConfig
from webapp.detections import DetectionCache
from webapp.lifecycle import Lifecycle
from webapp.metrics import Metrics
from webapp.workers import WorkerPool

EXTENSION = "livecheck"
REGISTRY_GAUGES = "sessions"  # the session registry's gauges on /metrics
RECORDING_ENDPOINT = "recording"  # the recording fallback's verdicts on /metrics (livecheck_verdicts_total)


@dataclass
class Services:
    """Everything a request handler may use."""

    config: ServiceConfig
    engine: LivenessEngine
    pool: WorkerPool
    metrics: Metrics
    keys: KeyRing
    detections: DetectionCache
    facia_limiter: RateLimiter
    store: SessionStore  # sessions, detections and rate counters, shared by every node of the store
    owns_engine: bool = True
    lifecycle: Lifecycle = field(default_factory=Lifecycle)  # node id; draining on SIGTERM
    registry: SessionRegistry | None = None  # live checks: created in the serving loop (`sessions()`)
    trusted_proxies: tuple[Network, ...] = ()  # server.trusted-proxies, parsed (webapp.client_address)

    def sessions(self) -> SessionRegistry:
        """The one session registry, created when serving starts (or on first use) in the serving loop: its
        heartbeat and purge tasks belong to that loop. It keeps sessions in `store`, as this process's node."""
        if self.registry is None:
            self.registry = SessionRegistry(
                self.engine, self.config.realtime, self.store, cluster=self.config.store, node_id=self.lifecycle.node_id
            )
            self.registry.start()
            self.registry.recording.on_verdict = partial(self.metrics.verdict, RECORDING_ENDPOINT)
            self.metrics.add_gauges(REGISTRY_GAUGES, self.registry.gauges, self.registry.refresh_counts)
            self.lifecycle.add_probe(self.registry.busy)
        return self.registry

    async def close(self) -> None:
        """After serving: the registry's tasks and peers, the worker pool, the engine (unless lent), the store."""
        registry, self.registry = self.registry, None
        self.metrics.remove_gauges(REGISTRY_GAUGES)
        if registry is not None:
            await registry.close()
        self.pool.close()
        if self.owns_engine:
            self.engine.close()
        await self.store.close()


def services(app: Quart | None = None) -> Services:
    """The app's services (the current app's inside a request)."""
    found = (app or current_app).extensions[EXTENSION]
    assert isinstance(found, Services)
    return found


def request_id() -> str:
    """This request's id (X-Request-Id when the client sent a well-formed one), for logs and error bodies."""
    return str(getattr(g, "request_id", "") or uuid.uuid4().hex)
