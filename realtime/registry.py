"""The session registry: owns every live-check session, its one-time client token, its peer connection and its
landmarker. One object per server (no module state); it sweeps expired sessions and caps concurrent live checks
(integrators' and the demo's apart: realtime/quota.py). Sessions are found by id or by token hash in O(1).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from models.manifest import MANIFEST
from realtime.challenge import DISCONNECTED, STREAM_ENDED, ChallengeOutcome, ChallengeSession, draw_actions
from realtime.errors import SessionError, not_found
from realtime.fallback import FallbackCode, FallbackPlan, FallbackPrompt, FallbackTiming
from realtime.modes import ASSURANCE, SessionMode, Tenant
from realtime.offer import validate_offer
from realtime.peer import LivePeer, PipelineStats
from realtime.quota import DemoLimits, DemoQuota
from realtime.settings import RealtimeSettings
from scoring.actions import ACTIONS
from scoring.embedding import align_face, cosine
from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.errors import InputError, Overloaded
from scoring.imaging import encode_jpeg
from scoring.match import MatchResult
from scoring.verdict import ACTIONS_FAILED, Verdict

__all__ = ["SessionError", "not_found", "SessionRegistry", "SessionOptions", "LiveSession"]

CREATED, IN_PROGRESS, SUCCEEDED, FAILED, EXPIRED = "CREATED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "EXPIRED"
STATUSES = (CREATED, IN_PROGRESS, SUCCEEDED, FAILED, EXPIRED)
MAX_ACTIONS = 6
MAX_TTL_S = 3600.0
RESULT_RETENTION_S = 3600.0  # a decided session's result stays fetchable this long


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
class LiveSession:
    id: str
    token_hash: bytes
    actions: tuple[str, ...]
    created_at: float  # monotonic
    expires_at: float  # monotonic; a session not started by then is EXPIRED
    expires_at_wall: float
    allowed_origins: tuple[str, ...]
    audit_images: bool
    owner: str | None = None
    tenant: Tenant = Tenant.INTEGRATOR
    recording_fallback: bool = False
    status_token_hash: bytes | None = None  # demo sessions: the page's key to read the status
    reference: np.ndarray | None = field(default=None, repr=False)
    reference_given: bool = False
    status: str = CREATED
    token_used: bool = False
    started_at: float | None = None
    decided_at: float | None = None
    peer: LivePeer | None = None
    landmarker: object | None = None
    fallback: FallbackPlan | None = None
    recording_used: bool = False
    result: dict[str, Any] | None = None
    ending: bool = False
    stalled: str | None = None  # the peer ended before any frame was analyzed: why (the fallback may still run)
    stats: PipelineStats | None = None  # frame pipeline figures of the live check, for metrics and the benchmark

    @property
    def mode(self) -> SessionMode:
        return SessionMode.RECORDING if self.fallback is not None else SessionMode.LIVE

    @property
    def running(self) -> bool:
        """A live check holding (or about to hold) a slot: started over WebRTC and not stalled."""
        return self.status == IN_PROGRESS and self.stalled is None and self.fallback is None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"session_id": self.id, "status": self.status, "expires_at": int(self.expires_at_wall)}
        if self.result is not None:
            out["result"] = self.result
        return out


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_matches(token: str | None, digest: bytes | None) -> bool:
    return bool(token) and digest is not None and hmac.compare_digest(hash_token(token or ""), digest)


def model_versions() -> dict[str, str]:
    return {m.key: f"{m.filename}@sha256:{m.sha256[:12]}" for m in MANIFEST}


def failed_result(mode: SessionMode, reasons: list[str]) -> dict[str, Any]:
    return {"alive": False, "reasons": reasons, "mode": mode.value, "assurance": ASSURANCE[mode].value,
            "model_versions": model_versions()}


class SessionRegistry:
    def __init__(
        self,
        engine: LivenessEngine,
        settings: RealtimeSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.wall = wall
        self.rng = rng or secrets.SystemRandom()  # fallback timing: unpredictable by default
        self.executor = ThreadPoolExecutor(max_workers=max(2, settings.max_sessions + settings.demo_max_live),
                                           thread_name_prefix="live")
        self.demo_quota = DemoQuota(DemoLimits(settings.demo_max_open, settings.demo_max_live,
                                               settings.demo_per_client_per_minute))
        self._sessions: dict[str, LiveSession] = {}
        self._by_token: dict[bytes, str] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for session in list(self._sessions.values()):
            if session.peer is not None:
                await self._end(session, ["server_shutdown"])
        self.executor.shutdown(wait=True)

    def counts(self, tenant: Tenant | None = None) -> dict[str, int]:
        """For tests, caps and metrics: sessions known, checks running, open peer connections, landmarkers held
        (of one tenant, or of all)."""
        sessions = [s for s in self._sessions.values() if tenant is None or s.tenant == tenant]
        return {
            "sessions": len(sessions),
            "live": sum(1 for s in sessions if s.running),
            "peers": sum(1 for s in sessions if s.peer is not None),
            "landmarkers": sum(1 for s in sessions if s.landmarker is not None),
        }

    def open_count(self, tenant: Tenant) -> int:
        """Sessions of `tenant` created and not yet decided or expired."""
        return sum(1 for s in self._sessions.values() if s.tenant == tenant and s.status in (CREATED, IN_PROGRESS))

    def gauges(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        """Prometheus gauges by tenant: sessions held by status, running live checks, peers, landmarkers."""
        by_status: dict[tuple[tuple[str, str], ...], float] = {}
        live: dict[tuple[tuple[str, str], ...], float] = {}
        peers: dict[tuple[tuple[str, str], ...], float] = {}
        landmarkers: dict[tuple[tuple[str, str], ...], float] = {}
        for tenant in Tenant:
            counts = self.counts(tenant)
            label = (("tenant", tenant.value),)
            for status in STATUSES:
                by_status[label + (("status", status),)] = 0
            live[label], peers[label], landmarkers[label] = counts["live"], counts["peers"], counts["landmarkers"]
        for session in self._sessions.values():
            by_status[(("tenant", session.tenant.value), ("status", session.status))] += 1
        return {"livecheck_sessions": by_status, "livecheck_live_checks": live, "livecheck_live_peers": peers,
                "livecheck_live_landmarkers": landmarkers}

    # -- integrator side -----------------------------------------------------------------------------------------

    def create(self, options: SessionOptions, reference: np.ndarray | None = None) -> tuple[LiveSession, str]:
        """Returns the session and its client token (shown once; only its hash is kept). The reference photo's
        embedding is computed by the caller off the event loop (`embed_reference`)."""
        return self._create(options, reference, Tenant.INTEGRATOR)

    def create_demo(self, client: str, allowed_origin: str) -> tuple[LiveSession, str, str]:
        """A session for the keyless demo page, from the demo's own quota (`client`: the caller's address).
        Returns the session, its client token and the token the page reads the status with."""
        self.demo_quota.admit(client, self.open_count(Tenant.DEMO), self.clock())
        options = SessionOptions(allowed_origins=(allowed_origin,), ttl_s=self.settings.demo_ttl_s)
        session, token = self._create(options, None, Tenant.DEMO)
        status_token = secrets.token_urlsafe(24)
        session.status_token_hash = hash_token(status_token)
        return session, token, status_token

    def _create(self, options: SessionOptions, reference: np.ndarray | None, tenant: Tenant) -> tuple[LiveSession, str]:
        actions = self._choose_actions(options)
        ttl = self.settings.session_ttl_s if options.ttl_s is None else options.ttl_s
        if not 1 <= ttl <= MAX_TTL_S:
            raise SessionError("invalid_ttl", f"ttl must be within 1..{int(MAX_TTL_S)} seconds.", 400)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = LiveSession(
            id=secrets.token_urlsafe(16), token_hash=hash_token(token), actions=actions, created_at=now,
            expires_at=now + ttl, expires_at_wall=self.wall() + ttl, allowed_origins=tuple(options.allowed_origins),
            audit_images=options.audit_images, owner=options.owner, tenant=tenant,
            recording_fallback=options.recording_fallback, reference=reference,
            reference_given=options.reference_photo is not None,
        )
        self._sessions[session.id] = session
        self._by_token[session.token_hash] = session.id
        return session, token

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

    def get(self, session_id: str, owner: str | None = None) -> LiveSession:
        """One dict lookup. With `owner` (an integrator reading), a session another integrator created, and any
        demo session, is answered as not found."""
        session = self._sessions.get(session_id)
        if session is None:
            raise not_found()
        if owner is not None and (session.tenant == Tenant.DEMO or (session.owner is not None and session.owner != owner)):
            raise not_found()
        self._expire_if_due(session, self.clock())
        return session

    def get_demo(self, session_id: str, status_token: str | None) -> LiveSession:
        """A demo session for the demo page that created it (its status token); anything else is not found."""
        session = self._sessions.get(session_id)
        if session is None or session.tenant != Tenant.DEMO or not token_matches(status_token, session.status_token_hash):
            raise not_found()
        self._expire_if_due(session, self.clock())
        return session

    def find_by_token(self, token: str) -> LiveSession:
        """The session a client token belongs to (one dict lookup by the token's hash)."""
        session_id = self._by_token.get(hash_token(token))
        if session_id is None or session_id not in self._sessions:
            raise not_found()
        return self.get(session_id)

    def _expire_if_due(self, session: LiveSession, now: float) -> None:
        if session.status == CREATED and now >= session.expires_at:
            session.status = EXPIRED
            session.decided_at = now
            session.reference = None

    # -- client side ---------------------------------------------------------------------------------------------

    def _claim(self, session_id: str, token: str | None) -> LiveSession:
        """Checks the one-time token and the session's state (nothing is changed here)."""
        session = self.get(session_id)
        if not token_matches(token, session.token_hash):
            raise SessionError("invalid_token", "The client token is wrong.", 403)
        if session.status == EXPIRED:
            raise SessionError("session_expired", "The session expired before it started.", 410)
        if session.token_used or session.status != CREATED:
            raise SessionError("token_used", "This session's token was already used; a session runs once.", 409)
        return session

    async def offer(self, session_id: str, token: str | None, sdp: str, kind: str = "offer") -> dict[str, str]:
        """Exchanges SDP for a session: returns the answer. The offer is validated, the token checked and the
        tenant's cap applied before a slot, a landmarker or a peer connection is taken."""
        session = self._claim(session_id, token)  # checks only: nothing changes until the offer is found usable
        if session.tenant == Tenant.DEMO:
            self.demo_quota.check_live(self.counts(Tenant.DEMO)["live"])
        elif self.counts(Tenant.INTEGRATOR)["live"] >= self.settings.max_sessions:
            raise SessionError("too_many_sessions", "Too many live checks are running; try again shortly.", 503,
                               retry_after_s=5)
        validate_offer(sdp, kind)
        session.token_used = True
        session.status = IN_PROGRESS
        session.started_at = self.clock()
        loop = asyncio.get_running_loop()
        try:
            analyzer, landmarker = await loop.run_in_executor(self.executor, self.engine.stream_analyzer)
            session.landmarker = landmarker
            challenge = ChallengeSession(session.actions, self.settings, self.engine.settings,
                                         keep_audit_frames=session.audit_images)
            session.peer = LivePeer(self.settings, challenge, analyzer, self.executor,
                                    functools.partial(self._peer_finished, session), self.clock)
            answer = await session.peer.answer(sdp, kind)
        except Exception as exc:
            await self._end(session, ["invalid_offer"])
            if isinstance(exc, SessionError):
                raise
            if isinstance(exc, Overloaded):  # the live landmarker pool stayed full past its bounded wait
                raise SessionError("too_many_sessions", exc.message, 503) from None
            raise SessionError("invalid_offer", f"The SDP offer could not be used: {exc}", 400) from None
        return {"sdp": answer.sdp, "type": answer.type}

    async def _peer_finished(self, session: LiveSession, peer: LivePeer) -> None:
        if session.peer is peer:
            await self._end(session, None)

    async def _end(self, session: LiveSession, reasons: list[str] | None) -> None:
        """Decides (if not yet), then closes the peer connection and releases the landmarker. Safe to call twice.

        The decision is recorded before the connection is closed: closing waits for the result message to reach the
        browser, and an integrator polling the session must never see IN_PROGRESS after the widget showed a result."""
        if session.ending:
            return
        session.ending = True
        peer = session.peer
        if peer is not None and reasons is None and peer.stats.frames_analyzed == 0 and self._lost_in_transport(peer):
            # the connection never delivered a frame (ICE failed, say): leave the session undecided so the
            # recording fallback can still run; the sweep fails it with this reason if nothing follows
            outcome = peer.challenge.outcome
            session.stalled = outcome.reasons[0] if outcome is not None and outcome.reasons else DISCONNECTED
            await self._drop_peer(session)
            session.ending = False
            return
        if peer is not None:
            outcome = peer.challenge.outcome
            if outcome is None:
                peer.challenge.cancel((reasons or [DISCONNECTED])[0], peer._now_ms())
                outcome = peer.challenge.outcome
            session.stats = peer.stats
            if outcome is not None and session.result is None:
                try:
                    session.result = await asyncio.get_running_loop().run_in_executor(
                        self.executor, self._live_result, session, outcome)
                except Exception:
                    session.result = failed_result(SessionMode.LIVE, ["internal_error"])
                session.status = SUCCEEDED if outcome.alive and session.result.get("alive") else FAILED
            session.decided_at = self.clock()
            await peer.close()
            session.peer = None
        elif session.result is None and session.status == IN_PROGRESS:
            session.result = failed_result(session.mode, reasons or ["internal_error"])
            session.status = FAILED
        landmarker, session.landmarker = session.landmarker, None
        if landmarker is not None:
            self.engine.release(landmarker)
        session.decided_at = session.decided_at or self.clock()

    @staticmethod
    def _lost_in_transport(peer: LivePeer) -> bool:
        """True when the check ended because the connection or the camera track went away, not by the user's
        cancel or an error: only then may the recording fallback take over the unused session."""
        outcome = peer.challenge.outcome
        return outcome is None or not outcome.reasons or outcome.reasons[0] in (DISCONNECTED, STREAM_ENDED)

    async def _drop_peer(self, session: LiveSession) -> None:
        """Closes the peer connection and frees the landmarker without deciding anything."""
        peer, session.peer = session.peer, None
        if peer is not None:
            await peer.close()
            session.stats = peer.stats
        landmarker, session.landmarker = session.landmarker, None
        if landmarker is not None:
            self.engine.release(landmarker)

    # -- results -------------------------------------------------------------------------------------------------

    def _live_result(self, session: LiveSession, outcome: ChallengeOutcome) -> dict[str, Any]:
        """Blocking: the integrator's full result of a live check (embedding for the match, JPEG encoding)."""
        reasons = list(outcome.reasons)
        match = None
        best = None
        images: list[str] = []
        if outcome.best is not None and outcome.best.observation.face is not None:
            face = outcome.best.observation.face
            aligned = align_face(outcome.best.rgb, face.landmarks)
            best = {"timestamp_s": round(outcome.best.observation.timestamp_ms / 1000, 3), "bbox": face.bbox.to_dict(),
                    "quality": face.quality.to_dict(), "liveness": round(float(face.liveness or 0.0), 4)}
            if session.audit_images:
                best["image_jpeg_b64"] = base64.b64encode(encode_jpeg(aligned, 90)).decode()
            if session.reference is not None:
                similarity = cosine(session.reference, self.engine.models.embedder.embed_aligned(aligned))
                match = MatchResult.from_cosine(similarity, self.engine.settings.match_threshold)
        if session.audit_images:
            images = [base64.b64encode(encode_jpeg(f, 80)).decode() for f in outcome.audit_frames[:4]]
        if match is not None and not match.same_person:
            reasons.append("face_mismatch")
        alive = outcome.alive and not reasons
        return {
            "alive": alive,
            "confidence": round(outcome.confidence, 4),
            "average_liveness": round(outcome.average_liveness, 4),
            "liveness_frames": outcome.liveness_frames,
            "actions": [a.to_dict() for a in outcome.actions],
            "best_face": best,
            "audit_images": images,
            "match": match.to_dict() if match else None,
            "reasons": reasons,
            "identity_min_cosine": None if outcome.identity_min_cosine is None else round(outcome.identity_min_cosine, 4),
            "frames_analyzed": outcome.frames_analyzed,
            "duration_s": round(outcome.duration_ms / 1000, 3),
            "mode": SessionMode.LIVE.value,
            "assurance": ASSURANCE[SessionMode.LIVE].value,
            "model_versions": model_versions(),
        }

    # -- recording fallback (no WebRTC in the browser; realtime/fallback.py) -----------------------------------------

    @staticmethod
    def _frames_analyzed(session: LiveSession) -> int:
        stats = session.peer.stats if session.peer is not None else session.stats
        return 0 if stats is None else stats.frames_analyzed

    def _fallback_session(self, session_id: str, token: str | None) -> LiveSession:
        session = self.get(session_id)
        if not token_matches(token, session.token_hash):
            raise SessionError("invalid_token", "The client token is wrong.", 403)
        if not session.recording_fallback:
            raise SessionError(FallbackCode.NOT_ALLOWED, "This session does not allow the recording fallback.", 403)
        return session

    async def start_recording(self, session_id: str, token: str | None) -> FallbackPlan:
        """The client started recording: from now on the server's clock is the clip's clock. Claims the session
        (the offer is then refused with token_used) and draws the random prompt times; nothing about the actions
        is revealed. Asking again returns the same plan. Also allowed after an offer whose connection never
        delivered a frame; once live frames were analyzed it is refused (token_used)."""
        session = self._fallback_session(session_id, token)
        if session.fallback is not None and session.status == IN_PROGRESS and not session.recording_used:
            return session.fallback
        if session.status == IN_PROGRESS and session.fallback is None and not session.ending \
                and self._frames_analyzed(session) == 0:
            session.ending = True  # no decision from the peer while it is dropped
            await self._drop_peer(session)
            session.ending = False
            if self._frames_analyzed(session) > 0:  # a frame slipped through while closing: the live check counts
                await self._end(session, [DISCONNECTED])
                raise SessionError("token_used", "This session's token was already used; a session runs once.", 409)
            session.stalled = None
        else:
            session = self._claim(session_id, token)
        now = self.clock()
        session.fallback = FallbackPlan.draw(session.actions, FallbackTiming.from_settings(self.settings), now, self.rng)
        session.token_used = True
        session.status = IN_PROGRESS
        session.started_at = now
        return session.fallback

    def fallback_state(self, session_id: str, token: str | None) -> tuple[FallbackPlan, float]:
        session = self._fallback_session(session_id, token)
        if session.fallback is None:
            raise SessionError(FallbackCode.NOT_STARTED, "Start the recording first.", 409)
        return session.fallback, self.clock()

    def next_prompt(self, session_id: str, token: str | None) -> tuple[FallbackPrompt, FallbackPlan, float]:
        """Issues the next prompt once it is due; the server keeps the time it issued it."""
        session = self._fallback_session(session_id, token)
        if session.fallback is None:
            raise SessionError(FallbackCode.NOT_STARTED, "Start the recording first.", 409)
        if session.recording_used or session.status != IN_PROGRESS:
            raise SessionError("token_used", "A session runs once; its recording was already judged.", 409)
        now = self.clock()
        return session.fallback.issue(now), session.fallback, now

    async def decide_recording(self, session_id: str, token: str | None, data: bytes, run: Callable[..., Any] | None = None) -> LiveSession:
        """Judges the uploaded recording with the same engine rules, each action inside the window the server
        timed (mapped to clip time by the recording's start), and finishes the session. Refused after the
        deadline; failed when the clip is longer than the time since the recording started. `run(fn, *args)` runs
        blocking work (default: our executor)."""
        received = self.clock()
        session = self._fallback_session(session_id, token)
        if session.recording_used or session.status not in (CREATED, IN_PROGRESS):
            raise SessionError("token_used", "A session runs once; its recording was already judged.", 409)
        plan = session.fallback
        if plan is None:
            raise SessionError(FallbackCode.NOT_STARTED, "Start the recording first.", 409)
        session.recording_used = True
        try:
            plan.check_deadline(received)
        except SessionError as exc:
            self._fail_recording(session, exc.code)
            raise
        if not data:  # judged like any unusable recording: the session ends FAILED
            self._fail_recording(session, "empty_recording")
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
            self._fail_recording(session, exc.code)
            raise
        except Exception:  # not the recording's fault (server busy, say): the client may send it again
            session.recording_used = False
            raise
        extra = [] if plan.fits_timeline(verdict.duration_s, received) else [FallbackCode.TIMELINE.value]
        loop = asyncio.get_running_loop()
        session.result = await loop.run_in_executor(self.executor, self._recording_result, session, verdict,
                                                    len(probes), extra)
        session.status = SUCCEEDED if session.result["alive"] else FAILED
        session.decided_at = self.clock()
        return session

    def _fail_recording(self, session: LiveSession, code: str) -> None:
        session.result = failed_result(SessionMode.RECORDING, [code])
        session.status, session.decided_at = FAILED, self.clock()

    def _recording_result(self, session: LiveSession, verdict: Verdict, probes: int, extra: list[str]) -> dict[str, Any]:
        """The integrator's result of a recording; the first `probes` action results are the movements that must
        not have happened before the first prompt (any found -> moved_before_prompt)."""
        actions = verdict.actions[probes:]
        reasons = [r for r in verdict.reasons if r != ACTIONS_FAILED]
        if not all(a.passed for a in actions):
            reasons.append(ACTIONS_FAILED)
        if any(a.passed for a in verdict.actions[:probes]):
            reasons.append(FallbackCode.MOVED_BEFORE_PROMPT.value)
        reasons += extra
        match = None
        best = None
        if verdict.best_face is not None:
            best = verdict.best_face.to_dict()
            if session.audit_images:
                best["image_jpeg_b64"] = base64.b64encode(encode_jpeg(verdict.best_face.face_rgb, 90)).decode()
            if session.reference is not None:
                vector = self.engine.models.embedder.embed_aligned(verdict.best_face.face_rgb)
                match = MatchResult.from_cosine(cosine(session.reference, vector), self.engine.settings.match_threshold)
                if not match.same_person:
                    reasons.append("face_mismatch")
        confidence = min([verdict.average_liveness] + [a.confidence for a in actions]) if verdict.liveness_frames else 0.0
        return {
            "alive": not reasons,
            "confidence": round(confidence, 4),
            "average_liveness": round(verdict.average_liveness, 4),
            "liveness_frames": verdict.liveness_frames,
            "actions": [a.to_dict() for a in actions],
            "best_face": best,
            "audit_images": [base64.b64encode(encode_jpeg(verdict.best_face.frame_rgb, 80)).decode()]
            if session.audit_images and verdict.best_face is not None else [],
            "match": match.to_dict() if match else None,
            "reasons": reasons,
            "identity_min_cosine": None if verdict.identity_min_cosine is None else round(verdict.identity_min_cosine, 4),
            "frames_analyzed": verdict.frames_analyzed,
            "duration_s": round(verdict.duration_s, 3),
            "mode": SessionMode.RECORDING.value,
            "assurance": ASSURANCE[SessionMode.RECORDING].value,
            "model_versions": model_versions(),
        }

    # -- housekeeping --------------------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Marks unstarted sessions past their TTL EXPIRED and forgets decided ones after the retention time."""
        now = self.clock()
        for session in list(self._sessions.values()):
            self._expire_if_due(session, now)
            if session.decided_at is not None and session.peer is None and now - session.decided_at > RESULT_RETENTION_S:
                del self._sessions[session.id]
                self._by_token.pop(session.token_hash, None)

    async def _sweep_forever(self) -> None:
        while not self._closed:
            await asyncio.sleep(1.0)
            self.sweep()
            await self._enforce_deadlines(self.clock())

    async def _enforce_deadlines(self, now: float) -> None:
        """A connection that delivers no frame frees its slot and landmarker after connect_timeout_s (the session
        stays open for the fallback); a check past check_timeout_s + 10 s fails; a fallback whose recording did
        not arrive by its deadline fails."""
        for session in list(self._sessions.values()):
            if session.status != IN_PROGRESS or session.started_at is None or session.ending:
                continue
            peer, plan = session.peer, session.fallback
            if peer is not None and peer.stats.frames_received == 0 and now - session.started_at > self.settings.connect_timeout_s:
                await self._end(session, None)
            elif plan is not None and not session.recording_used and plan.elapsed_ms(now) > plan.upload_by_ms:
                self._fail_recording(session, FallbackCode.DEADLINE_PASSED.value)
            elif plan is None and now - session.started_at > self.settings.check_timeout_s + 10:
                await self._end(session, [session.stalled or "timeout"])
