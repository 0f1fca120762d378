"""realtime.challenge on synthetic observations and the server's injected clock (`now_ms`; nothing sleeps, no
models): the live check reaches its decision through scoring.decision's live rules and keeps its own differences
(min_liveness_frames, no presence rule, a stopped check judged on why it stopped)."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.challenge import ChallengeSession
from realtime.reasons import LiveReason
from realtime.settings import RealtimeSettings
from realtime.status import SessionStatus
from scoring.observation import BBox, Expression, FaceObservation, FrameObservation, HeadPose, Quality
from scoring.reasons import Reason
from scoring.settings import EngineSettings

pytestmark = pytest.mark.unit
SETTINGS = RealtimeSettings()
ENGINE = EngineSettings()
STEP_MS = 100


def frame(
    t_ms: int, liveness: float | None = 0.9, blink: float = 0.1, embedding: np.ndarray | None = None, face: bool = True
) -> FrameObservation:
    """A centred, frontal, well-lit 640x480 face (what positioning asks for)."""
    if not face:
        return FrameObservation(t_ms, t_ms // STEP_MS, 640, 480, 0, None, Reason.NO_FACE)
    observed = FaceObservation(
        bbox=BBox(220, 140, 420, 340),
        landmarks=np.zeros((478, 3), np.float32),
        pose=HeadPose(0.0, 0.0, 0.0),
        expression=Expression(blink, 0.05, 0.0),
        quality=Quality(0.31, 0.5, 0.5, True, 0.5),
        liveness=liveness,
        embedding=embedding,
    )
    return FrameObservation(t_ms, t_ms // STEP_MS, 640, 480, 1, observed)


def passive() -> ChallengeSession:
    session = ChallengeSession((), SETTINGS, ENGINE)
    session.start(0)
    return session


def feed(session: ChallengeSession, until_ms: int, start_ms: int = STEP_MS, **kwargs: object) -> None:
    for t in range(start_ms, until_ms + 1, STEP_MS):
        session.observe(frame(t, **kwargs), None, t)  # type: ignore[arg-type]
        if session.done:
            return


def test_passive_check_with_an_expression_succeeds() -> None:
    session = passive()
    feed(session, 1500)
    feed(session, 6000, start_ms=1600, blink=0.9)  # the eyes close for good: an expression change (evidence)
    assert session.outcome is not None
    assert session.outcome.reasons == [] and session.outcome.status == SessionStatus.SUCCEEDED
    assert session.outcome.duration_ms >= SETTINGS.min_watch_ms


def test_a_streams_start_up_is_not_evidence() -> None:
    """A stream's first evidence_settle_ms are its encoder's and camera's start-up (VP8's first key frame reads a
    smile 0.38 as 0.14): an expression that only differs between them and the rest proves nothing, and the static
    check's watch starts after them."""
    session = passive()
    settle = SETTINGS.evidence_settle_ms
    feed(session, STEP_MS + settle - 1, blink=0.9)  # the start-up: positioning, then deciding from 700 ms
    assert not session.done
    feed(session, settle + 3200, start_ms=STEP_MS + settle)  # the level everything after the start-up shows
    assert not session.done  # without the start-up there is no expression change to decide on
    session.tick(700 + SETTINGS.passive_timeout_ms + 1)
    assert session.outcome is not None and session.outcome.evidence is not None
    assert session.outcome.reasons == [Reason.STATIC_VIDEO]
    assert session.outcome.evidence.frames == (3200 - STEP_MS) // STEP_MS + 1
    assert session.outcome.evidence.expression < 1.0  # less than the pictures' own ranges: no evidence


def test_live_decision_needs_min_liveness_frames() -> None:
    """High scores, but fewer than min_liveness_frames: low_liveness (a recorded clip says too_few_frames)."""
    session = passive()
    feed(session, 400)  # four scored frames while positioning
    feed(session, 3000, start_ms=500, liveness=None)
    assert not session.done  # not decided on observe: too few scores
    session.tick(700 + SETTINGS.passive_timeout_ms + 1)  # deciding began at 700 ms; no evidence: it times out
    assert session.outcome is not None
    # without enough scores there is no calibrated score to weigh the (missing) motion evidence with
    assert session.outcome.reasons == [Reason.LOW_LIVENESS]
    assert session.outcome.average_liveness > ENGINE.liveness_threshold


def test_stopped_check_keeps_why_and_low_scores_not_unfinished_actions() -> None:
    session = ChallengeSession(("blink", "smile"), SETTINGS, ENGINE)
    session.start(0)
    feed(session, 300, liveness=0.1)
    session.cancel(LiveReason.CANCELLED, 400)
    assert session.outcome is not None
    assert session.outcome.reasons == [LiveReason.CANCELLED, Reason.LOW_LIVENESS]
    assert session.outcome.status == SessionStatus.FAILED


def test_no_face_fails_positioning_not_presence() -> None:
    session = passive()
    feed(session, 1000, face=False)
    session.tick(int(SETTINGS.positioning_timeout_s * 1000) + 1)
    assert session.outcome is not None and session.outcome.reasons == [LiveReason.POSITIONING_FAILED]


def test_face_changed_mid_check_stops_it() -> None:
    session = passive()
    feed(session, 800)
    assert not session.done
    first, other = np.eye(128, dtype=np.float32)[:2]
    session.observe(frame(900, embedding=first), None, 900)
    session.observe(frame(1000, embedding=other), None, 1000)  # similarity 0: another person
    assert session.outcome is not None and session.outcome.reasons == [Reason.FACE_CHANGED]


def test_every_challenge_of_two_actions_or_more_has_a_turn() -> None:
    """Recordings and animations blink, smile and open their mouths on their own: a challenge they can pass by
    chance must not be drawn (issue 18)."""
    from realtime.challenge import TURNS, draw_actions  # noqa: PLC0415
    from scoring.actions import Action  # noqa: PLC0415

    for count in (2, 3, 4):
        for _ in range(300):
            drawn = draw_actions(count)
            assert len(drawn) == count and any(a in TURNS for a in drawn), drawn
            assert all(a != b for a, b in zip(drawn, drawn[1:])), drawn
    singles = {draw_actions(1)[0] for _ in range(300)}
    assert Action.BLINK in singles and Action.TURN_LEFT in singles  # one action: any of them
    expressions = (Action.BLINK, Action.SMILE)
    assert set(draw_actions(2, expressions)) <= set(expressions)  # a pool without turns is drawn as it is
