"""The light challenge's phase of a live check (docs/protocol.md "Light challenge"): it sends one colour at a time
when it is due on the server's clock, samples the face's skin regions on every analyzed frame, and measures once
the sequence and the longest latency after it have passed (scoring/light.py).

Pure and synchronous like realtime/challenge.py, which calls it between positioning and the actions: fed the
frames' observations stamped on the server's clock, it returns the messages to send.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np

from realtime import protocol as p
from scoring.light import (
    LightColor,
    LightLimits,
    LightReport,
    LightStep,
    LightTrace,
    declined,
    draw_sequence,
    measure,
    sample_regions,
)
from scoring.observation import FaceObservation

# A face given any of these while the colours are shown is not where the light falls (or not there at all).
AWAY_CODES = frozenset(
    {
        p.FeedbackCode.NO_FACE,
        p.FeedbackCode.MULTIPLE_FACES,
        p.FeedbackCode.MOVE_INTO_OVAL,
        p.FeedbackCode.FACE_TOO_FAR,
        p.FeedbackCode.FACE_TOO_CLOSE,
    }
)


@dataclass
class _Attempt:
    plan: tuple[tuple[LightColor, int], ...]  # colours and how long each is shown (ms)
    steps: list[LightStep] = field(default_factory=list)
    trace: LightTrace = field(default_factory=LightTrace)
    end_ms: int | None = None  # when `off` was sent


class LightPhase:
    """One session's light challenge. `begin()` once the face is steady, then `observe()` per analyzed frame and
    `tick()` when none arrives; `done` once measured (`report`), or at once when the user declined."""

    def __init__(
        self,
        limits: LightLimits,
        *,
        away_ms: int = 1000,
        attempts: int = 3,
        rng: secrets.SystemRandom | None = None,
    ) -> None:
        self.limits = limits
        self.away_ms = away_ms
        self.attempts = attempts
        self.rng = rng or secrets.SystemRandom()
        self.report: LightReport | None = None
        self.declined = False
        self.tried = 0
        self.inconclusive = 0  # sequences shown again because the relief could not tell a face from a plane
        self._attempt: _Attempt | None = None
        self._away_since: int | None = None
        self._waiting_steady = False  # interrupted: a fresh sequence once the challenge sees a steady face again
        self._unsent: str | None = None  # "step" | "end": what the current call emitted, until sent() stamps it

    @property
    def done(self) -> bool:
        return self.report is not None

    @property
    def waiting_for_face(self) -> bool:
        """Interrupted (the face left the oval): the challenge repositions, then calls begin() again."""
        return self._waiting_steady and not self.done

    def decline(self) -> None:
        """The user chose to continue without lights (photosensitivity): never shown, judged as declined."""
        if self._attempt is None and not self.done:
            self.declined = True
            self.report = declined()

    def begin(self, now_ms: int) -> list[p.ServerMessage]:
        if self.done:
            return []
        self._unsent = None
        self.tried += 1
        self._waiting_steady = False
        self._away_since = None
        self._attempt = _Attempt(draw_sequence(self.limits, self.rng))
        return self._advance(now_ms)

    def observe(
        self, face: FaceObservation | None, rgb: np.ndarray | None, code: p.FeedbackCode, now_ms: int
    ) -> list[p.ServerMessage]:
        self._unsent = None
        attempt = self._attempt
        if attempt is None or self.done or self._waiting_steady:
            return []
        if face is not None and rgb is not None and code not in AWAY_CODES:
            self._away_since = None
            attempt.trace.add(now_ms, sample_regions(rgb, face.landmarks), (face.pose.yaw, face.pose.pitch))
        elif self._away_since is None:
            self._away_since = now_ms
        return self.tick(now_ms)

    def tick(self, now_ms: int) -> list[p.ServerMessage]:
        self._unsent = None
        attempt = self._attempt
        if attempt is None or self.done or self._waiting_steady:
            return []
        if self._away_since is not None and now_ms - self._away_since > self.away_ms and attempt.end_ms is None:
            return self._interrupt(now_ms)
        return self._advance(now_ms)

    def sent(self, now_ms: int) -> None:
        """What the last observe() emitted left the server at `now_ms`, after the frame's analysis: the colour is
        stamped then, not at the frame's arrival (under load the analysis alone can take 100 ms and more)."""
        attempt, unsent, self._unsent = self._attempt, self._unsent, None
        if attempt is None or unsent is None:
            return
        if unsent == "step" and attempt.steps and now_ms > attempt.steps[-1].start_ms:
            attempt.steps[-1] = LightStep(attempt.steps[-1].color, now_ms)
        elif unsent == "end" and attempt.end_ms is not None and now_ms > attempt.end_ms:
            attempt.end_ms = now_ms

    # -- the sequence --------------------------------------------------------------------------------------------

    def _advance(self, now_ms: int) -> list[p.ServerMessage]:
        attempt = self._attempt
        assert attempt is not None
        total = len(attempt.plan)
        if attempt.end_ms is not None:
            if now_ms - attempt.end_ms > self.limits.max_lag_ms:
                self._measure(attempt)
            return []
        index = len(attempt.steps)
        if index and now_ms < attempt.steps[-1].start_ms + attempt.plan[index - 1][1]:
            return []
        if index == total:
            attempt.end_ms = now_ms
            self._unsent = "end"
            return [p.Light(p.LIGHT_OFF, total, total)]
        color = attempt.plan[index][0]
        attempt.steps.append(LightStep(color, now_ms))
        self._unsent = "step"
        return [p.Light(color.value, index, total)]

    def _interrupt(self, now_ms: int) -> list[p.ServerMessage]:
        """The face was away for more than away_ms: stop flashing; a fresh sequence when it is back, or (after the
        last attempt) the measure of what was seen, which fails."""
        attempt = self._attempt
        assert attempt is not None
        total = len(attempt.plan)
        attempt.end_ms = now_ms
        if self.tried >= self.attempts:
            self._measure(attempt)
        else:
            self._waiting_steady = True
        return [p.Light(p.LIGHT_OFF, total, total)]

    def _measure(self, attempt: _Attempt) -> None:
        """The report; or, when the relief was too noisy to tell a face from a plane (scoring/light.py) and attempts
        remain, a fresh sequence once the face is steady again (a real head that moved a lot gets another look; a
        plane measured clearly fails at once)."""
        assert attempt.end_ms is not None
        trace = attempt.trace
        report = measure(attempt.steps, attempt.end_ms, trace.times_ms, trace.samples, self.limits, trace.poses)
        if report.inconclusive and self.tried < self.attempts:
            self.inconclusive += 1
            self._waiting_steady = True
            return
        self.report = report
