"""The session registry: sessions live in the session store (realtime/store), so any node creates and reads any
session; this node holds only what cannot be shared: the peer connections and landmarkers of the live checks it
runs. One object per server process (no module state).

* A session is claimed with one compare-and-set in the store: of several nodes offered the same session, exactly
  one wins (the others answer token_used). The winner runs the peer and writes the result to the store.
* Caps: this node's own (`max-sessions`, the demo's apart: realtime/quota.py) and the cluster's
  (`[store] max-live-checks`).
* The sweep (every heartbeat): this node's heartbeat; deadlines of its own checks; and, for the whole cluster,
  sessions whose node stopped heart-beating (FAILED `node_lost`), stalled connections and late recordings.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import hashlib
import hmac
import random
import secrets
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from realtime.challenge import DISCONNECTED, STREAM_ENDED, ChallengeOutcome, ChallengeSession, draw_actions
from realtime.errors import SessionError, not_found
from realtime.fallback import FallbackCode, FallbackPlan, FallbackPrompt, FallbackTiming
from realtime.modes import SessionMode, Tenant
from realtime.offer import validate_offer
from realtime.peer import LivePeer, PipelineStats
from realtime.quota import DemoLimits, DemoQuota
from realtime.results import ResultInputs, failed_result, live_result, recording_result
from realtime.settings import RealtimeSettings, StoreSettings
from realtime.status import NODE_LOST, SessionStatus
from realtime.store import SessionRecord, SessionStore, lost_sessions, open_store, total, update
from scoring.actions import ACTIONS
from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.errors import InputError, Overloaded

__all__ = ["SessionError", "not_found", "SessionRegistry", "SessionOptions", "SessionRecord", "SessionStatus"]

log = logging.getLogger("livecheck")
CREATED, IN_PROGRESS, SUCCEEDED, FAILED, EXPIRED = (SessionStatus.CREATED, SessionStatus.IN_PROGRESS,
                                                      SessionStatus.SUCCEEDED, SessionStatus.FAILED,
                                                      SessionStatus.EXPIRED)
MAX_ACTIONS = 6
MAX_TTL_S = 3600.0
TOKEN_ITEM = "token"  # store item: client token hash -> session id
PURGE_EVERY_S = 60.0
RECENT_STATS = 256


def token_used() -> SessionError:
    return SessionError("token_used", "This session's token was already used; a session runs once.", 409)


@dataclass(frozen=True)
class SessionOptions:
    action_count: int | None = None  # None: the configured default
    actions: tuple[str, ...] | None = None  # fixed by the integrator (or a test); otherwise drawn
    reference_photo: bytes | None = None
    allowed_origins: tuple[str, ...] = ()
    ttl_s: float | None = None
    audit_images: bool = False
    owner: str | None = None  # opaque id of the integrator that created it; None = any integrator may read it
    recording_fallback: bool = False  # the integrator allows the recording fallback (lower assurance)


@dataclass
class LocalCheck:
    """What only the node running a live check holds: its peer connection and landmarker."""

    record: SessionRecord  # as claimed (actions, audit images, reference)
    peer: LivePeer | None = None
    landmarker: object | None = None
    stats: PipelineStats | None = None
    ending: bool = False
    frames_recorded: bool = False  # frames_seen was written to the store

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.record.tenant)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, digest: str | None) -> bool:
    return bool(token) and digest is not None and hmac.compare_digest(hash_token(token or ""), digest)


def mode_of(record: SessionRecord) -> SessionMode:
    return SessionMode.RECORDING if record.fallback is not None else SessionMode.LIVE


def reference_of(record: SessionRecord) -> np.ndarray | None:
    return None if record.reference is None else np.frombuffer(record.reference, dtype=np.float32)


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
        processes and machines compare the times it stamps."""
        self.engine = engine
        self.settings = settings
        self.cluster = cluster or StoreSettings()
        self._owns_store = store is None
        self.store: SessionStore = store if store is not None else open_store("sqlite:///:memory:")
        self.node_id = node_id or f"node-{secrets.token_hex(4)}"
        self.clock = clock
        self.rng = rng or secrets.SystemRandom()  # fallback timing: unpredictable by default
        self.executor = ThreadPoolExecutor(max_workers=max(2, settings.max_sessions + settings.demo_max_live),
                                           thread_name_prefix="live")
        self.demo_quota = DemoQuota(DemoLimits(settings.demo_max_open, settings.demo_max_live,
                                               settings.demo_per_client_per_minute))
        self._local: dict[str, LocalCheck] = {}
        self._demo_open: dict[str, float] = {}  # demo sessions created here -> when they stop counting as open
        self._judging = 0  # recordings being judged here
        self._pending: dict[Tenant, int] = {t: 0 for t in Tenant}  # offers past the cap check, not yet claimed
        self._recent_stats: OrderedDict[str, PipelineStats] = OrderedDict()  # of checks that ended here (bounded)
        self._status_counts: dict[tuple[str, SessionStatus], int] = {}  # the store's, refreshed by the sweep
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
        for local in list(self._local.values()):
            if local.peer is not None:
                await self._end(local, ["server_shutdown"])
        self.executor.shutdown(wait=True)
        if self._owns_store:
            await self.store.close()

    def busy(self) -> int:
        """Live checks and recordings this node is running (what a graceful shutdown waits for)."""
        return len(self._local) + self._judging

    def counts(self, tenant: Tenant | None = None) -> dict[str, int]:
        """This node's checks running, open peer connections and landmarkers held (of one tenant, or of all)."""
        checks = [c for c in self._local.values() if tenant is None or c.tenant == tenant]
        pending = sum(n for t, n in self._pending.items() if tenant is None or t == tenant)
        return {
            "live": sum(1 for c in checks if not c.ending) + pending,
            "peers": sum(1 for c in checks if c.peer is not None),
            "landmarkers": sum(1 for c in checks if c.landmarker is not None),
        }

    def pipeline_stats(self, session_id: str) -> PipelineStats | None:
        """Frame pipeline figures of a live check this node ran (running, or among the last RECENT_STATS ended)."""
        local = self._local.get(session_id)
        if local is not None and local.peer is not None:
            return local.peer.stats
        return self._recent_stats.get(session_id)

    def open_count(self, tenant: Tenant) -> int:
        """Demo sessions created here and not yet past their ttl or decided here (the demo's quota is per node)."""
        now = self.clock()
        for session_id in [s for s, until in self._demo_open.items() if until <= now]:
            del self._demo_open[session_id]
        return len(self._demo_open) if tenant == Tenant.DEMO else 0

    async def refresh_counts(self) -> None:
        """Reads the store's session counts for the gauges (a scrape awaits this; the sweep also refreshes)."""
        self._status_counts = await self.store.counts()

    def gauges(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        """Prometheus gauges: sessions in the store by status (the whole cluster, refreshed by the sweep), and
        this node's running live checks, peers and landmarkers by tenant."""
        by_status = {(("tenant", t.value), ("status", str(s))): float(self._status_counts.get((t.value, s), 0))
                     for t in Tenant for s in SessionStatus}
        live: dict[tuple[tuple[str, str], ...], float] = {}
        peers: dict[tuple[tuple[str, str], ...], float] = {}
        landmarkers: dict[tuple[tuple[str, str], ...], float] = {}
        for tenant in Tenant:
            counts = self.counts(tenant)
            label = (("tenant", tenant.value),)
            live[label], peers[label], landmarkers[label] = counts["live"], counts["peers"], counts["landmarkers"]
        return {"livecheck_sessions": by_status, "livecheck_live_checks": live, "livecheck_live_peers": peers,
                "livecheck_live_landmarkers": landmarkers}

    # -- integrator side -----------------------------------------------------------------------------------------

    async def create(self, options: SessionOptions, reference: np.ndarray | None = None) -> tuple[SessionRecord, str]:
        """Returns the session and its client token (shown once; only its hash is kept). The reference photo's
        embedding is computed by the caller off the event loop (`embed_reference`)."""
        return await self._create(options, reference, Tenant.INTEGRATOR)

    async def create_demo(self, client: str, allowed_origin: str) -> tuple[SessionRecord, str, str]:
        """A session for the keyless demo page, from the demo's own quota (`client`: the caller's address).
        Returns the session, its client token and the token the page reads the status with."""
        self.demo_quota.admit(client, self.open_count(Tenant.DEMO), self.clock())
        status_token = secrets.token_urlsafe(24)
        options = SessionOptions(allowed_origins=(allowed_origin,), ttl_s=self.settings.demo_ttl_s)
        session, token = await self._create(options, None, Tenant.DEMO, hash_token(status_token))
        self._demo_open[session.id] = session.expires_at + self.settings.check_timeout_s
        return session, token, status_token

    async def _create(self, options: SessionOptions, reference: np.ndarray | None, tenant: Tenant,
                      status_token_hash: str | None = None) -> tuple[SessionRecord, str]:
        actions = self._choose_actions(options)
        ttl = self.settings.session_ttl_s if options.ttl_s is None else options.ttl_s
        if not 1 <= ttl <= MAX_TTL_S:
            raise SessionError("invalid_ttl", f"ttl must be within 1..{int(MAX_TTL_S)} seconds.", 400)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        # kept until its ttl, a whole check and the result's retention have passed (a decision moves it on)
        purge_at = now + ttl + self.settings.check_timeout_s + self.cluster.result_retention_s
        record = SessionRecord(
            id=secrets.token_urlsafe(16), token_hash=hash_token(token), actions=actions, created_at=now,
            expires_at=now + ttl, purge_at=purge_at, allowed_origins=tuple(options.allowed_origins),
            audit_images=options.audit_images, owner=options.owner, tenant=tenant.value,
            recording_fallback=options.recording_fallback, status_token_hash=status_token_hash,
            reference=None if reference is None else np.asarray(reference, dtype=np.float32).tobytes(),
            reference_given=options.reference_photo is not None,
        )
        await self.store.create(record)
        await self.store.put_item(TOKEN_ITEM, record.token_hash, {"id": record.id}, purge_at - now)
        return record, token

    def embed_reference(self, photo: bytes) -> np.ndarray:
        """Blocking (run it in a worker): the reference photo's embedding, or a clear error."""
        vector = self.engine.embed_photo(photo)
        if vector is None:
            raise SessionError("reference_no_face", "The reference photo shows no face.", 400)
        return vector

    def _choose_actions(self, options: SessionOptions) -> tuple[str, ...]:
        if options.actions is not None:
            unknown = [a for a in options.actions if a not in ACTIONS]
            if unknown or len(options.actions) > MAX_ACTIONS:
                raise SessionError("invalid_actions", f"actions: at most {MAX_ACTIONS} of {', '.join(ACTIONS)}.", 400)
            return tuple(options.actions)
        count = self.settings.action_count if options.action_count is None else options.action_count
        if not 0 <= count <= MAX_ACTIONS:
            raise SessionError("invalid_actions", f"action_count must be within 0..{MAX_ACTIONS}.", 400)
        return draw_actions(count)

    async def get(self, session_id: str, owner: str | None = None) -> SessionRecord:
        """With `owner` (an integrator reading), a session another integrator created, and any demo session, is
        answered as not found."""
        session = await self.store.get(session_id)
        if session is None:
            raise not_found()
        if owner is not None and (session.tenant == Tenant.DEMO or (session.owner is not None and session.owner != owner)):
            raise not_found()
        return await self._expire_if_due(session)

    async def get_demo(self, session_id: str, status_token: str | None) -> SessionRecord:
        """A demo session for the demo page that created it (its status token); anything else is not found."""
        session = await self.store.get(session_id)
        if session is None or session.tenant != Tenant.DEMO or not token_matches(status_token, session.status_token_hash):
            raise not_found()
        return await self._expire_if_due(session)

    async def find_by_token(self, token: str) -> SessionRecord:
        """The session a client token belongs to (one store lookup by the token's hash)."""
        found = await self.store.get_item(TOKEN_ITEM, hash_token(token))
        if found is None:
            raise not_found()
        return await self.get(str(found["id"]))

    async def _expire_if_due(self, session: SessionRecord) -> SessionRecord:
        if session.status != CREATED or self.clock() < session.expires_at:
            return session
        now = self.clock()
        expired = await update(self.store, session.id, lambda r: r.bump(
            status=EXPIRED, decided_at=now, reference=None,
            purge_at=now + self.cluster.result_retention_s) if r.status == CREATED else None)
        if expired is None:
            raise not_found()
        self._demo_open.pop(session.id, None)
        return expired

    # -- client side ---------------------------------------------------------------------------------------------

    async def _claimable(self, session_id: str, token: str | None) -> SessionRecord:
        """Checks the one-time token and the session's state (nothing is changed here)."""
        session = await self.get(session_id)
        if not token_matches(token, session.token_hash):
            raise SessionError("invalid_token", "The client token is wrong.", 403)
        if session.status == EXPIRED:
            raise SessionError("session_expired", "The session expired before it started.", 410)
        if session.status != CREATED:
            raise token_used()
        return session

    def _claim_change(self, **changes: Any) -> Callable[[SessionRecord], SessionRecord]:
        """CREATED -> IN_PROGRESS by this node; a session another node (or request) claimed first is token_used."""
        def change(current: SessionRecord) -> SessionRecord:
            if current.status != CREATED or self.clock() >= current.expires_at:
                raise token_used()
            return current.bump(status=IN_PROGRESS, node_id=self.node_id, started_at=self.clock(), **changes)
        return change

    def _check_node_cap(self, tenant: Tenant) -> None:
        """This node's cap (the demo's apart). Checked and reserved with no await in between."""
        if tenant == Tenant.DEMO:
            self.demo_quota.check_live(self.counts(Tenant.DEMO)["live"])
        elif self.counts(Tenant.INTEGRATOR)["live"] >= self.settings.max_sessions:
            raise SessionError("too_many_sessions", "Too many live checks are running; try again shortly.", 503,
                               retry_after_s=5)

    async def _check_cluster_cap(self) -> None:
        if self.cluster.max_live_checks > 0:
            running = total(await self.store.counts(), IN_PROGRESS)
            if running >= self.cluster.max_live_checks:
                raise SessionError("too_many_sessions", "Too many checks are running in the cluster; try again "
                                   "shortly.", 503, retry_after_s=5)

    async def offer(self, session_id: str, token: str | None, sdp: str, kind: str = "offer") -> dict[str, str]:
        """Exchanges SDP for a session: returns the answer. The offer is validated, the token checked and the
        caps applied before the session is claimed and a landmarker or a peer connection is taken."""
        session = await self._claimable(session_id, token)
        tenant = Tenant(session.tenant)
        self._check_node_cap(tenant)
        self._pending[tenant] += 1  # holds the slot until the local check is registered
        try:
            await self._check_cluster_cap()
            validate_offer(sdp, kind)
            claimed = await update(self.store, session_id, self._claim_change())
            if claimed is None:
                raise not_found()
            local = LocalCheck(claimed)
            self._local[session_id] = local
        finally:
            self._pending[tenant] -= 1
        loop = asyncio.get_running_loop()
        try:
            analyzer, landmarker = await loop.run_in_executor(self.executor, self.engine.stream_analyzer)
            local.landmarker = landmarker
            challenge = ChallengeSession(claimed.actions, self.settings, self.engine.settings,
                                         keep_audit_frames=claimed.audit_images)
            local.peer = LivePeer(self.settings, challenge, analyzer, self.executor,
                                  functools.partial(self._peer_finished, local), time.monotonic)
            answer = await local.peer.answer(sdp, kind)
        except Exception as exc:
            await self._end(local, ["invalid_offer"])
            if isinstance(exc, SessionError):
                raise
            if isinstance(exc, Overloaded):  # the live landmarker pool stayed full past its bounded wait
                raise SessionError("too_many_sessions", exc.message, 503) from None
            raise SessionError("invalid_offer", f"The SDP offer could not be used: {exc}", 400) from None
        return {"sdp": answer.sdp, "type": answer.type}

    async def _peer_finished(self, local: LocalCheck, peer: LivePeer) -> None:
        if local.peer is peer:
            await self._end(local, None)

    def _ours(self, record: SessionRecord) -> bool:
        """Still this node's live check (not taken over by the fallback on another node, not decided)."""
        return record.status == IN_PROGRESS and record.node_id == self.node_id and record.fallback is None

    async def _end(self, local: LocalCheck, reasons: list[str] | None) -> None:
        """Decides (if not yet), then closes the peer connection and releases the landmarker. Safe to call twice.

        The decision is written to the store before the connection is closed: closing waits for the result
        message to reach the browser, and an integrator polling the session (on any node) must never see
        IN_PROGRESS after the widget showed a result."""
        if local.ending:
            return
        local.ending = True
        session_id = local.record.id
        peer = local.peer
        try:
            if peer is not None and reasons is None and peer.stats.frames_analyzed == 0 and self._lost_in_transport(peer):
                # the connection never delivered a frame (ICE failed, say): leave the session undecided so the
                # recording fallback can still run; the sweep fails it with this reason if nothing follows
                outcome = peer.challenge.outcome
                stalled = outcome.reasons[0] if outcome is not None and outcome.reasons else DISCONNECTED
                await update(self.store, session_id,
                             lambda r: r.bump(stalled=stalled) if self._ours(r) and not r.frames_seen else None)
                await self._drop_peer(local)
                return
            result: dict[str, Any] | None = None
            if peer is not None:
                outcome = peer.challenge.outcome
                if outcome is None:
                    peer.challenge.cancel((reasons or [DISCONNECTED])[0], peer._now_ms())
                    outcome = peer.challenge.outcome
                local.stats = peer.stats
                if outcome is not None:
                    try:
                        result = await asyncio.get_running_loop().run_in_executor(
                            self.executor, self._live_result, local.record, outcome)
                    except Exception:
                        result = failed_result(SessionMode.LIVE, ["internal_error"])
                    passed = bool(outcome.alive and result.get("alive"))
                    await self._decide(session_id, SUCCEEDED if passed else FAILED, result, self._ours)
            if result is None:
                await self._decide(session_id, FAILED, failed_result(SessionMode.LIVE, reasons or ["internal_error"]),
                                   self._ours)
            if peer is not None:
                await peer.close()
                local.peer = None
            await self._release(local)
        finally:
            self._local.pop(session_id, None)
            if local.stats is not None:
                self._recent_stats[session_id] = local.stats
                while len(self._recent_stats) > RECENT_STATS:
                    self._recent_stats.popitem(last=False)

    async def _decide(self, session_id: str, status: SessionStatus, result: dict[str, Any],
                      allowed: Callable[[SessionRecord], bool]) -> SessionRecord | None:
        """Writes the decision unless `allowed(current)` says the session is no longer this caller's to decide."""
        now = self.clock()
        self._demo_open.pop(session_id, None)
        return await update(self.store, session_id, lambda r: r.bump(
            status=status, result=result, decided_at=now, reference=None, stalled=None,
            purge_at=now + self.cluster.result_retention_s) if allowed(r) else None)

    @staticmethod
    def _lost_in_transport(peer: LivePeer) -> bool:
        """True when the check ended because the connection or the camera track went away, not by the user's
        cancel or an error: only then may the recording fallback take over the unused session."""
        outcome = peer.challenge.outcome
        return outcome is None or not outcome.reasons or outcome.reasons[0] in (DISCONNECTED, STREAM_ENDED)

    async def _drop_peer(self, local: LocalCheck) -> None:
        """Closes the peer connection and frees the landmarker without deciding anything."""
        peer, local.peer = local.peer, None
        if peer is not None:
            await peer.close()
            local.stats = peer.stats
        await self._release(local)

    async def _release(self, local: LocalCheck) -> None:
        landmarker, local.landmarker = local.landmarker, None
        if landmarker is not None:
            self.engine.release(landmarker)

    # -- results -------------------------------------------------------------------------------------------------

    def _inputs(self, record: SessionRecord) -> ResultInputs:
        return ResultInputs(audit_images=record.audit_images, reference=reference_of(record))

    def _live_result(self, record: SessionRecord, outcome: ChallengeOutcome) -> dict[str, Any]:
        """Blocking: the integrator's full result of a live check (embedding for the match, JPEG encoding)."""
        return live_result(self.engine, self._inputs(record), outcome)

    # -- recording fallback (no WebRTC in the browser; realtime/fallback.py) -----------------------------------------

    async def _fallback_session(self, session_id: str, token: str | None) -> SessionRecord:
        session = await self.get(session_id)
        if not token_matches(token, session.token_hash):
            raise SessionError("invalid_token", "The client token is wrong.", 403)
        if not session.recording_fallback:
            raise SessionError(FallbackCode.NOT_ALLOWED, "This session does not allow the recording fallback.", 403)
        return session

    def _plan(self, session: SessionRecord) -> FallbackPlan:
        if session.fallback is None:
            raise SessionError(FallbackCode.NOT_STARTED, "Start the recording first.", 409)
        return FallbackPlan.from_dict(session.fallback)

    async def start_recording(self, session_id: str, token: str | None) -> FallbackPlan:
        """The client started recording: from now on the server's clock is the clip's clock. Claims the session
        (the offer is then refused with token_used) and draws the random prompt times; nothing about the actions
        is revealed. Asking again returns the same plan. Also allowed after an offer whose connection never
        delivered a frame (on whichever node ran it); once live frames were analyzed it is refused (token_used)."""
        session = await self._fallback_session(session_id, token)
        if session.fallback is not None and session.status == IN_PROGRESS and not session.recording_used:
            return self._plan(session)
        now = self.clock()
        plan = FallbackPlan.draw(session.actions, FallbackTiming.from_settings(self.settings), now, self.rng)
        if session.status == IN_PROGRESS and session.fallback is None:
            local = self._local.get(session_id)
            if local is not None:  # the live attempt runs here: drop it unless it already analyzed a frame
                if local.ending or (local.peer is not None and local.peer.stats.frames_analyzed > 0):
                    raise token_used()
                local.ending = True  # no decision from the peer while it is dropped
                await self._drop_peer(local)
                self._local.pop(session_id, None)
                if local.stats is not None and local.stats.frames_analyzed > 0:
                    # a frame slipped through while closing: the live check counts
                    await self._decide(session_id, FAILED, failed_result(SessionMode.LIVE, [DISCONNECTED]), self._ours)
                    raise token_used()

            def take_over(current: SessionRecord) -> SessionRecord:
                # the live attempt (here or on another node) never analyzed a frame: the fallback takes over
                if current.status != IN_PROGRESS or current.fallback is not None or current.frames_seen:
                    raise token_used()
                return current.bump(fallback=plan.to_dict(), node_id=self.node_id, stalled=None, started_at=now)
            taken = await update(self.store, session_id, take_over)
        else:
            await self._claimable(session_id, token)
            taken = await update(self.store, session_id, self._claim_change(fallback=plan.to_dict()))
        if taken is None:
            raise not_found()
        return self._plan(taken)

    async def fallback_state(self, session_id: str, token: str | None) -> tuple[FallbackPlan, float]:
        return self._plan(await self._fallback_session(session_id, token)), self.clock()

    async def next_prompt(self, session_id: str, token: str | None) -> tuple[FallbackPrompt, FallbackPlan, float]:
        """Issues the next prompt once it is due; the store keeps the time it was issued (any node may serve the
        next request)."""
        await self._fallback_session(session_id, token)
        now = self.clock()
        issued: list[tuple[FallbackPrompt, FallbackPlan]] = []

        def issue(current: SessionRecord) -> SessionRecord:
            plan = self._plan(current)
            if current.recording_used or current.status != IN_PROGRESS:
                raise SessionError("token_used", "A session runs once; its recording was already judged.", 409)
            prompt = plan.issue(now)
            issued[:] = [(prompt, plan)]
            return current.bump(fallback=plan.to_dict())

        if await update(self.store, session_id, issue) is None:
            raise not_found()
        prompt, plan = issued[0]
        return prompt, plan, now

    async def decide_recording(self, session_id: str, token: str | None, data: bytes,
                               run: Callable[..., Any] | None = None) -> SessionRecord:
        """Judges the uploaded recording with the same engine rules, each action inside the window the server
        timed (mapped to clip time by the recording's start), and finishes the session. Refused after the
        deadline; failed when the clip is longer than the time since the recording started. `run(fn, *args)` runs
        blocking work (default: our executor). The upload that claims the recording (compare-and-set) is the one
        judged; this node is then the session's node (a crash here leaves it node_lost, not IN_PROGRESS)."""
        received = self.clock()
        session = await self._fallback_session(session_id, token)
        if session.recording_used or session.status not in (CREATED, IN_PROGRESS):
            raise SessionError("token_used", "A session runs once; its recording was already judged.", 409)
        self._plan(session)

        def claim(current: SessionRecord) -> SessionRecord:
            if current.recording_used or current.status != IN_PROGRESS or current.fallback is None:
                raise SessionError("token_used", "A session runs once; its recording was already judged.", 409)
            return current.bump(recording_used=True, node_id=self.node_id)

        self._judging += 1
        try:
            session = await update(self.store, session_id, claim) or session
            plan = self._plan(session)
            try:
                plan.check_deadline(received)
            except SessionError as exc:
                await self._fail_recording(session_id, exc.code)
                raise
            if not data:  # judged like any unusable recording: the session ends FAILED
                await self._fail_recording(session_id, "empty_recording")
                raise SessionError("empty_recording", "The recording is empty.", 400)
            # the probes come first (a probe found fails the check); then the prompted actions in their windows
            probes = plan.probes()
            options = AnalysisOptions(actions=tuple(a for a, _ in probes) + session.actions,
                                      action_windows_ms=tuple(w for _, w in probes) + plan.windows_ms() or None)
            try:
                if run is None:
                    loop = asyncio.get_running_loop()
                    verdict = await loop.run_in_executor(self.executor, self.engine.analyze, data, options)
                else:
                    verdict = await run(self.engine.analyze, data, options)
            except InputError as exc:  # a broken recording fails the session with the input's code (no retry)
                await self._fail_recording(session_id, exc.code)
                raise
            except Exception:  # not the recording's fault (server busy, say): the client may send it again
                await update(self.store, session_id, lambda r: r.bump(recording_used=False)
                             if r.status == IN_PROGRESS and r.recording_used else None)
                raise
            extra = [] if plan.fits_timeline(verdict.duration_s, received) else [FallbackCode.TIMELINE.value]
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                self.executor, recording_result, self.engine, self._inputs(session), verdict, len(probes), extra)
            decided = await self._decide(session_id, SUCCEEDED if result["alive"] else FAILED, result,
                                         lambda r: r.status == IN_PROGRESS)
            return decided or await self.get(session_id)
        finally:
            self._judging -= 1

    async def _fail_recording(self, session_id: str, code: str) -> None:
        await self._decide(session_id, FAILED, failed_result(SessionMode.RECORDING, [code]),
                           lambda r: r.status == IN_PROGRESS)

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
        await self._sweep_local(now)
        await self._sweep_cluster(now)
        self._status_counts = await self.store.counts()
        if now - self._last_purge > PURGE_EVERY_S:
            self._last_purge = now
            await self.store.purge()

    async def _sweep_local(self, now: float) -> None:
        """A connection that delivers no frame frees its slot and landmarker after connect_timeout_s (the session
        stays open for the fallback); a check past check_timeout_s + 10 s fails; a check taken over by the
        fallback (on another node) is dropped; the first analyzed frame is written to the store."""
        for local in list(self._local.values()):
            if local.ending or local.peer is None:
                continue
            current = await self.store.get(local.record.id)
            if current is None or not self._ours(current):
                local.ending = True
                await self._drop_peer(local)
                self._local.pop(local.record.id, None)
                continue
            peer, started = local.peer, current.started_at or now
            if peer.stats.frames_analyzed > 0 and not local.frames_recorded:
                marked = await update(self.store, current.id,
                                      lambda r: r.bump(frames_seen=True) if self._ours(r) else None)
                local.frames_recorded = marked is not None and marked.frames_seen
            if peer.stats.frames_received == 0 and now - started > self.settings.connect_timeout_s:
                await self._end(local, None)
            elif now - started > self.settings.check_timeout_s + 10:
                await self._end(local, ["timeout"])

    async def _sweep_cluster(self, now: float) -> None:
        """Any node decides these, whichever node claimed them: a lapsed heartbeat fails its sessions
        `node_lost`; a stalled connection nobody took over fails with its reason; a recording that did not arrive
        by its deadline fails."""
        for record in await lost_sessions(self.store):
            lost_node = record.node_id
            await self._decide(record.id, FAILED, failed_result(mode_of(record), [NODE_LOST]),
                               lambda r, n=lost_node: r.status == IN_PROGRESS and r.node_id == n)
        for record in await self.store.in_progress():
            if record.id in self._local or record.started_at is None:
                continue
            if record.fallback is not None:
                plan = FallbackPlan.from_dict(record.fallback)
                if not record.recording_used and plan.elapsed_ms(now) > plan.upload_by_ms:
                    await self._decide(record.id, FAILED, failed_result(SessionMode.RECORDING,
                                       [FallbackCode.DEADLINE_PASSED.value]),
                                       lambda r, v=record.version: r.version == v)
            elif record.stalled is not None and now - record.started_at > self.settings.check_timeout_s + 10:
                await self._decide(record.id, FAILED, failed_result(SessionMode.LIVE, [record.stalled]),
                                   lambda r, v=record.version: r.version == v)
