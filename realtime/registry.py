"""The session registry, one per server process (no module state): the face the routes see. Sessions live in the
session store, so any node creates and reads any session (realtime/book.py); this node runs the live checks it
claimed (realtime/live.py) and judges the recordings uploaded to it (realtime/recording.py).

Here: the caps - this node's own (`max-sessions`, the demo's running checks apart: realtime/quota.py; and what
its CPU holds at the guaranteed rate, measured: realtime/capacity.py, 503 `busy`) and the cluster's (`[store]
max-live-checks`, the demo's rate per client and open sessions) - and the sweep, every heartbeat: this node's
heartbeat; its own checks' deadlines; and, for the whole cluster, sessions whose node stopped heart-beating
(FAILED `node_lost`), stalled connections nobody took over, and recordings past their deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from realtime.book import SessionBook, SessionOptions, hash_token, mode_of, new_session_id
from realtime.capacity import Admission, FrameMeter, Headroom
from realtime.errors import SessionCode, SessionError, not_found
from realtime.fallback import FallbackPlan, FallbackPrompt
from realtime.live import LiveChecks
from realtime.modes import SessionMode, Tenant
from realtime.offer import validate_offer
from realtime.peer import PipelineStats
from realtime.quota import DemoLimits, DemoQuota
from realtime.reasons import LiveReason
from realtime.recording import RecordingChecks
from realtime.results import failed_result
from realtime.settings import RealtimeSettings, StoreSettings
from realtime.status import SessionStatus
from realtime.store import SessionRecord, SessionStore, StoreError, lost_sessions, open_store
from scoring.engine import LivenessEngine
from scoring.onnx_session import cpu_share
from scoring.reasons import Reason

__all__ = ["SessionError", "not_found", "SessionRegistry", "SessionOptions", "SessionRecord", "SessionStatus"]

log = logging.getLogger("livecheck")
CREATED, IN_PROGRESS, SUCCEEDED, FAILED, EXPIRED = (
    SessionStatus.CREATED,
    SessionStatus.IN_PROGRESS,
    SessionStatus.SUCCEEDED,
    SessionStatus.FAILED,
    SessionStatus.EXPIRED,
)
PURGE_EVERY_S = 60.0
Gauges = dict[str, dict[tuple[tuple[str, str], ...], float]]


class SessionRegistry:
    def __init__(
        self,
        engine: LivenessEngine,
        settings: RealtimeSettings,
        store: SessionStore | None = None,
        *,
        cluster: StoreSettings | None = None,
        node_id: str | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        """`store` None: a private in-memory store (one process, for tests). `clock` is wall time: several
        processes and machines compare the times it stamps (tests may replace it)."""
        self.engine = engine
        self.settings = settings
        self.cluster = cluster or StoreSettings()
        self._owns_store = store is None
        self.store: SessionStore = store if store is not None else open_store("sqlite:///:memory:")
        self.node_id = node_id or f"node-{secrets.token_hex(4)}"
        self.clock = clock
        self.executor = ThreadPoolExecutor(  # sets checks up (a landmarker) and writes their results
            max_workers=max(2, settings.max_sessions + settings.demo_max_live), thread_name_prefix="live"
        )
        # The frame workers: every check's frames are analyzed on these, as many as this process's cores, so
        # model calls never outnumber the cores (scoring/onnx_session.py; issue 22: 8 -> 42 ms a frame).
        self.frame_workers = settings.frame_workers or cpu_share()
        self.frames = ThreadPoolExecutor(max_workers=self.frame_workers, thread_name_prefix="frames")
        self.admission = Admission(
            FrameMeter(),
            self.frame_workers,
            settings.guaranteed_fps,
            settings.admit_utilisation,
            settings.admit_frame_ms,
        )
        self.demo_quota = DemoQuota(
            self.store,
            DemoLimits(
                settings.demo_max_open,
                settings.demo_max_live,
                settings.demo_per_client_per_minute,
                settings.demo_max_open_per_client or -(-settings.demo_max_open // 2),
            ),
            hold_s=settings.demo_ttl_s + settings.check_timeout_s,
        )
        self.book = SessionBook(
            self.store, settings, self.cluster, self.node_id, lambda: self.clock(), on_decided=self._decided
        )
        self.live = LiveChecks(engine, settings, self.book, self.executor, self.frames, self.admission)
        self.recording = RecordingChecks(
            engine, settings, self.book, self.live, self.executor, rng or secrets.SystemRandom()
        )  # fallback timing: unpredictable
        self._status_counts: dict[tuple[str, SessionStatus], int] = {}  # the store's, for the gauges
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False
        self._last_purge = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self.live.close()
        self.executor.shutdown(wait=True)
        self.frames.shutdown(wait=True)
        if self._owns_store:
            await self.store.close()

    def busy(self) -> int:
        """Live checks and recordings this node is running (what a graceful shutdown waits for)."""
        return self.live.running() + self.recording.judging

    # -- figures -------------------------------------------------------------------------------------------------

    def counts(self, tenant: Tenant | None = None) -> dict[str, int]:
        """This node's checks running, open peer connections and landmarkers held (of one tenant, or of all)."""
        return self.live.counts(tenant)

    def pipeline_stats(self, session_id: str) -> PipelineStats | None:
        return self.live.pipeline_stats(session_id)

    def headroom(self) -> Headroom:
        """Live checks this node still admits at the guaranteed rate (/readyz, /metrics: a load balancer routes
        new checks to the node with room)."""
        return self.live.headroom()

    async def refresh_counts(self) -> None:
        """Reads the store's session counts for the gauges (a scrape awaits this)."""
        self._status_counts = await self.store.counts()

    def gauges(self) -> Gauges:
        """Prometheus gauges: sessions in the store by tenant and status (the whole cluster), and this node's
        running live checks, peers and landmarkers by tenant."""
        by_status: dict[tuple[tuple[str, str], ...], float] = {
            (("tenant", t.value), ("status", str(s))): float(self._status_counts.get((t.value, s), 0))
            for t in Tenant
            for s in SessionStatus
        }
        live: dict[tuple[tuple[str, str], ...], float] = {}
        peers: dict[tuple[tuple[str, str], ...], float] = {}
        landmarkers: dict[tuple[tuple[str, str], ...], float] = {}
        for tenant in Tenant:
            counts = self.counts(tenant)
            label = (("tenant", tenant.value),)
            live[label], peers[label], landmarkers[label] = counts["live"], counts["peers"], counts["landmarkers"]
        room = self.headroom()
        return {
            "livecheck_sessions": by_status,
            "livecheck_live_checks": live,
            "livecheck_live_peers": peers,
            "livecheck_live_landmarkers": landmarkers,
            "livecheck_live_capacity": {(): float(room.capacity)},
            "livecheck_live_headroom": {(): float(room.free)},
            "livecheck_live_behind": {(): float(room.behind)},
            "livecheck_live_frame_seconds": {(): room.frame_ms / 1000},
        }

    # -- integrator side -----------------------------------------------------------------------------------------

    async def create(self, options: SessionOptions, reference: np.ndarray | None = None) -> tuple[SessionRecord, str]:
        """Returns the session and its client token (shown once; only its hash is kept). The reference photo's
        embedding is computed by the caller off the event loop (`embed_reference`)."""
        return await self.book.create(options, reference, Tenant.INTEGRATOR)

    async def create_demo(self, client: str, allowed_origin: str) -> tuple[SessionRecord, str, str]:
        """A session for the keyless demo page, from the demo's own quota (`client`: the caller's address).
        Returns the session, its client token and the token the page reads the status with."""
        session_id = new_session_id()
        await self.demo_quota.admit(client, session_id)  # the place is taken under the session's id
        status_token = secrets.token_urlsafe(24)
        options = SessionOptions(allowed_origins=(allowed_origin,), ttl_s=self.settings.demo_ttl_s)
        try:
            session, token = await self.book.create(options, None, Tenant.DEMO, hash_token(status_token), session_id)
        except Exception:
            with contextlib.suppress(StoreError):  # the place lapses by itself (hold_s) if the store is down
                await self.demo_quota.release(session_id)
            raise
        return session, token, status_token

    async def _decided(self, record: SessionRecord) -> None:
        """A demo session decided (here, whichever node created it) frees its place at once. The decision is
        already stored: a store failure here only leaves the place taken until it lapses (hold_s)."""
        if record.tenant == Tenant.DEMO:
            try:
                await self.demo_quota.release(record.id)
            except StoreError as exc:
                log.warning("demo session %s: its place stays taken until it lapses: %s", record.id, exc)

    def embed_reference(self, photo: bytes) -> np.ndarray:
        """Blocking (run it in a worker): the reference photo's embedding, or a clear error."""
        vector = self.engine.embed_photo(photo)
        if vector is None:
            raise SessionError(Reason.REFERENCE_NO_FACE, "The reference photo shows no face.", 400)
        return vector

    async def get(self, session_id: str, owner: str | None = None) -> SessionRecord:
        return await self.book.get(session_id, owner)

    async def get_demo(self, session_id: str, status_token: str | None) -> SessionRecord:
        return await self.book.get_demo(session_id, status_token)

    async def find_by_token(self, token: str) -> SessionRecord:
        return await self.book.find_by_token(token)

    # -- client side ---------------------------------------------------------------------------------------------

    def _check_node_cap(self, tenant: Tenant) -> None:
        """This node's cap (the demo's apart). Checked and reserved with no await in between."""
        if tenant == Tenant.DEMO:
            self.demo_quota.check_live(self.counts(Tenant.DEMO)["live"])
        elif self.counts(Tenant.INTEGRATOR)["live"] >= self.settings.max_sessions:
            raise SessionError(
                SessionCode.TOO_MANY_SESSIONS,
                "Too many live checks are running; try again shortly.",
                503,
                retry_after_s=5,
            )

    async def _check_cluster_cap(self, tenant: Tenant) -> None:
        """`max-live-checks` is the integrators' capacity: their checks only count, and the demo never takes from it
        (its places are the demo's own: demo-max-open in the cluster, demo-max-live per node)."""
        if tenant == Tenant.INTEGRATOR and self.cluster.max_live_checks > 0:
            running = (await self.store.counts()).get((Tenant.INTEGRATOR.value, IN_PROGRESS), 0)
            if running >= self.cluster.max_live_checks:
                raise SessionError(
                    SessionCode.TOO_MANY_SESSIONS,
                    "Too many checks are running in the cluster; try again shortly.",
                    503,
                    retry_after_s=5,
                )

    async def check_client(self, session_id: str, token: str | None) -> None:
        """Raises unless `token` is the session's client token and the session can still start (before a body is
        read for it)."""
        await self.book.claimable(session_id, token)

    async def offer(self, session_id: str, token: str | None, sdp: str, kind: str = "offer") -> dict[str, str]:
        """Exchanges SDP for a session: returns the answer. The token is checked, the caps applied and the offer
        validated before the session is claimed (compare-and-set: one node wins) and a landmarker or a peer
        connection is taken."""
        session = await self.book.claimable(session_id, token)
        tenant = session.tenant
        self._check_node_cap(tenant)
        self.live.admit(session_id)  # 503 busy unless the CPU holds one more check at the guaranteed rate
        self.live.reserve(tenant, session_id)
        try:
            await self._check_cluster_cap(tenant)
            validate_offer(sdp, kind)
            claimed = await self.book.claim(session_id)
        finally:
            self.live.unreserve(tenant, session_id)
        return await self.live.start(claimed, sdp, kind)

    # -- recording fallback (realtime/recording.py) --------------------------------------------------------------

    async def start_recording(self, session_id: str, token: str | None) -> FallbackPlan:
        return await self.recording.start(session_id, token)

    async def fallback_state(self, session_id: str, token: str | None) -> tuple[FallbackPlan, float]:
        return await self.recording.state(session_id, token)

    async def next_prompt(self, session_id: str, token: str | None) -> tuple[FallbackPrompt, FallbackPlan, float]:
        return await self.recording.next_prompt(session_id, token)

    async def accepts_upload(self, session_id: str, token: str | None) -> None:
        """Raises unless this client may upload its recording now (checked before the body is read)."""
        await self.recording.accepts_upload(session_id, token)

    async def decide_recording(
        self, session_id: str, token: str | None, data: bytes, run: Callable[..., Any] | None = None
    ) -> SessionRecord:
        return await self.recording.decide(session_id, token, data, run)

    # -- housekeeping --------------------------------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while not self._closed:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be briefly unreachable: try again at the next beat
                log.warning("session sweep on node %s failed: %s", self.node_id, exc)
            await asyncio.sleep(self.cluster.heartbeat_s)

    async def sweep(self) -> None:
        """One beat: this node's heartbeat, its own checks' deadlines, then the cluster's lost and late sessions."""
        await self.store.beat(self.node_id, self.cluster.node_lost_s)
        now = self.clock()
        await self.live.sweep(now)
        await self._sweep_cluster(now)
        if now - self._last_purge > PURGE_EVERY_S:
            self._last_purge = now
            await self.store.purge()

    async def _sweep_cluster(self, now: float) -> None:
        """Any node decides these, whichever node claimed them: a lapsed heartbeat fails its sessions
        `node_lost`; a stalled connection nobody took over fails with its reason; a recording that did not arrive
        by its deadline fails."""
        for record in await lost_sessions(self.store):
            lost_node = record.node_id
            await self.book.decide(
                record.id,
                FAILED,
                failed_result(self.engine, mode_of(record), [LiveReason.NODE_LOST]),
                lambda r, n=lost_node: r.status == IN_PROGRESS and r.node_id == n,  # type: ignore[misc]
            )
        for record in await self.store.in_progress():
            if self.live.holds(record.id) or record.started_at is None:
                continue
            if record.fallback is not None:
                await self.recording.sweep(record, now)
            elif record.stalled is not None and now - record.started_at > self.settings.check_timeout_s + 10:
                await self.book.decide(
                    record.id,
                    FAILED,
                    failed_result(self.engine, SessionMode.LIVE, [record.stalled]),
                    lambda r, v=record.version: r.version == v,  # type: ignore[misc]
                )
