"""scoring.actions on synthetic observation sequences: nod and blink (no shared clip contains them), thresholds,
require_rest, min_event_seconds, hysteresis, and confidence >= 0.5 exactly when an action passed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from scoring.actions import ActionDetector, Baseline, check_sequence
from scoring.observation import BBox, Expression, FaceObservation, FrameObservation, HeadPose, Quality
from scoring.settings import ActionSettings

pytestmark = pytest.mark.unit

STEP_MS = 66  # ~15 fps, the recorded-video analysis rate
SETTINGS = ActionSettings()  # nod_threshold_deg 10, blink_threshold 0.35, min_event_seconds 0.06
REST = Baseline(yaw=0.0, pitch=0.0, blink=0.0, mouth_open=0.0, smile=0.0)


def face(pitch: float = 0.0, blink: float = 0.05) -> FaceObservation:
    return FaceObservation(
        bbox=BBox(100, 100, 300, 320),
        landmarks=np.zeros((478, 3), np.float32),
        pose=HeadPose(yaw=0.0, pitch=pitch, roll=0.0),
        expression=Expression(blink=blink, mouth_open=0.02, smile=0.05),
        quality=Quality(0.4, 0.8, 0.5, True, 0.9),
    )


def frames(faces: Sequence[FaceObservation | None]) -> list[FrameObservation]:
    return [
        FrameObservation(i * STEP_MS, i, 640, 480, int(f is not None), f, None if f else "no_face")
        for i, f in enumerate(faces)
    ]


def nod(peak: float, hold: int = 4, rest_before: int = 10, rest_after: int = 6) -> list[FaceObservation]:
    """Rest (long enough for the 0.4 s baseline), ramp to `peak` degrees of pitch, hold, back to rest."""
    ramp = [peak * 0.3, peak * 0.7]
    return (
        [face()] * rest_before
        + [face(p) for p in ramp]
        + [face(peak)] * hold
        + [face(p) for p in reversed(ramp)]
        + [face()] * rest_after
    )


@pytest.mark.parametrize("peak, passes", [(5.0, False), (9.0, False), (12.0, True), (25.0, True), (-15.0, True)])
def test_nod_passes_only_above_the_threshold(peak, passes):
    (result,) = check_sequence(frames(nod(peak)), ["nod"], SETTINGS)
    assert result.passed is passes
    assert (result.confidence >= 0.5) is passes
    if passes:
        assert result.start_ms is not None and result.end_ms is not None and result.end_ms > result.start_ms
        expected = min(1.0, 0.5 + 0.5 * (abs(peak) - 10) / 10)
        assert result.confidence == pytest.approx(expected)
    else:
        assert result.start_ms is None and result.confidence == pytest.approx(0.5 * abs(peak) / 10)


def test_nod_threshold_follows_the_settings():
    strict = ActionSettings(nod_threshold_deg=20.0)
    assert check_sequence(frames(nod(12.0)), ["nod"], strict)[0].passed is False
    assert check_sequence(frames(nod(25.0)), ["nod"], strict)[0].passed is True


def test_nod_measured_from_the_users_own_starting_pitch():
    """A user who sits with the chin 15 degrees up: holding that is rest, not a nod."""
    tilted = [face(15.0)] * 20
    assert check_sequence(frames(tilted), ["nod"], SETTINGS)[0].passed is False
    nodding = [face(15.0)] * 10 + [face(15.0 + 14.0)] * 4 + [face(15.0)] * 6
    assert check_sequence(frames(nodding), ["nod"], SETTINGS)[0].passed is True


def test_blink_single_frame_counts_but_a_small_rise_does_not():
    blink = [face()] * 10 + [face(blink=0.9)] + [face()] * 6  # one frame: blinks are exempt from min_event_seconds
    (result,) = check_sequence(frames(blink), ["blink"], SETTINGS)
    assert result.passed is True and result.confidence >= 0.5 and result.start_ms == result.end_ms == 10 * STEP_MS
    squint = [face()] * 10 + [face(blink=0.3)] * 4 + [face()] * 6  # rise 0.25 < 0.35
    (result,) = check_sequence(frames(squint), ["blink"], SETTINGS)
    assert result.passed is False and result.confidence < 0.5


def test_single_frame_spike_is_not_a_nod():
    spike = [face()] * 10 + [face(25.0)] + [face()] * 6
    (result,) = check_sequence(frames(spike), ["nod"], SETTINGS)
    assert result.passed is False and result.confidence < 0.5
    two_frames = [face()] * 10 + [face(25.0)] * 2 + [face()] * 6  # 66 ms >= min_event_seconds 0.06 s
    assert check_sequence(frames(two_frames), ["nod"], SETTINGS)[0].passed is True


def run(detector: ActionDetector, faces: Sequence[FaceObservation | None]) -> list:
    events = [detector.update(i * STEP_MS, f) for i, f in enumerate(faces)]
    return [e for e in events + [detector.flush()] if e is not None]


def test_require_rest_ignores_a_pose_held_at_the_start():
    held_then_nod = [face(20.0)] * 6 + [face()] * 4 + [face(20.0)] * 4 + [face()] * 3
    strict = run(ActionDetector("nod", REST, SETTINGS, require_rest=True), held_then_nod)
    assert len(strict) == 1 and strict[0].start_ms == 10 * STEP_MS  # only the nod made after returning to rest
    lax = run(ActionDetector("nod", REST, SETTINGS), held_then_nod)
    assert [e.start_ms for e in lax] == [0, 10 * STEP_MS]
    held_only = [face(20.0)] * 10
    assert run(ActionDetector("nod", REST, SETTINGS, require_rest=True), held_only) == []
    assert len(run(ActionDetector("nod", REST, SETTINGS), held_only)) == 1  # flushed at the end
    # At rest means below half the threshold: dipping to 6 degrees (> 5) does not arm the detector.
    dip = [face(20.0)] * 4 + [face(6.0)] * 3 + [face(20.0)] * 4 + [face()] * 3
    assert run(ActionDetector("nod", REST, SETTINGS, require_rest=True), dip) == []


def test_hysteresis_one_event_until_the_signal_falls_below_half_the_threshold():
    wobble = [face()] * 3 + [face(12.0)] * 3 + [face(6.0)] * 3 + [face(12.0)] * 3 + [face()] * 3
    assert len(run(ActionDetector("nod", REST, SETTINGS), wobble)) == 1  # 6 > exit level 5: still the same nod
    twice = [face()] * 3 + [face(12.0)] * 3 + [face(4.0)] * 3 + [face(12.0)] * 3 + [face()] * 3
    events = run(ActionDetector("nod", REST, SETTINGS), twice)
    assert len(events) == 2 and events[0].peak == pytest.approx(12.0)
    assert all(e.confidence >= 0.5 for e in events)


def test_frames_without_a_face_neither_start_nor_end_an_event():
    gap = [face()] * 3 + [face(15.0)] * 2 + [None] * 3 + [face(15.0)] + [face()] * 3
    events = run(ActionDetector("nod", REST, SETTINGS), gap)
    assert len(events) == 1 and events[0].start_ms == 3 * STEP_MS and events[0].end_ms == 8 * STEP_MS
    assert run(ActionDetector("blink", REST, SETTINGS), [None] * 5) == []


def test_order_and_windows():
    """blink then nod, in that order; asking nod before blink fails the blink (it happened before the nod)."""
    clip = [face()] * 10 + [face(blink=0.9)] + [face()] * 5 + nod(18.0, rest_before=2)
    results = check_sequence(frames(clip), ["blink", "nod"], SETTINGS)
    assert [r.passed for r in results] == [True, True]
    first, second = (r.start_ms for r in results)
    assert first is not None and second is not None and first < second
    results = check_sequence(frames(clip), ["nod", "blink"], SETTINGS)
    assert [r.passed for r in results] == [True, False] and results[1].confidence < 0.5
    blink_ms = 10 * STEP_MS
    ok = check_sequence(frames(clip), ["blink"], SETTINGS, [(blink_ms - 100, blink_ms + 100)])
    late = check_sequence(frames(clip), ["blink"], SETTINGS, [(blink_ms + 100, blink_ms + 2000)])
    assert ok[0].passed is True and late[0].passed is False
    for result in (*results, *ok, *late):
        assert (result.confidence >= 0.5) is result.passed
