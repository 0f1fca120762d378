"""The live checks this node runs: their peer connections and landmarkers, which never leave the process (the
session itself, and the result, live in the store: realtime/book.py).

A check is decided here and the decision written to the store before its connection closes. It is decided only
while the session is still this node's (`SessionBook.ours`): a check taken over by the recording fallback, or
failed `node_lost` by another node while this one was paused, is dropped without a word.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from realtime import protocol as p
from realtime.book import SessionBook, reference_of, token_used
from realtime.capacity import BUSY, Admission, FrameMeter, Headroom
from realtime.challenge import ChallengeOutcome, ChallengeSession
from realtime.errors import SessionCode, SessionError
from realtime.modes import SessionMode, Tenant
from realtime.peer import LivePeer, PipelineStats
from realtime.reasons import LiveReason
from realtime.results import ResultInputs, SessionResult, failed_result, live_result
from realtime.settings import RealtimeSettings
from realtime.status import SessionStatus
from realtime.store import SessionRecord, StoreError, update
from scoring.engine import LivenessEngine
from scoring.errors import Overloaded

RECENT_STATS = 256
log = logging.getLogger(__name__)


@dataclass
class LocalCheck:
    """What only the node running a live check holds: its peer connection and landmarker."""

    record: SessionRecord  # as claimed (actions, audit images, reference)
    peer: LivePeer | None = None
    landmarker: object | None = None
    stats: PipelineStats | None = None
    ending: bool = False
    frames_recorded: bool = False  # frames_seen was written to the store
    started: float = field(default_factory=time.monotonic)  # when this node began setting it up

    @property
    def tenant(self) -> Tenant:
        return self.record.tenant


def result_inputs(record: SessionRecord) -> ResultInputs:
    return ResultInputs(audit_images=record.audit_images, reference=reference_of(record))


class LiveChecks:
    def __init__(
        self,
        engine: LivenessEngine,
        settings: RealtimeSettings,
        book: SessionBook,
        executor: ThreadPoolExecutor,
        frames: ThreadPoolExecutor | None = None,
        admission: Admission | None = None,
    ) -> None:
        """`executor` sets checks up and writes their results; `frames` (the frame workers, one per core of this
        process) analyzes their frames; `admission` decides whether a new check fits (realtime/capacity.py)."""
        self.engine = engine
        self.settings = settings
        self.book = book
        self.executor = executor
        self.frames = frames or executor
        self.admission = admission or Admission(
            FrameMeter(), 1, settings.guaranteed_fps, settings.admit_utilisation, settings.admit_frame_ms
        )
        self._local: dict[str, LocalCheck] = {}
        self._pending: dict[Tenant, int] = {t: 0 for t in Tenant}  # offers past the cap check, not yet claimed
        self._pending_ids: dict[str, int] = {}  # ... by session: concurrent offers for one session start one check
        self._recent_stats: OrderedDict[str, PipelineStats] = OrderedDict()  # of checks that ended here (bounded)

    # -- figures -------------------------------------------------------------------------------------------------

    def counts(self, tenant: Tenant | None = None) -> dict[str, int]:
        """Checks running here (being set up included), open peer connections, landmarkers held."""
        checks = [c for c in self._local.values() if tenant is None or c.tenant == tenant]
        pending = sum(n for t, n in self._pending.items() if tenant is None or t == tenant)
        return {
            "live": sum(1 for c in checks if not c.ending) + pending,
            "peers": sum(1 for c in checks if c.peer is not None),
            "landmarkers": sum(1 for c in checks if c.landmarker is not None),
        }

    def running(self) -> int:
        return len(self._local)

    def headroom(self, session_id: str | None = None) -> Headroom:
        """Checks this node holds at the guaranteed rate against those running or being set up (any tenant;
        offers for `session_id`, the one asking, apart: only one of them can start it)."""
        now = time.monotonic()
        checks = [c for c in self._local.values() if not c.ending]
        rates = [c.peer.stats.rate(now) for c in checks if c.peer is not None]
        starting = sum(1 for sid, n in self._pending_ids.items() if n > 0 and sid != session_id)
        return self.admission.headroom(len(checks) + starting, rates)

    def admit(self, session_id: str) -> None:
        """Raises 503 `busy` (+ Retry-After) unless the check of `session_id` fits beside the running ones at the
        guaranteed rate. Call with no await before `reserve`, so two offers cannot both take the last place."""
        room = self.headroom(session_id)
        if room.free > 0:
            return
        now = time.monotonic()
        oldest = max((now - c.started for c in self._local.values() if not c.ending), default=0.0)
        why = (
            f"{room.behind} running check(s) fall behind {room.guaranteed_fps:g} fps"
            if room.behind
            else f"it holds {room.capacity} live check(s) at {room.guaranteed_fps:g} fps and runs {room.running}"
        )
        raise SessionError(
            BUSY,
            f"This node is busy: {why}; try again shortly.",
            503,
            retry_after_s=self.admission.retry_after_s(oldest),
        )

    def holds(self, session_id: str) -> bool:
        return session_id in self._local

    def pipeline_stats(self, session_id: str) -> PipelineStats | None:
        """Frame pipeline figures of a live check run here (running, or among the last RECENT_STATS ended)."""
        local = self._local.get(session_id)
        if local is not None and local.peer is not None:
            return local.peer.stats
        return self._recent_stats.get(session_id)

    # -- one check -----------------------------------------------------------------------------------------------

    def reserve(self, tenant: Tenant, session_id: str = "") -> None:
        """Holds a slot of `tenant` from the cap check until `start` registers the check (or `unreserve`)."""
        self._pending[tenant] += 1
        self._pending_ids[session_id] = self._pending_ids.get(session_id, 0) + 1

    def unreserve(self, tenant: Tenant, session_id: str = "") -> None:
        self._pending[tenant] -= 1
        left = self._pending_ids.get(session_id, 1) - 1
        if left > 0:
            self._pending_ids[session_id] = left
        else:
            self._pending_ids.pop(session_id, None)

    async def start(self, claimed: SessionRecord, sdp: str, kind: str) -> dict[str, str]:
        """Runs the claimed session's check here: a landmarker, the challenge, the peer connection; the answer."""
        local = LocalCheck(claimed)
        self._local[claimed.id] = local
        loop = asyncio.get_running_loop()
        try:
            analyzer, landmarker = await loop.run_in_executor(self.executor, self.engine.stream_analyzer)
            local.landmarker = landmarker
            challenge = ChallengeSession(
                claimed.actions,
                self.settings,
                self.engine.settings,
                keep_audit_frames=claimed.audit_images,
                light=claimed.light,
            )
            local.peer = LivePeer(
                self.settings,
                challenge,
                analyzer,
                self.frames,
                functools.partial(self._peer_finished, local),
                time.monotonic,
                meter=self.admission.meter,
            )
            answer = await local.peer.answer(sdp, kind)
        except Exception as exc:
            await self.end(local, [SessionCode.INVALID_OFFER])
            if isinstance(exc, SessionError):
                raise
            if isinstance(exc, Overloaded):  # the live landmarker pool stayed full past its bounded wait
                raise SessionError(SessionCode.TOO_MANY_SESSIONS, exc.message, 503) from None
            # the WebRTC stack's own words are for the operator's log, never for the client
            log.warning(
                "session %s: the WebRTC stack refused the offer: %s: %r", claimed.id, type(exc).__name__, str(exc)[:200]
            )
            raise SessionError(SessionCode.INVALID_OFFER, "The SDP offer could not be used.", 400) from None
        return {"sdp": answer.sdp, "type": answer.type}

    async def _peer_finished(self, local: LocalCheck, peer: LivePeer) -> None:
        if local.peer is peer:
            await self.end(local, None)

    async def end(self, local: LocalCheck, reasons: list[str] | None) -> None:
        """Decides (if not yet), then closes the peer connection and releases the landmarker. Safe to call twice.

        The decision is written to the store before the browser is told, and what it is told is the stored
        outcome (`done`, then `result` with the stored status): the embedding page and an integrator polling the
        session (on any node) see the same outcome, and never IN_PROGRESS after the widget showed one. Closing
        waits for that message to reach the browser."""
        if local.ending:
            return
        local.ending = True
        peer = local.peer
        try:
            if (
                peer is not None
                and reasons is None
                and peer.stats.frames_analyzed == 0
                and self._lost_in_transport(peer)
            ):
                await self._leave_open(local, peer)
                return
            stored = await self._decide(local, peer, reasons)
            if peer is not None:
                if stored is not None and stored.status.decided:
                    peer.tell([p.State(p.Phase.DONE), p.Result(stored.status)])
                await peer.close()
                local.peer = None
            self._release(local)
        finally:
            self._forget(local)

    async def _leave_open(self, local: LocalCheck, peer: LivePeer) -> None:
        """The connection never delivered a frame (ICE failed, say): the session stays undecided so the recording
        fallback can still run; the sweep fails it with this reason if nothing follows."""
        outcome = peer.challenge.outcome
        stalled = outcome.reasons[0] if outcome is not None and outcome.reasons else LiveReason.DISCONNECTED
        ours = self.book.ours
        await update(
            self.book.store,
            local.record.id,
            lambda r: r.bump(stalled=stalled) if ours(r) and not r.frames_seen else None,
        )
        await self._drop_peer(local)

    async def _decide(
        self, local: LocalCheck, peer: LivePeer | None, reasons: list[str] | None
    ) -> SessionRecord | None:
        """The session's result (realtime/results.py) written to the store while the session is still this
        node's; the stored record, or None when it no longer was (or the store could not be reached)."""
        result: SessionResult | None = None
        if peer is not None:
            if peer.challenge.outcome is None:
                peer.challenge.cancel((reasons or [LiveReason.DISCONNECTED])[0], peer._now_ms())
            outcome = peer.challenge.outcome
            local.stats = peer.stats
            if outcome is not None:
                try:
                    result = await asyncio.get_running_loop().run_in_executor(
                        self.executor, self._live_result, local.record, outcome
                    )
                except Exception:
                    log.exception("live check result failed")
                    result = failed_result(self.engine, SessionMode.LIVE, [LiveReason.INTERNAL_ERROR])
        if result is None:
            result = failed_result(self.engine, SessionMode.LIVE, reasons or [LiveReason.INTERNAL_ERROR])
        try:
            return await self.book.decide(local.record.id, result.status, result, self.book.ours)
        except StoreError:
            log.exception("live check %s: the result could not be stored", local.record.id)
            return None

    def _forget(self, local: LocalCheck) -> None:
        if self._local.pop(local.record.id, None) is not None and local.stats is not None:
            if local.stats.frames_analyzed > 0:  # a check that ran: how long one takes (Retry-After)
                self.admission.ended(time.monotonic() - local.started)
        if local.stats is not None:
            self._recent_stats[local.record.id] = local.stats
            while len(self._recent_stats) > RECENT_STATS:
                self._recent_stats.popitem(last=False)

    @staticmethod
    def _lost_in_transport(peer: LivePeer) -> bool:
        """True when the check ended because the connection or the camera track went away, not by the user's
        cancel or an error: only then may the recording fallback take over the unused session."""
        outcome = peer.challenge.outcome
        return (
            outcome is None
            or not outcome.reasons
            or outcome.reasons[0] in (LiveReason.DISCONNECTED, LiveReason.STREAM_ENDED)
        )

    async def _drop_peer(self, local: LocalCheck) -> None:
        """Closes the peer connection and frees the landmarker without deciding anything."""
        peer, local.peer = local.peer, None
        if peer is not None:
            await peer.close()
            local.stats = peer.stats
        self._release(local)

    def _release(self, local: LocalCheck) -> None:
        landmarker, local.landmarker = local.landmarker, None
        if landmarker is not None:
            self.engine.release(landmarker)

    def _live_result(self, record: SessionRecord, outcome: ChallengeOutcome) -> SessionResult:
        """Blocking: the integrator's full result of a live check (embedding for the match, JPEG encoding)."""
        return live_result(self.engine, result_inputs(record), outcome)

    async def yield_to_fallback(self, session_id: str) -> None:
        """The recording fallback takes over a session whose live attempt runs here: the attempt is dropped
        unless it already analyzed a frame (then the live check counts: token_used)."""
        local = self._local.get(session_id)
        if local is None:
            return
        if local.ending or (local.peer is not None and local.peer.stats.frames_analyzed > 0):
            raise token_used()
        local.ending = True  # no decision from the peer while it is dropped
        await self._drop_peer(local)
        self._forget(local)
        if local.stats is not None and local.stats.frames_analyzed > 0:
            # a frame slipped through while closing: the live check counts
            await self.book.decide(
                session_id,
                SessionStatus.FAILED,
                failed_result(self.engine, SessionMode.LIVE, [LiveReason.DISCONNECTED]),
                self.book.ours,
            )
            raise token_used()

    # -- housekeeping --------------------------------------------------------------------------------------------

    async def sweep(self, now: float) -> None:
        """A connection that delivers no frame frees its slot and landmarker after connect_timeout_s (the session
        stays open for the fallback); a check past check_timeout_s + 10 s fails; a check taken over by the
        fallback (on another node), or decided by another node, is dropped; the first analyzed frame is written
        to the store."""
        ours = self.book.ours
        for local in list(self._local.values()):
            if local.ending or local.peer is None:
                continue
            current = await self.book.store.get(local.record.id)
            if current is None or not ours(current):
                local.ending = True
                await self._drop_peer(local)
                self._forget(local)
                continue
            peer, started = local.peer, current.started_at or now
            if peer.stats.frames_analyzed > 0 and not local.frames_recorded:
                marked = await update(
                    self.book.store, current.id, lambda r: r.bump(frames_seen=True) if ours(r) else None
                )
                local.frames_recorded = marked is not None and marked.frames_seen
            if peer.stats.frames_received == 0 and now - started > self.settings.connect_timeout_s:
                await self.end(local, None)
            elif now - started > self.settings.check_timeout_s + 10:
                await self.end(local, [LiveReason.TIMEOUT])

    async def close(self) -> None:
        for local in list(self._local.values()):
            if local.peer is not None:
                await self.end(local, [LiveReason.SERVER_SHUTDOWN])
