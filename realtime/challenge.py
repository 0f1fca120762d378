"""The challenge state machine of one live check: positioning, then randomized actions, then the decision.

Pure and synchronous: it is fed FrameObservations stamped with the server's own monotonic clock (ms since the
session started) and returns the protocol messages to send. It never sees a client timestamp.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from realtime import protocol as p
from realtime.light_phase import AWAY_CODES, LightPhase
from realtime.reasons import LiveReason
from realtime.settings import RealtimeSettings
from realtime.status import SessionStatus
from scoring.actions import (
    ACTIONS,
    EXPRESSION_ACTIONS,
    Action,
    ActionDetector,
    Baseline,
    event_confidence,
    threshold_for,
)
from scoring.decision import Facts, Rules, decide, evidence_convinced, evidence_measures
from scoring.evidence import EvidenceReport, EvidenceTracker
from scoring.identity import IdentityTrack
from scoring.light import LightLimits, LightReport
from scoring.observation import FaceObservation, FrameObservation
from scoring.reasons import Reason
from scoring.settings import EngineSettings

# Expression actions and the Baseline/Expression field they are measured on.
EXPRESSION_FIELDS = {Action.BLINK: "blink", Action.OPEN_MOUTH: "mouth_open", Action.SMILE: "smile"}


TURNS = (Action.TURN_LEFT, Action.TURN_RIGHT)


def draw_actions(
    count: int, pool: Sequence[Action] = ACTIONS, rng: secrets.SystemRandom | None = None
) -> tuple[Action, ...]:
    """`count` actions from `pool` drawn with a cryptographic RNG, never the same one twice in a row; a challenge
    of two or more actions has at least one turn (when the pool has turns) at a random place. Why: a talking-head
    recording or animation blinks, smiles and opens its mouth on its own, so an expression-only challenge passed
    6 of 16 VASA-1 clips by chance (evaluation.challenge_runs); a turn in a direction and a window the server
    chose is rarely in a recording, and it is where the flatness check measures."""
    rng = rng or secrets.SystemRandom()
    out: list[Action] = []
    for _ in range(count):
        choices = [a for a in pool if not out or a != out[-1]] or list(pool)
        out.append(rng.choice(choices))
    turns = [t for t in TURNS if t in pool]
    if count >= 2 and turns and not any(a in TURNS for a in out):
        at = rng.randrange(count)
        out[at] = rng.choice(turns)
    return tuple(out)


@dataclass
class ActionOutcome:
    """One prompted action. Times are ms on the server's clock since the session started."""

    action: Action
    prompted_ms: int
    deadline_ms: int
    passed: bool = False
    confidence: float = 0.0
    start_ms: int | None = None
    end_ms: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "passed": self.passed,
            "confidence": round(self.confidence, 4),
            "prompted_s": round(self.prompted_ms / 1000, 3),
            "start_s": None if self.start_ms is None else round(self.start_ms / 1000, 3),
            "end_s": None if self.end_ms is None else round(self.end_ms / 1000, 3),
            "reaction_ms": None if self.start_ms is None else self.start_ms - self.prompted_ms,
        }


@dataclass
class BestFrame:
    observation: FrameObservation
    rgb: np.ndarray = field(repr=False)


@dataclass
class ChallengeOutcome:
    """What the state machine decided; scores stay server-side. The session's result decides once more with what
    only the session has (`facts` + the reference match, under the same `rules`: realtime/results.py)."""

    status: SessionStatus  # SUCCEEDED | FAILED
    reasons: list[str]
    actions: list[ActionOutcome]
    average_liveness: float
    liveness_frames: int
    identity_min_cosine: float | None
    best: BestFrame | None
    audit_frames: list[np.ndarray]
    frames_analyzed: int
    duration_ms: int
    evidence: EvidenceReport | None = None  # the cross-frame measures behind static_video / flat_face / looped_video
    light: LightReport | None = None  # the light challenge, when the session asked for it (realtime/light_phase.py)
    facts: Facts | None = field(default=None, repr=False)
    rules: Rules | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.status == SessionStatus.SUCCEEDED

    @property
    def confidence(self) -> float:
        parts = [min(1.0, self.average_liveness)] + [a.confidence for a in self.actions]
        return float(min(parts)) if self.liveness_frames else 0.0


class ChallengeSession:
    """One session's challenge. Call `start()` on the client's `ready`, then `observe()` per analyzed frame and
    `tick()` now and then (deadlines pass even when no frame arrives)."""

    def __init__(
        self,
        actions: Sequence[str],
        settings: RealtimeSettings,
        engine: EngineSettings,
        *,
        keep_audit_frames: bool = False,
        light: bool = False,
    ) -> None:
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown actions: {unknown}")
        self.actions = tuple(Action(a) for a in actions)
        self.settings = settings
        self.engine = engine
        self.keep_audit_frames = keep_audit_frames
        self.phase = p.Phase.WAITING
        self.started_ms: int | None = None
        self.outcome: ChallengeOutcome | None = None
        self._feedback: p.FeedbackCode | None = None
        self._steady_since: int | None = None
        self._steady_faces: list[FaceObservation] = []
        self._previous: FaceObservation | None = None
        self._baseline: Baseline | None = None
        self._results: list[ActionOutcome] = []
        self._detector: ActionDetector | None = None
        self._liveness: list[float] = []
        self._identity = IdentityTrack()
        self._last_embed_ms = -(10**9)
        self._best: BestFrame | None = None
        self._audit: list[np.ndarray] = []
        self._frames = 0
        self._faces = 0  # frames with a face
        self._multiple = 0  # frames refused for several faces
        self._rules = Rules.live(engine, settings.min_liveness_frames)  # the decision rules clips and stills use
        self._decide_since: int | None = None
        # Cross-frame evidence (flat_face, static_video, looped_video), the same module recorded clips use, fed
        # the frames after the stream's start-up (evidence_settle_ms): see _collect.
        self._evidence = EvidenceTracker(engine.evidence)
        self._evidence_report: EvidenceReport | None = None
        self._evidence_at_ms = -(10**9)
        self._last_yaw: float | None = None
        self._first_frame_ms: int | None = None  # the first frame observed (the stream's start)
        self._evidence_since_ms: int | None = None  # the first face the evidence was given
        # The light challenge between positioning and the actions (docs/protocol.md "Light challenge").
        self._light = (
            LightPhase(
                LightLimits(max_lag_ms=settings.light_max_lag_ms),
                away_ms=settings.light_away_ms,
                attempts=settings.light_attempts,
            )
            if light
            else None
        )

    # -- what the pipeline should compute for the next frame ---------------------------------------------------

    def wants_liveness(self, frame_no: int) -> bool:
        return (
            self.phase in (p.Phase.POSITIONING, p.Phase.CHALLENGE, p.Phase.DECIDING)
            and frame_no % max(1, self.settings.antispoof_every) == 0
        )

    def wants_embedding(self, now_ms: int) -> bool:
        """Only while the last face seen was near the starting pose: an embedding of a turned face is discarded,
        and SFace is the most expensive model per frame."""
        return (
            self.phase in (p.Phase.CHALLENGE, p.Phase.DECIDING)
            and len(self._identity.embeddings) < self.engine.identity_samples
            and now_ms - self._last_embed_ms >= self.settings.identity_interval_ms
            and self._near_start_pose(self._last_yaw)
        )

    def _near_start_pose(self, yaw: float | None) -> bool:
        base_yaw = self._baseline.yaw if self._baseline is not None else 0.0
        return yaw is not None and abs(yaw - base_yaw) <= self.settings.identity_max_turn_deg

    @property
    def done(self) -> bool:
        return self.outcome is not None

    # -- events --------------------------------------------------------------------------------------------------

    def start(self, now_ms: int) -> list[p.ServerMessage]:
        if self.phase != p.Phase.WAITING:
            return []
        self.started_ms = now_ms
        self.phase = p.Phase.POSITIONING
        return [p.State(p.Phase.POSITIONING)]

    def decline_light(self) -> None:
        """The user continues without lights (`no_light`, before the phase): the result says so."""
        if self._light is not None:
            self._light.decline()

    def sent(self, now_ms: int) -> None:
        """The messages the last observe() returned were handed to the channel at `now_ms`, after the frame's
        analysis: the light phase stamps the colour it sent then (realtime/light_phase.py)."""
        if self._light is not None:
            self._light.sent(now_ms)

    def cancel(self, reason: str, now_ms: int) -> list[p.ServerMessage]:
        if self.done:
            return []
        return self._finish([reason], now_ms)

    def tick(self, now_ms: int) -> list[p.ServerMessage]:
        if self.done or self.started_ms is None:
            return []
        if now_ms - self.started_ms > self.settings.check_timeout_s * 1000:
            return [p.Feedback(p.FeedbackCode.TOO_SLOW), *self._finish([LiveReason.TIMEOUT], now_ms)]
        if self.phase == p.Phase.POSITIONING and now_ms - self.started_ms > self.settings.positioning_timeout_s * 1000:
            return self._finish([LiveReason.POSITIONING_FAILED], now_ms)
        if self.phase == p.Phase.LIGHT:
            return self._light_step(None, None, None, now_ms)
        if self.phase == p.Phase.CHALLENGE and self._results and now_ms > self._results[-1].deadline_ms:
            return self._expire_action(now_ms)
        if self.phase == p.Phase.DECIDING and self._decide_since is not None:
            limit = self.settings.passive_timeout_ms if not self.actions else self.settings.decide_timeout_ms
            if now_ms - self._decide_since > limit:
                return self._decide(now_ms)
        return []

    def observe(self, obs: FrameObservation, rgb: np.ndarray | None, now_ms: int) -> list[p.ServerMessage]:
        """One analyzed frame, stamped `now_ms` on arrival by the server."""
        if self.done or self.phase == p.Phase.WAITING:
            return []
        self._frames += 1
        if self._first_frame_ms is None:
            self._first_frame_ms = now_ms
        out: list[p.ServerMessage] = []
        face = obs.face
        self._multiple += int(obs.rejected == Reason.MULTIPLE_FACES)
        if face is not None:
            self._faces += 1
            self._collect(obs, face, rgb, now_ms, out)
            if self.done:
                return out
        if self.phase == p.Phase.POSITIONING:
            out += self._position(obs, now_ms)
        elif self.phase == p.Phase.LIGHT:
            out += self._light_step(obs, rgb, self._positioning_code(obs), now_ms)
            self._previous = obs.face
        elif self.phase == p.Phase.CHALLENGE:
            out += self._challenge(obs, now_ms)
        elif (
            self.phase == p.Phase.DECIDING
            and len(self._liveness) >= self.settings.min_liveness_frames
            and self._watched_ms(now_ms) >= self.settings.min_watch_ms
            and self._convinced(now_ms)
        ):
            out += self._decide(now_ms)
        out += self.tick(now_ms)
        return out

    # -- phases --------------------------------------------------------------------------------------------------

    def _collect(
        self,
        obs: FrameObservation,
        face: FaceObservation,
        rgb: np.ndarray | None,
        now_ms: int,
        out: list[p.ServerMessage],
    ) -> None:
        assert self._first_frame_ms is not None
        if now_ms - self._first_frame_ms >= self.settings.evidence_settle_ms and self.phase != p.Phase.LIGHT:
            # A stream's first frames are its encoder's start-up (VP8's first key frame reads mt_sun's smile 0.38
            # as 0.14 until the picture is refined ~8 frames later) and its camera's; a recorded clip has no such
            # frames. Counted, they made an expression change no upload of the same clip shows (docs/verdict.md
            # "Live and recorded").
            self._evidence.add(face, now_ms, rgb)
            if self._evidence_since_ms is None:
                self._evidence_since_ms = now_ms
        self._last_yaw = face.pose.yaw
        if face.liveness is not None:
            self._liveness.append(float(face.liveness))
            best_face = self._best.observation.face if self._best is not None else None
            if rgb is not None and (best_face is None or face.quality.score > best_face.quality.score):
                self._best = BestFrame(obs, rgb)
        if face.embedding is not None and self._near_start_pose(face.pose.yaw):
            # identity is compared in the starting pose faces only: SFace similarity drops with the head turned
            self._last_embed_ms = now_ms
            similarity = self._identity.add(face.embedding)
            if similarity is not None and similarity < self.engine.identity_threshold:
                out += self._finish([Reason.FACE_CHANGED], now_ms)

    def _positioning_code(self, obs: FrameObservation) -> p.FeedbackCode:
        face = obs.face
        if face is None:
            return p.FeedbackCode.MULTIPLE_FACES if obs.rejected == Reason.MULTIPLE_FACES else p.FeedbackCode.NO_FACE
        q = face.quality
        s = self.settings
        if q.face_ratio < s.min_face_ratio:
            return p.FeedbackCode.FACE_TOO_FAR
        if q.face_ratio > s.max_face_ratio:
            return p.FeedbackCode.FACE_TOO_CLOSE
        cx = (face.bbox.left + face.bbox.right) / 2 / obs.width
        cy = (face.bbox.top + face.bbox.bottom) / 2 / obs.height
        if not q.inside or abs(cx - 0.5) > s.oval_center_tolerance or abs(cy - 0.5) > s.oval_center_tolerance * 1.25:
            return p.FeedbackCode.MOVE_INTO_OVAL
        if abs(face.pose.yaw) > s.max_frontal_deg or abs(face.pose.pitch) > s.max_frontal_deg:
            return p.FeedbackCode.LOOK_STRAIGHT
        if q.brightness < s.min_brightness:
            return p.FeedbackCode.TOO_DARK
        if q.brightness > s.max_brightness:
            return p.FeedbackCode.TOO_BRIGHT
        prev = self._previous
        if prev is not None:
            shift = np.hypot(
                (face.bbox.left + face.bbox.right - prev.bbox.left - prev.bbox.right) / 2,
                (face.bbox.top + face.bbox.bottom - prev.bbox.top - prev.bbox.bottom) / 2,
            ) / max(1, face.bbox.width)
            if shift > s.steady_shift or abs(face.pose.yaw - prev.pose.yaw) > s.steady_angle_deg:
                return p.FeedbackCode.HOLD_STILL
        return p.FeedbackCode.OK

    def _position(self, obs: FrameObservation, now_ms: int) -> list[p.ServerMessage]:
        code = self._positioning_code(obs)
        self._previous = obs.face
        out = self._say(code)
        if code != p.FeedbackCode.OK:
            self._steady_since = None
            self._steady_faces = []
            return out
        if self._steady_since is None:
            self._steady_since = now_ms
        assert obs.face is not None
        self._steady_faces.append(obs.face)
        if now_ms - self._steady_since >= self.settings.steady_ms and len(self._steady_faces) >= 3:
            self._baseline = Baseline.from_faces(self._steady_faces[-8:])
            if self._light is not None and not self._light.done:
                self.phase = p.Phase.LIGHT
                return [*out, p.State(p.Phase.LIGHT), *self._light.begin(now_ms)]
            self.phase = p.Phase.CHALLENGE
            self._last_embed_ms = -(10**9)
            if self.keep_audit_frames and obs.face is not None and self._best is not None:
                self._audit.append(self._best.rgb)
            out.append(p.State(p.Phase.CHALLENGE))
            out += self._next_prompt(now_ms)
        return out

    def _light_step(
        self, obs: FrameObservation | None, rgb: np.ndarray | None, code: p.FeedbackCode | None, now_ms: int
    ) -> list[p.ServerMessage]:
        """The light phase (realtime/light_phase.py): on to the actions once measured; back to positioning when the
        face left the oval for too long (a fresh sequence then)."""
        light = self._light
        assert light is not None
        if obs is None or code is None:
            out = light.tick(now_ms)
        else:
            out = self._say(code if code in AWAY_CODES else p.FeedbackCode.OK)
            out += light.observe(obs.face, rgb, code, now_ms)
        if light.waiting_for_face:
            self.phase, self._steady_since, self._steady_faces = p.Phase.POSITIONING, None, []
            out.append(p.State(p.Phase.POSITIONING))
        elif light.done:
            self.phase = p.Phase.CHALLENGE
            self._last_embed_ms = -(10**9)
            out += [p.State(p.Phase.CHALLENGE), *self._next_prompt(now_ms)]
        return out

    def _next_prompt(self, now_ms: int) -> list[p.ServerMessage]:
        index = len(self._results)
        if index >= len(self.actions):
            self.phase = p.Phase.DECIDING
            self._decide_since = now_ms
            self._detector = None
            return [p.State(p.Phase.DECIDING)]
        action = self.actions[index]
        deadline = now_ms + int(self.settings.action_timeout_s * 1000)
        self._results.append(ActionOutcome(action, now_ms, deadline))
        assert self._baseline is not None
        self._detector = ActionDetector(action, self._baseline, self.engine.actions, require_rest=True)
        return [p.Prompt(action, index, len(self.actions), deadline - now_ms)]

    def _challenge(self, obs: FrameObservation, now_ms: int) -> list[p.ServerMessage]:
        detector, current = self._detector, self._results[-1]
        assert detector is not None
        if obs.face is None:
            return self._say(
                p.FeedbackCode.MULTIPLE_FACES if obs.rejected == Reason.MULTIPLE_FACES else p.FeedbackCode.NO_FACE
            )
        out = self._say(p.FeedbackCode.OK)
        self._rebaseline(detector, obs.face)
        event = detector.update(now_ms, obs.face)
        if event is None:
            return out
        if event.start_ms - current.prompted_ms < self.settings.min_reaction_ms:
            return out  # faster than a person reacts to the prompt: not an answer to it
        current.passed, current.confidence = True, event.confidence
        current.start_ms, current.end_ms = event.start_ms, event.end_ms
        return out + self._action_done(now_ms)

    @staticmethod
    def _rebaseline(detector: ActionDetector, face: FaceObservation) -> None:
        """Expression actions are measured from the lowest level seen since their prompt when that is lower than
        the positioning baseline: a user who smiled or held the mouth open while positioning can still do it."""
        name = EXPRESSION_FIELDS.get(detector.action)
        if name is None:
            return
        value = getattr(face.expression, name)
        if value < getattr(detector.baseline, name):
            detector.baseline = replace(detector.baseline, **{name: value})

    def _action_done(self, now_ms: int) -> list[p.ServerMessage]:
        if self.keep_audit_frames and self._best is not None and len(self._audit) < 4:
            self._audit.append(self._best.rgb)
        done = sum(1 for r in self._results if r.passed)
        return [p.Progress(done, len(self.actions)), *self._next_prompt(now_ms)]

    def _expire_action(self, now_ms: int) -> list[p.ServerMessage]:
        detector, current = self._detector, self._results[-1]
        assert detector is not None
        event = detector.flush() if detector.in_progress else None
        if event is not None and event.start_ms - current.prompted_ms >= self.settings.min_reaction_ms:
            current.passed, current.confidence = True, event.confidence
            current.start_ms, current.end_ms = event.start_ms, event.end_ms
            return self._action_done(now_ms)
        threshold = threshold_for(current.action, self.engine.actions)
        current.confidence = min(0.49, event_confidence(min(detector.best_peak, threshold * 0.99), threshold))
        return [p.Feedback(p.FeedbackCode.TOO_SLOW), *self._finish([Reason.ACTIONS_FAILED], now_ms)]

    def _report(self, now_ms: int) -> EvidenceReport:
        """The evidence, recomputed at most every evidence_interval_ms (it compares many frame pairs)."""
        if self._evidence_report is None or now_ms - self._evidence_at_ms >= self.settings.evidence_interval_ms:
            self._evidence_report = self._evidence.report()
            self._evidence_at_ms = now_ms
        return self._evidence_report

    def _convinced(self, now_ms: int) -> bool:
        """Whether the decision can be made now. After actions: yes (the actions were the evidence to wait for).
        Passive (no actions): only once the frames show a live 3D face - parallax or an expression change
        - or when passive_timeout_ms has passed (tick decides then, with the reason)."""
        if self.actions:
            return True
        self._report(now_ms)
        return evidence_convinced(self._facts(), self._rules)

    def _decide(self, now_ms: int) -> list[p.ServerMessage]:
        """The decision once the actions are done (or the passive watch is over): scoring.decision's live rules
        (liveness with min_liveness_frames, identity, actions, evidence)."""
        self._evidence_report = self._evidence.report()  # fresh, with every frame seen
        return self._close(self._facts(), now_ms)

    def _facts(self, stopped: Sequence[str] = ()) -> Facts:
        return Facts(
            frames=self._frames,
            frames_with_face=self._faces,
            multiple_faces_frames=self._multiple,
            liveness_frames=len(self._liveness),
            average_liveness=self._average(),
            identity_min=self._identity.min_similarity,
            actions_asked=len(self.actions),
            actions_passed=sum(1 for r in self._results if r.passed),
            evidence=self._evidence_report.reasons if self._evidence_report is not None else (),
            light=self._light_reasons(),
            stopped=tuple(stopped),
            expression_action=any(r.passed and r.action in EXPRESSION_ACTIONS for r in self._results),
            **evidence_measures(self._evidence_report),
        )

    # -- helpers -------------------------------------------------------------------------------------------------

    def _light_reasons(self) -> tuple[str, ...]:
        """The light rule's fact: its failure reason once measured (none when passed, declined, or not asked)."""
        report = self._light.report if self._light is not None else None
        return (report.reason,) if report is not None and report.reason is not None else ()

    def _watched_ms(self, now_ms: int) -> int:
        """How long the evidence has watched a face: a check with no actions still lasts long enough for the
        static check."""
        return 0 if self._evidence_since_ms is None else now_ms - self._evidence_since_ms

    def _average(self) -> float:
        return float(np.mean(self._liveness)) if self._liveness else 0.0

    def _say(self, code: p.FeedbackCode) -> list[p.ServerMessage]:
        if code == self._feedback:
            return []
        self._feedback = code
        return [p.Feedback(code)]

    def _finish(self, reasons: list[str], now_ms: int) -> list[p.ServerMessage]:
        """Stops before the decision, for `reasons` (timeout, cancelled, face_changed mid-check, an action's
        deadline): scoring.decision judges a stopped check on why it stopped, plus low liveness so far."""
        return self._close(self._facts(stopped=reasons), now_ms)

    def _close(self, facts: Facts, now_ms: int) -> list[p.ServerMessage]:
        """The challenge's decision. Nothing is told yet: the session adds what only it has (the reference match)
        and stores the result first; realtime/live.py then sends `done` and the stored outcome."""
        decision = decide(facts, self._rules)
        reasons = list(decision.reasons)
        status = SessionStatus.SUCCEEDED if decision.alive else SessionStatus.FAILED
        self.phase = p.Phase.DONE
        self._detector = None
        self.outcome = ChallengeOutcome(
            status=status,
            reasons=reasons,
            actions=list(self._results),
            average_liveness=self._average(),
            liveness_frames=len(self._liveness),
            identity_min_cosine=self._identity.min_similarity,
            best=self._best,
            audit_frames=self._audit[:4],
            frames_analyzed=self._frames,
            duration_ms=0 if self.started_ms is None else now_ms - self.started_ms,
            evidence=self._evidence_report,
            light=self._light.report if self._light is not None else None,
            facts=facts,
            rules=self._rules,
        )
        return []
