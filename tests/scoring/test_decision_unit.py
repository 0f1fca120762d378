"""scoring.decision on synthetic facts (no models): each reason, the order per kind of check, reference_no_face not
failing `alive`, and the differences the live check keeps (min_liveness_frames, no presence rule, early stops)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scoring.decision import Facts, Rules, decide
from scoring.reasons import Reason
from scoring.settings import EngineSettings

pytestmark = pytest.mark.unit
SETTINGS = EngineSettings()
VIDEO = Rules.video(SETTINGS)
IMAGE = Rules.image(SETTINGS)
LIVE = Rules.live(SETTINGS, min_liveness_frames=5)
# A clip that passes every rule: faces in every frame, enough scores well above the threshold, one identity.
GOOD = Facts(
    frames=60,
    frames_with_face=60,
    multiple_faces_frames=0,
    liveness_frames=30,
    average_liveness=SETTINGS.liveness_threshold + 0.2,
    identity_min=SETTINGS.identity_threshold + 0.3,
    actions_asked=2,
    actions_passed=2,
    duration_s=SETTINGS.min_video_seconds + 2,
)
# A still that passes: one frame, one score.
STILL = Facts(
    frames=1,
    frames_with_face=1,
    multiple_faces_frames=0,
    liveness_frames=1,
    average_liveness=SETTINGS.liveness_threshold + 0.2,
    identity_min=None,
    actions_asked=0,
    actions_passed=0,
)


def reasons(facts: Facts, rules: Rules) -> list[str]:
    return list(decide(facts, rules).reasons)


def test_good_facts_pass_every_kind() -> None:
    for rules in (VIDEO, LIVE):
        decision = decide(GOOD, rules)
        assert decision.reasons == () and decision.alive
    assert decide(STILL, IMAGE).alive


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"frames_with_face": 0, "liveness_frames": 0, "average_liveness": 0.0}, Reason.NO_FACE),
        (
            {"frames_with_face": 0, "liveness_frames": 0, "average_liveness": 0.0, "multiple_faces_frames": 31},
            Reason.MULTIPLE_FACES,
        ),
        ({"liveness_frames": 3}, Reason.TOO_FEW_FRAMES),
        ({"liveness_frames": 3, "multiple_faces_frames": 1}, Reason.MULTIPLE_FACES),
        ({"duration_s": SETTINGS.min_video_seconds - 0.1}, Reason.SHORT_TIME),
        ({"evidence": (Reason.FLAT_FACE,)}, Reason.FLAT_FACE),
        ({"identity_min": SETTINGS.identity_threshold - 0.01}, Reason.FACE_CHANGED),
        ({"average_liveness": SETTINGS.liveness_threshold - 0.01}, Reason.LOW_LIVENESS),
        ({"actions_passed": 1}, Reason.ACTIONS_FAILED),
    ],
)
def test_each_reason_alone_fails_a_clip(change: dict[str, object], expected: Reason) -> None:
    decision = decide(replace(GOOD, **change), VIDEO)  # type: ignore[arg-type]
    assert decision.reasons == (expected,)
    assert not decision.alive


def test_no_face_needs_most_frames_with_several_faces_for_multiple_faces() -> None:
    facts = replace(GOOD, frames_with_face=0, liveness_frames=0, average_liveness=0.0, multiple_faces_frames=30)
    assert reasons(facts, VIDEO) == [Reason.NO_FACE]  # half is not most


def test_thresholds_are_strict() -> None:
    at = replace(
        GOOD,
        average_liveness=SETTINGS.liveness_threshold,
        identity_min=SETTINGS.identity_threshold,
        duration_s=SETTINGS.min_video_seconds,
    )
    assert decide(at, VIDEO).alive


def test_too_few_frames_is_capped_at_the_frames_analyzed() -> None:
    short = replace(GOOD, frames=3, frames_with_face=3, liveness_frames=3)
    assert Reason.TOO_FEW_FRAMES not in reasons(short, VIDEO)
    assert reasons(replace(short, liveness_frames=2), VIDEO) == [Reason.TOO_FEW_FRAMES]


def test_min_seconds_option_overrides_the_setting() -> None:
    facts = replace(GOOD, duration_s=1.5)
    assert Reason.SHORT_TIME in reasons(facts, Rules.video(SETTINGS, min_seconds=2.0))
    assert Reason.SHORT_TIME not in reasons(facts, Rules.video(SETTINGS, min_seconds=1.0))


def test_video_order() -> None:
    bad = replace(
        GOOD,
        liveness_frames=3,
        duration_s=0.5,
        evidence=(Reason.STATIC_VIDEO, Reason.LOOPED_VIDEO),
        identity_min=0.0,
        average_liveness=0.1,
        actions_passed=0,
        reference_asked=True,
    )
    assert reasons(bad, VIDEO) == [
        Reason.TOO_FEW_FRAMES,
        Reason.SHORT_TIME,
        Reason.STATIC_VIDEO,
        Reason.LOOPED_VIDEO,
        Reason.FACE_CHANGED,
        Reason.LOW_LIVENESS,
        Reason.ACTIONS_FAILED,
        Reason.REFERENCE_NO_FACE,
    ]


def test_image_order_lists_reference_before_actions() -> None:
    bad = replace(STILL, average_liveness=0.1, actions_asked=1, reference_asked=True)
    assert reasons(bad, IMAGE) == [Reason.LOW_LIVENESS, Reason.REFERENCE_NO_FACE, Reason.ACTIONS_FAILED]


def test_image_without_face() -> None:
    none = replace(STILL, frames_with_face=0, liveness_frames=0, average_liveness=0.0)
    assert reasons(none, IMAGE) == [Reason.NO_FACE]
    assert reasons(replace(none, multiple_faces_frames=1), IMAGE) == [Reason.MULTIPLE_FACES]
    assert not decide(none, IMAGE).alive


def test_a_still_fails_any_action_asked() -> None:
    assert reasons(replace(STILL, actions_asked=2), IMAGE) == [Reason.ACTIONS_FAILED]


def test_reference_without_face_does_not_fail_alive() -> None:
    for facts, rules in ((GOOD, VIDEO), (STILL, IMAGE)):
        decision = decide(replace(facts, reference_asked=True, reference_found=False), rules)
        assert decision.reasons == (Reason.REFERENCE_NO_FACE,) and decision.alive
        assert decide(replace(facts, reference_asked=True, reference_found=True), rules).reasons == ()
    with_low = decide(replace(GOOD, reference_asked=True, average_liveness=0.1), VIDEO)
    assert with_low.reasons == (Reason.LOW_LIVENESS, Reason.REFERENCE_NO_FACE) and not with_low.alive


def test_live_order() -> None:
    bad = replace(GOOD, evidence=(Reason.FLAT_FACE,), identity_min=0.0, average_liveness=0.1, actions_passed=0)
    assert reasons(bad, LIVE) == [Reason.LOW_LIVENESS, Reason.FACE_CHANGED, Reason.ACTIONS_FAILED, Reason.FLAT_FACE]


def test_live_needs_min_liveness_frames() -> None:
    few = replace(GOOD, liveness_frames=4)  # high scores, but fewer than the live minimum of 5
    assert reasons(few, LIVE) == [Reason.LOW_LIVENESS]
    assert Reason.LOW_LIVENESS not in reasons(few, VIDEO)  # a clip says too_few_frames instead
    assert reasons(replace(few, liveness_frames=5), LIVE) == []


def test_no_score_is_low_liveness_only_live() -> None:
    none = replace(GOOD, liveness_frames=0, average_liveness=0.0)
    assert reasons(none, LIVE) == [Reason.LOW_LIVENESS]
    assert reasons(none, VIDEO) == [Reason.TOO_FEW_FRAMES]
    assert reasons(none, Rules.live(SETTINGS, min_liveness_frames=0)) == [Reason.LOW_LIVENESS]  # average 0.0


def test_live_has_no_presence_or_short_time_rule() -> None:
    facts = replace(GOOD, frames_with_face=0, multiple_faces_frames=60, duration_s=0.1)
    assert reasons(facts, LIVE) == []


def test_a_stopped_check_is_judged_on_why_it_stopped_and_its_scores() -> None:
    stopped = replace(GOOD, stopped=("timeout",), actions_passed=0, identity_min=0.0, evidence=(Reason.FLAT_FACE,))
    decision = decide(stopped, LIVE)
    assert decision.reasons == ("timeout",) and not decision.alive  # unfinished actions are not judged
    low = decide(replace(stopped, average_liveness=0.1), LIVE)
    assert low.reasons == ("timeout", Reason.LOW_LIVENESS)
    # too few scores to decide on is not low liveness once stopped; no scores at all neither
    assert decide(replace(stopped, liveness_frames=1), LIVE).reasons == ("timeout",)
    assert decide(replace(stopped, liveness_frames=0, average_liveness=0.0), LIVE).reasons == ("timeout",)
    twice = decide(replace(stopped, stopped=(Reason.LOW_LIVENESS,), average_liveness=0.1), LIVE)
    assert twice.reasons == (Reason.LOW_LIVENESS,)
