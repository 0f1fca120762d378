"""The light phase inside realtime.challenge, offline: synthetic observations on the server's injected clock and
frames rendered as a face lit by whatever colour the server last sent (or not). The order of the phases, one
colour per message when it is due, the interruption when the face leaves, the user declining, and the light rule
in the decision."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from realtime import protocol as p
from realtime.challenge import ChallengeSession
from realtime.settings import RealtimeSettings
from realtime.status import SessionStatus
from scoring.light import COLOR_RGB, LightColor, LightLimits, LightOutcome, LightReport
from scoring.observation import BBox, Expression, FaceObservation, FrameObservation, HeadPose, Quality
from scoring.reasons import Reason
from scoring.settings import EngineSettings
from tests.support.synthetic_face import LANDMARKS, SIZE, base_frame, shading

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # each drives a challenge over synthetic frames (~1.5 s)
SETTINGS = RealtimeSettings()
ENGINE = EngineSettings()
STEP_MS = 66
LAG_MS = 150
BASE = base_frame(0.55)
CURVED = shading(flat=False)


def observation(t_ms: int, blink: float, face: bool = True) -> FrameObservation:
    """A centred, frontal face filling the synthetic frame's middle (what positioning asks for)."""
    if not face:
        return FrameObservation(t_ms, t_ms // STEP_MS, SIZE, SIZE, 0, None, Reason.NO_FACE)
    observed = FaceObservation(
        bbox=BBox(30, 30, 210, 210),
        landmarks=LANDMARKS.astype(np.float32),
        pose=HeadPose(0.0, 0.0, 0.0),
        expression=Expression(blink, 0.05, 0.0),
        quality=Quality(0.5, 0.5, 0.5, True, 0.5),
        liveness=0.9,
    )
    return FrameObservation(t_ms, t_ms // STEP_MS, SIZE, SIZE, 1, observed)


class Screen:
    """What the widget shows: the colour of the last `light` message, from when it arrived."""

    def __init__(self) -> None:
        self.shown: list[tuple[int, str]] = []

    def take(self, messages: list[p.ServerMessage], now_ms: int) -> None:
        for m in messages:
            if isinstance(m, p.Light):
                self.shown.append((now_ms, m.color))

    def color(self, t_ms: int) -> np.ndarray:
        current = [c for at, c in self.shown if at <= t_ms]
        if not current or current[-1] not in COLOR_RGB:
            return np.zeros(3)
        return np.asarray(COLOR_RGB[LightColor(current[-1])], float)


def run(
    session: ChallengeSession,
    until_ms: int,
    *,
    reflect: bool = True,
    away: tuple[int, int] | None = None,
    screen: Screen | None = None,
) -> tuple[Screen, list[p.ServerMessage]]:
    """Feeds frames every STEP_MS; the face closes its eyes from 11 s on, after any light phase (the evidence a passive check waits for)."""
    screen = screen or Screen()
    sent: list[p.ServerMessage] = []
    rng = np.random.default_rng(3)
    for t in range(STEP_MS, until_ms, STEP_MS):
        gone = away is not None and away[0] <= t < away[1]
        gain = 1 + 0.15 * CURVED[..., None] * (screen.color(t - LAG_MS) if reflect else 0)
        rgb = np.clip(BASE * gain + rng.normal(0, 2, BASE.shape), 0, 255).astype(np.uint8)
        x = int(rng.integers(40, 180))  # something moves above the forehead: a still would be static_video
        rgb[35:50, x : x + 20] = 30
        out = session.observe(observation(t, 0.9 if t > 11000 else 0.1, face=not gone), rgb, t)
        screen.take(out, t)
        sent += out
        if session.done:
            break
    return screen, sent


def light_session() -> ChallengeSession:
    session = ChallengeSession((), SETTINGS, ENGINE, light=True)
    session.start(0)
    return session


def test_the_light_phase_follows_positioning_one_colour_at_a_time() -> None:
    session = light_session()
    screen, sent = run(session, 20000)
    phases = [m.state for m in sent if isinstance(m, p.State)]
    assert phases[:3] == [p.Phase.LIGHT, p.Phase.CHALLENGE, p.Phase.DECIDING]
    lights = [m for m in sent if isinstance(m, p.Light)]
    total = lights[0].total
    assert 6 <= total <= 8 and [m.index for m in lights] == list(range(total + 1))
    assert lights[-1].color == p.LIGHT_OFF
    times = [at for at, _ in screen.shown]
    limits = LightLimits()
    gaps = np.diff(times)
    assert (gaps >= limits.min_step_ms).all() and (gaps <= limits.max_step_ms + STEP_MS).all(), gaps
    assert not any(session.wants_liveness(n) for n in range(3)) or session.phase != p.Phase.LIGHT
    outcome = session.outcome
    assert outcome is not None and outcome.light is not None
    assert outcome.light.outcome is LightOutcome.PASSED, outcome.light
    assert outcome.light.lag_ms is not None and abs(outcome.light.lag_ms - LAG_MS) <= 70
    assert [c.value for c in outcome.light.colors] == [m.color for m in lights[:-1]]
    assert outcome.status == SessionStatus.SUCCEEDED and outcome.reasons == []


def test_frames_that_do_not_reflect_fail_with_light_mismatch() -> None:
    session = light_session()
    run(session, 20000, reflect=False)
    outcome = session.outcome
    assert outcome is not None and outcome.light is not None
    assert outcome.light.outcome is LightOutcome.MISMATCH
    assert outcome.status == SessionStatus.FAILED and outcome.reasons == [Reason.LIGHT_MISMATCH]


def test_no_anti_spoof_on_tinted_frames() -> None:
    session = light_session()
    screen = Screen()
    for t in range(STEP_MS, 4000, STEP_MS):
        screen.take(session.observe(observation(t, 0.1), BASE.astype(np.uint8), t), t)
        if session.phase == p.Phase.LIGHT:
            break
    assert session.phase == p.Phase.LIGHT
    assert not any(session.wants_liveness(n) for n in range(6))


def test_a_face_away_for_more_than_a_second_interrupts_and_a_fresh_sequence_follows() -> None:
    session = light_session()
    screen, sent = run(session, 2500)  # positioned, the colours running
    assert session.phase == p.Phase.LIGHT
    _, later = run(session, 20000, away=(2500, 4000), screen=screen)
    phases = [m.state for m in later if isinstance(m, p.State)]
    assert phases[:2] == [p.Phase.POSITIONING, p.Phase.LIGHT], phases
    offs = [m for m in sent + later if isinstance(m, p.Light) and m.color == p.LIGHT_OFF]
    assert len(offs) == 2, "the interrupted sequence is switched off, then the fresh one ends"
    assert session._light is not None and session._light.tried == 2
    assert session.outcome is not None and session.outcome.light is not None
    assert session.outcome.light.outcome is LightOutcome.PASSED and session.outcome.status == SessionStatus.SUCCEEDED


def test_declined_lights_skip_the_phase_and_say_so() -> None:
    session = ChallengeSession((), SETTINGS, ENGINE, light=True)
    session.decline_light()
    session.start(0)
    _, sent = run(session, 20000)
    assert not any(isinstance(m, p.Light) for m in sent)
    assert [m.state for m in sent if isinstance(m, p.State)][0] == p.Phase.CHALLENGE
    outcome = session.outcome
    assert outcome is not None and outcome.light is not None and outcome.light.outcome is LightOutcome.DECLINED
    assert outcome.status == SessionStatus.SUCCEEDED


def test_a_session_without_light_has_no_light_phase() -> None:
    session = ChallengeSession((), SETTINGS, ENGINE)
    session.decline_light()  # harmless without the phase
    session.start(0)
    _, sent = run(session, 20000)
    assert not any(isinstance(m, p.Light) for m in sent)
    assert session.outcome is not None and session.outcome.light is None


def inconclusive_first(monkeypatch: pytest.MonkeyPatch, times: int) -> list[LightReport]:
    """The first `times` measures come back inconclusive (a relief too noisy to tell a face from a plane)."""
    import realtime.light_phase as phase

    real, seen = phase.measure, []

    def measure(*args: Any, **kwargs: Any) -> LightReport:
        report = real(*args, **kwargs)
        seen.append(report)
        if len(seen) <= times:
            return replace(report, outcome=LightOutcome.MISMATCH, inconclusive=True)
        return report

    monkeypatch.setattr(phase, "measure", measure)
    return seen


def test_an_inconclusive_relief_shows_a_fresh_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    measured = inconclusive_first(monkeypatch, 1)
    session = light_session()
    _, sent = run(session, 30000)
    phases = [m.state for m in sent if isinstance(m, p.State)]
    assert phases[:4] == [p.Phase.LIGHT, p.Phase.POSITIONING, p.Phase.LIGHT, p.Phase.CHALLENGE], phases
    offs = [m for m in sent if isinstance(m, p.Light) and m.color == p.LIGHT_OFF]
    assert len(offs) == 2 and len(measured) == 2
    assert session._light is not None and session._light.tried == 2 and session._light.inconclusive == 1
    outcome = session.outcome
    assert outcome is not None and outcome.light is not None and outcome.light.outcome is LightOutcome.PASSED


def test_inconclusive_on_every_attempt_is_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    inconclusive_first(monkeypatch, 99)
    session = light_session()
    run(session, 40000)
    assert session._light is not None and session._light.tried == session._light.attempts == 3
    outcome = session.outcome
    assert outcome is not None and outcome.light is not None and outcome.light.inconclusive
    assert outcome.status == SessionStatus.FAILED and Reason.LIGHT_MISMATCH in outcome.reasons
