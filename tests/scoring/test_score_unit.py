"""scoring.score and the decision's use of it, without models: the calibrated score weighs the parts together, so
no single measure just under a line vetoes the others; what fails is named by the weakest part."""

from __future__ import annotations

import math

import pytest

from scoring.decision import Facts, Rules, decide, evidence_convinced, evidence_score
from scoring.reasons import Reason
from scoring.score import SCORE_MODEL, ScoreInputs
from scoring.settings import EngineSettings

pytestmark = pytest.mark.unit
SETTINGS = EngineSettings()
CAP = SCORE_MODEL.expression_cap


def facts(antispoof: float, expression: float | None, parallax: float | None = None, **kw: object) -> Facts:
    base: dict[str, object] = dict(
        frames=60,
        frames_with_face=60,
        multiple_faces_frames=0,
        liveness_frames=20,
        average_liveness=antispoof,
        identity_min=0.9,
        actions_asked=0,
        actions_passed=0,
        duration_s=4.0,
        expression=expression,
        parallax=parallax,
    )
    base.update(kw)
    return Facts(**base)  # type: ignore[arg-type]


def test_the_score_rises_with_every_part() -> None:
    low = SCORE_MODEL.judge(ScoreInputs(0.5, 0.5, None, False)).logit
    assert SCORE_MODEL.judge(ScoreInputs(0.8, 0.5, None, False)).logit > low
    assert SCORE_MODEL.judge(ScoreInputs(0.5, 2.0, None, False)).logit > low
    assert SCORE_MODEL.judge(ScoreInputs(0.5, 0.5, SCORE_MODEL.parallax_ref * 3, False)).logit > low


def test_an_unmeasured_parallax_counts_for_nothing_either_way() -> None:
    none = SCORE_MODEL.judge(ScoreInputs(0.7, 1.0, None, True))
    at_the_plane_limit = SCORE_MODEL.judge(ScoreInputs(0.7, 1.0, SCORE_MODEL.parallax_ref, True))
    assert none.logit == pytest.approx(at_the_plane_limit.logit)
    assert none.parts["parallax"] == 0.0


def test_a_confident_anti_spoof_cannot_buy_a_motionless_face_through() -> None:
    """The anti-spoof logit is clipped above: a picture the model is sure of still needs motion evidence."""
    still = SCORE_MODEL.judge(ScoreInputs(0.9999, 0.0, None, False))
    assert still.reason == Reason.STATIC_VIDEO
    held = SCORE_MODEL.judge(ScoreInputs(0.9999, 0.0, None, True))
    assert held.reason == Reason.FLAT_FACE


def test_a_screen_that_moves_like_a_face_is_low_liveness() -> None:
    """A replay of a live person shows real expressions; a confident 'spoof' is what refuses it."""
    replay = SCORE_MODEL.judge(ScoreInputs(0.01, CAP, SCORE_MODEL.parallax_ref * 2, True))
    assert replay.reason == Reason.LOW_LIVENESS


def test_a_talking_face_with_an_ordinary_anti_spoof_score_is_accepted() -> None:
    assert SCORE_MODEL.judge(ScoreInputs(0.8, 2.0, None, True)).reason is None


def test_clips_decide_on_the_score_and_stills_on_the_plain_threshold() -> None:
    rules = Rules.video(SETTINGS)
    # an anti-spoof mean under the stills' threshold, carried by clear expression evidence
    talking = facts(SETTINGS.liveness_threshold - 0.05, 2.0)
    assert evidence_score(talking, rules) is not None
    assert decide(talking, rules).alive == (evidence_score(talking, rules).reason is None)  # type: ignore[union-attr]
    without_evidence = facts(SETTINGS.liveness_threshold - 0.05, None)
    assert decide(without_evidence, rules).reasons == (Reason.LOW_LIVENESS,)
    assert evidence_score(talking, Rules.image(SETTINGS)) is None


def test_a_finding_refuses_whatever_the_score() -> None:
    rules = Rules.video(SETTINGS)
    proven_plane = facts(0.95, CAP, SCORE_MODEL.parallax_ref / 2, evidence=(Reason.FLAT_FACE,))
    decision = decide(proven_plane, rules)
    assert not decision.alive and Reason.FLAT_FACE in decision.reasons
    assert not evidence_convinced(proven_plane, Rules.live(SETTINGS, 5))


def test_a_performed_expression_action_is_the_strongest_expression_evidence() -> None:
    rules = Rules.live(SETTINGS, 5)
    calm = facts(0.7, 0.2)
    acted = facts(0.7, 0.2, expression_action=True, actions_asked=1, actions_passed=1)
    assert evidence_score(acted, rules).logit > evidence_score(calm, rules).logit  # type: ignore[union-attr]
    assert evidence_score(acted, rules).parts["expression"] == pytest.approx(  # type: ignore[union-attr]
        SCORE_MODEL.w_expression * math.log(CAP)
    )


def test_a_live_check_with_too_few_scores_is_low_liveness_whatever_its_evidence() -> None:
    rules = Rules.live(SETTINGS, 5)
    few = facts(0.9, CAP, liveness_frames=2)
    assert decide(few, rules).reasons == (Reason.LOW_LIVENESS,)


def test_a_refusal_names_a_spoof_verdict_of_the_anti_spoof_model_too() -> None:
    printed = SCORE_MODEL.judge(ScoreInputs(0.05, 0.0, None, False))
    assert printed.reasons == (Reason.STATIC_VIDEO, Reason.LOW_LIVENESS)
    confident = SCORE_MODEL.judge(ScoreInputs(0.95, 0.0, None, False))
    assert confident.reasons == (Reason.STATIC_VIDEO,)
