"""The recording fallback's session steps (the timing rules are realtime/fallback.py): start, state, next prompt,
upload. The plan, with the server time of each prompt issued, lives in the session store, so each step may be
served by another node; the upload that claims the recording (compare-and-set) is the one judged.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from realtime.book import SessionBook, token_used
from realtime.errors import SessionCode, SessionError, not_found
from realtime.fallback import FallbackCode, FallbackPlan, FallbackPrompt, FallbackTiming
from realtime.live import LiveChecks, result_inputs
from realtime.modes import SessionMode
from realtime.reasons import LiveReason
from realtime.results import failed_result, recording_result
from realtime.settings import RealtimeSettings
from realtime.status import SessionStatus
from realtime.store import SessionRecord, update
from scoring.decision import Rules
from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.errors import InputError
from scoring.formats import sniff
from scoring.verdict import Verdict

MIN_RECORDING_FRAMES = 2  # fewer decoded frames is a still in a video container, not a recording
# A judged recording's decided outcome (alive) and its model-stage timings (ms): the web layer's verdict metrics.
VerdictSink = Callable[[bool, Mapping[str, float]], None]


def judged_once() -> SessionError:
    return SessionError(SessionCode.TOKEN_USED, "A session runs once; its recording was already judged.", 409)


def not_video() -> SessionError:
    return SessionError(
        FallbackCode.NOT_VIDEO, "The recording must be a video of the check; a still image is not accepted.", 422
    )


def plan_of(session: SessionRecord) -> FallbackPlan:
    if session.fallback is None:
        raise SessionError(FallbackCode.NOT_STARTED, "Start the recording first.", 409)
    return FallbackPlan.from_dict(session.fallback)


class RecordingChecks:
    def __init__(
        self,
        engine: LivenessEngine,
        settings: RealtimeSettings,
        book: SessionBook,
        live: LiveChecks,
        executor: ThreadPoolExecutor,
        rng: random.Random,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.book = book
        self.live = live
        self.executor = executor
        self.rng = rng
        self.judging = 0  # uploads being judged here
        # told each outcome this node decided from an analyzed recording (webapp.services counts it on /metrics)
        self.on_verdict: VerdictSink | None = None

    async def _session(self, session_id: str, token: str | None) -> SessionRecord:
        session = await self.book.for_client(session_id, token)
        if not session.recording_fallback:
            raise SessionError(FallbackCode.NOT_ALLOWED, "This session does not allow the recording fallback.", 403)
        return session

    async def start(self, session_id: str, token: str | None) -> FallbackPlan:
        """The client started recording: from now on the server's clock is the clip's clock. Claims the session
        (the offer is then refused with token_used) and draws the random prompt times; nothing about the actions
        is revealed. Asking again returns the same plan. Also allowed after an offer whose connection never
        delivered a frame (on whichever node ran it); once live frames were analyzed it is refused (token_used)."""
        session = await self._session(session_id, token)
        if session.fallback is not None and session.status == SessionStatus.IN_PROGRESS and not session.recording_used:
            return plan_of(session)
        now = self.book.clock()
        plan = FallbackPlan.draw(session.actions, FallbackTiming.from_settings(self.settings), now, self.rng)
        if session.status == SessionStatus.IN_PROGRESS and session.fallback is None:
            await self.live.yield_to_fallback(session_id)  # when the live attempt runs here

            def take_over(current: SessionRecord) -> SessionRecord:
                # the live attempt (here or on another node) never analyzed a frame: the fallback takes over
                if current.status != SessionStatus.IN_PROGRESS or current.fallback is not None or current.frames_seen:
                    raise token_used()
                return current.bump(fallback=plan.to_dict(), node_id=self.book.node_id, stalled=None, started_at=now)

            taken = await update(self.book.store, session_id, take_over)
            if taken is None:
                raise not_found()
        else:
            await self.book.claimable(session_id, token)
            taken = await self.book.claim(session_id, fallback=plan.to_dict())
        return plan_of(taken)

    async def state(self, session_id: str, token: str | None) -> tuple[FallbackPlan, float]:
        return plan_of(await self._session(session_id, token)), self.book.clock()

    async def next_prompt(self, session_id: str, token: str | None) -> tuple[FallbackPrompt, FallbackPlan, float]:
        """Issues the next prompt once it is due; the store keeps the time it was issued (any node may serve the
        next request)."""
        await self._session(session_id, token)
        now = self.book.clock()
        issued: list[tuple[FallbackPrompt, FallbackPlan]] = []

        def issue(current: SessionRecord) -> SessionRecord:
            plan = plan_of(current)
            if current.recording_used or current.status != SessionStatus.IN_PROGRESS:
                raise judged_once()
            prompt = plan.issue(now)
            issued[:] = [(prompt, plan)]
            return current.bump(fallback=plan.to_dict())

        if await update(self.book.store, session_id, issue) is None:
            raise not_found()
        prompt, plan = issued[0]
        return prompt, plan, now

    async def accepts_upload(self, session_id: str, token: str | None) -> SessionRecord:
        """The checks an upload must pass before its body is read (token, fallback allowed and started, not judged
        yet): a stranger's upload costs no bytes read."""
        session = await self._session(session_id, token)
        if session.recording_used or session.status not in (SessionStatus.CREATED, SessionStatus.IN_PROGRESS):
            raise judged_once()
        plan_of(session)
        return session

    async def decide(
        self, session_id: str, token: str | None, data: bytes, run: Callable[..., Any] | None = None
    ) -> SessionRecord:
        """Judges the uploaded recording with the same engine rules, each action inside the window the server
        timed (mapped to clip time by the recording's start), and finishes the session. Refused after the
        deadline; failed when the clip is longer than the time since the recording started. `run(fn, *args)` runs
        blocking work (default: our executor). The upload that claims the recording (compare-and-set) is the one
        judged; this node is then the session's node (a crash here leaves it node_lost, not IN_PROGRESS)."""
        received = self.book.clock()
        session = await self.accepts_upload(session_id, token)

        def claim(current: SessionRecord) -> SessionRecord:
            if current.recording_used or current.status != SessionStatus.IN_PROGRESS or current.fallback is None:
                raise judged_once()
            return current.bump(recording_used=True, node_id=self.book.node_id)

        self.judging += 1
        try:
            session = await update(self.book.store, session_id, claim) or session
            return await self._judge(session, data, received, run)
        finally:
            self.judging -= 1

    async def _judge(
        self, session: SessionRecord, data: bytes, received: float, run: Callable[..., Any] | None
    ) -> SessionRecord:
        plan = plan_of(session)
        await self._refuse_unusable(session, plan, data, received)
        # the probes come first (a probe found fails the check); then the prompted actions in their windows
        probes = plan.probes()
        options = AnalysisOptions(
            actions=tuple(a for a, _ in probes) + session.actions,
            action_windows_ms=tuple(w for _, w in probes) + plan.windows_ms() or None,
        )
        verdict = await self._analyze(session, data, options, run)
        if verdict.kind != "video" or verdict.frames_decoded < MIN_RECORDING_FRAMES:  # one frame in a container
            await self.fail(session.id, FallbackCode.NOT_VIDEO)
            raise not_video()
        # The fallback's own checks: no probed movement before the first prompt, a clip no longer than its time.
        found = (
            [FallbackCode.MOVED_BEFORE_PROMPT.value] if any(a.passed for a in verdict.actions[: len(probes)]) else []
        )
        found += [] if plan.fits_timeline(verdict.duration_s, received) else [FallbackCode.TIMELINE.value]
        return await self._decide_recording(session, verdict, len(probes), found)

    async def _refuse_unusable(self, session: SessionRecord, plan: FallbackPlan, data: bytes, received: float) -> None:
        """Fails the session and raises for an upload that cannot be judged (past the deadline, empty, a still)
        before the engine spends any time on it."""
        try:
            plan.check_deadline(received)
        except SessionError as exc:
            await self.fail(session.id, exc.code)
            raise
        if not data:  # judged like any unusable recording: the session ends FAILED
            await self.fail(session.id, FallbackCode.EMPTY_RECORDING)
            raise SessionError(FallbackCode.EMPTY_RECORDING, "The recording is empty.", 400)
        if sniff(data) == "image":  # a still is never judged by the still-image rules here, whatever its label
            await self.fail(session.id, FallbackCode.NOT_VIDEO)
            raise not_video()

    async def _analyze(
        self, session: SessionRecord, data: bytes, options: AnalysisOptions, run: Callable[..., Any] | None
    ) -> Verdict:
        """The engine's verdict on the recording. A broken recording fails the session; any other error releases
        the claim, so that the client may upload again."""
        try:
            if run is None:
                verdict = await asyncio.get_running_loop().run_in_executor(
                    self.executor, self.engine.analyze_video, data, options
                )
            else:
                verdict = await run(self.engine.analyze_video, data, options)
        except InputError as exc:  # a broken recording fails the session with the input's code (no retry)
            await self.fail(session.id, exc.code)
            raise
        except Exception:  # not the recording's fault (server busy, say): the client may send it again
            await update(
                self.book.store,
                session.id,
                lambda r: (
                    r.bump(recording_used=False) if r.status == SessionStatus.IN_PROGRESS and r.recording_used else None
                ),
            )
            raise
        return verdict

    async def _decide_recording(
        self, session: SessionRecord, verdict: Verdict, probes: int, found: list[str]
    ) -> SessionRecord:
        """Decides the session by the video rules plus what a live check of this mode also asks
        (scoring.decision.Rules.recording), with the fallback's own `found` codes; reports the stored outcome."""
        rules = Rules.recording(
            self.engine.settings, self.settings.min_liveness_frames, self.settings.min_watch_ms / 1000
        )
        result = await asyncio.get_running_loop().run_in_executor(
            self.executor, recording_result, self.engine, result_inputs(session), verdict, probes, rules, found
        )
        decided = await self.book.decide(
            session.id, result.status, result, lambda r: r.status == SessionStatus.IN_PROGRESS
        )
        if decided is not None and self.on_verdict is not None:  # the stored outcome, once (not the engine's alone)
            self.on_verdict(result.alive, verdict.timings_ms)
        return decided or await self.book.get(session.id)

    async def cancel(self, session_id: str, token: str | None) -> SessionRecord:
        """The user cancelled a check recorded or about to be (the live path's `cancel` message has no channel
        here): FAILED with reason `cancelled`, so the integrator is told at once rather than at the deadline. A
        recording already being judged, or a live check that analyzed a frame, is not the client's to end."""
        session = await self._session(session_id, token)
        if session.status == SessionStatus.IN_PROGRESS and session.fallback is None:
            await self.live.yield_to_fallback(session_id)  # a connection that never delivered a frame, when here

        def cancellable(r: SessionRecord) -> bool:
            if r.recording_used or (r.fallback is None and r.frames_seen):
                return False
            return r.status in (SessionStatus.CREATED, SessionStatus.IN_PROGRESS)

        if not cancellable(session):
            raise judged_once() if session.status.decided or session.recording_used else token_used()
        if session.status == SessionStatus.CREATED:  # never started here: claimed, so that it may end FAILED
            await self.book.claim(session_id)
        result = failed_result(self.engine, SessionMode.RECORDING, [LiveReason.CANCELLED.value])
        decided = await self.book.decide(session_id, SessionStatus.FAILED, result, cancellable)
        if decided is None:
            raise judged_once()
        return decided

    async def fail(self, session_id: str, code: str) -> None:
        await self.book.decide(
            session_id,
            SessionStatus.FAILED,
            failed_result(self.engine, SessionMode.RECORDING, [code]),
            lambda r: r.status == SessionStatus.IN_PROGRESS,
        )

    async def sweep(self, record: SessionRecord, now: float) -> None:
        """A recording that did not arrive by its deadline fails (whichever node started it)."""
        if record.fallback is None or record.recording_used:
            return
        plan = FallbackPlan.from_dict(record.fallback)
        if plan.elapsed_ms(now) > plan.upload_by_ms:
            await self.book.decide(
                record.id,
                SessionStatus.FAILED,
                failed_result(self.engine, SessionMode.RECORDING, [FallbackCode.DEADLINE_PASSED.value]),
                lambda r: r.version == record.version,
            )
