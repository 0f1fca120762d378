"""Action detectors: turn_left, turn_right, nod, blink, open_mouth, smile.

Every signal is measured relative to the user's own starting pose and expression (a baseline), so a user
who sits slightly turned or smiles by default is judged by what they do, not by where they started.
An event starts when the signal crosses its threshold and ends when it falls below half of it (hysteresis).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from scoring.observation import FaceObservation, FrameObservation
from scoring.settings import ActionSettings


class Action(StrEnum):
    """An action the user can be asked to do; members compare equal to their names on the wire."""

    TURN_LEFT = "turn_left"  # the user's own left
    TURN_RIGHT = "turn_right"
    NOD = "nod"
    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    SMILE = "smile"


ACTIONS: tuple[Action, ...] = tuple(Action)
# Actions that are an expression: performed inside the window the server chose, the strongest expression evidence
# a camera can give (scoring.decision counts one as the score's expression cap).
EXPRESSION_ACTIONS: frozenset[Action] = frozenset({Action.BLINK, Action.OPEN_MOUTH, Action.SMILE})


@dataclass(frozen=True)
class Baseline:
    yaw: float
    pitch: float
    blink: float
    mouth_open: float
    smile: float

    @classmethod
    def from_faces(cls, faces: Sequence[FaceObservation]) -> Baseline:
        if not faces:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0)
        med = statistics.median
        return cls(
            yaw=med(f.pose.yaw for f in faces),
            pitch=med(f.pose.pitch for f in faces),
            blink=med(f.expression.blink for f in faces),
            mouth_open=med(f.expression.mouth_open for f in faces),
            smile=med(f.expression.smile for f in faces),
        )


def threshold_for(action: str, settings: ActionSettings) -> float:
    return {
        Action.TURN_LEFT: settings.turn_threshold_deg,
        Action.TURN_RIGHT: settings.turn_threshold_deg,
        Action.NOD: settings.nod_threshold_deg,
        Action.BLINK: settings.blink_threshold,
        Action.OPEN_MOUTH: settings.mouth_threshold,
        Action.SMILE: settings.smile_threshold,
    }[Action(action)]


def signal(action: str, face: FaceObservation, base: Baseline) -> float:
    """How far the face has moved toward `action` from the baseline (degrees or blendshape units).
    yaw > 0 is the user's own left (pinned by tests on real media)."""
    if action == Action.TURN_LEFT:
        return face.pose.yaw - base.yaw
    if action == Action.TURN_RIGHT:
        return base.yaw - face.pose.yaw
    if action == Action.NOD:
        return abs(face.pose.pitch - base.pitch)
    if action == Action.BLINK:
        return face.expression.blink - base.blink
    if action == Action.OPEN_MOUTH:
        return face.expression.mouth_open - base.mouth_open
    if action == Action.SMILE:
        return face.expression.smile - base.smile
    raise ValueError(f"unknown action {action!r}")


def event_confidence(peak: float, threshold: float) -> float:
    """0.5 at the threshold, 1.0 at twice the threshold; below the threshold, proportionally under 0.5."""
    if peak >= threshold:
        return min(1.0, 0.5 + 0.5 * (peak - threshold) / threshold)
    return max(0.0, 0.5 * peak / threshold)


@dataclass(frozen=True)
class ActionEvent:
    action: Action
    start_ms: int
    end_ms: int
    peak: float
    confidence: float


class ActionDetector:
    """Incremental detector for one action; feed observations in time order.

    With `require_rest`, an event only counts after the signal has first been seen at rest (below the exit
    level): a pose already held when the detector starts (say, when the prompt appears) does not count.
    """

    def __init__(
        self, action: str, baseline: Baseline, settings: ActionSettings, *, require_rest: bool = False
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        self.action = Action(action)
        self.baseline = baseline
        self.threshold = threshold_for(action, settings)
        self.exit_level = self.threshold * 0.5
        self.min_event_ms = 0.0 if action == Action.BLINK else settings.min_event_seconds * 1000
        self._armed = not require_rest
        self._start: int | None = None
        self._last_above = 0
        self._peak = 0.0
        self.best_peak = 0.0  # largest signal seen, for the confidence of a failed action

    def update(self, timestamp_ms: int, face: FaceObservation | None) -> ActionEvent | None:
        """Returns an event when one ends (the signal falls back below the exit level)."""
        if face is None:
            return None
        value = signal(self.action, face, self.baseline)
        if self._armed:
            self.best_peak = max(self.best_peak, value)
        if not self._armed:
            if value < self.exit_level:
                self._armed = True
            return None
        if self._start is None:
            if value >= self.threshold:
                self._start, self._peak, self._last_above = timestamp_ms, value, timestamp_ms
            return None
        if value >= self.exit_level:
            self._peak = max(self._peak, value)
            self._last_above = timestamp_ms
            return None
        return self._close()

    def flush(self) -> ActionEvent | None:
        """Closes an event still open at the end of the sequence."""
        return self._close() if self._start is not None else None

    @property
    def in_progress(self) -> bool:
        return self._start is not None

    def _close(self) -> ActionEvent | None:
        start, end, peak = self._start, self._last_above, self._peak
        self._start = None
        if start is None or end - start < self.min_event_ms:
            return None
        return ActionEvent(self.action, start, end, peak, event_confidence(peak, self.threshold))


def find_events(
    observations: Sequence[FrameObservation], action: str, baseline: Baseline, settings: ActionSettings
) -> tuple[list[ActionEvent], float]:
    """All events of one action in a recorded sequence, and the largest signal seen."""
    detector = ActionDetector(action, baseline, settings)
    events = []
    for obs in observations:
        event = detector.update(obs.timestamp_ms, obs.face)
        if event:
            events.append(event)
    tail = detector.flush()
    if tail:
        events.append(tail)
    return events, detector.best_peak


@dataclass(frozen=True)
class ActionResult:
    action: str
    passed: bool
    confidence: float
    start_ms: int | None = None
    end_ms: int | None = None
    window_ms: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "passed": self.passed,
            "confidence": round(self.confidence, 4),
            "start_s": None if self.start_ms is None else round(self.start_ms / 1000, 3),
            "end_s": None if self.end_ms is None else round(self.end_ms / 1000, 3),
            "window_s": None if self.window_ms is None else [self.window_ms[0] / 1000, self.window_ms[1] / 1000],
        }


def starting_baseline(observations: Sequence[FrameObservation], settings: ActionSettings) -> Baseline:
    faces = [o.face for o in observations if o.face is not None]
    if not faces:
        return Baseline.from_faces([])
    first = next(o.timestamp_ms for o in observations if o.face is not None)
    limit = first + settings.baseline_seconds * 1000
    early = [o.face for o in observations if o.face is not None and o.timestamp_ms <= limit]
    return Baseline.from_faces(early or faces[:3])


def check_sequence(
    observations: Sequence[FrameObservation],
    actions: Sequence[str],
    settings: ActionSettings,
    windows: Sequence[tuple[int, int] | None] | None = None,
) -> list[ActionResult]:
    """Each action must happen, in the order asked: action i's event starts after action i-1's started,
    and inside its window (ms from the start of the clip) when one is given."""
    baseline = starting_baseline(observations, settings)
    cache: dict[str, tuple[list[ActionEvent], float]] = {}
    results: list[ActionResult] = []
    cursor = -1
    for index, action in enumerate(actions):
        if action not in cache:
            cache[action] = find_events(observations, action, baseline, settings)
        events, best_peak = cache[action]
        window = windows[index] if windows else None
        match = None
        for event in events:
            if event.start_ms <= cursor:
                continue
            if window is not None and not (window[0] <= event.start_ms <= window[1]):
                continue
            match = event
            break
        if match is None:
            candidates = [e.peak for e in events if e.start_ms > cursor] or [
                min(best_peak, threshold_for(action, settings) * 0.99)
            ]
            confidence = min(0.49, event_confidence(max(candidates), threshold_for(action, settings)))
            results.append(ActionResult(action, False, confidence, window_ms=window))
            continue
        cursor = match.start_ms
        results.append(ActionResult(action, True, match.confidence, match.start_ms, match.end_ms, window))
    return results


def parse_windows(text: str | None) -> tuple[tuple[int, int], ...] | None:
    """Huawei action_time: '1000-3000,4000-7000' (ms from the start of the clip); ValueError when malformed."""
    if not text:
        return None
    windows = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        if not sep:
            raise ValueError(f"bad action window {part!r}; expected START-END in ms")
        windows.append((int(start), int(end)))
    return tuple(windows)


def parse_actions(names: Iterable[str]) -> tuple[Action, ...]:
    out = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name not in ACTIONS:
            raise ValueError(f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
        out.append(Action(name))
    return tuple(out)
