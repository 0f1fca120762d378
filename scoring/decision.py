"""The one set of decision rules: the facts a check gathered in, the ordered reasons and `alive` out.

Stills (scoring.engine.analyze_image), recorded clips (analyze_video) and live checks (realtime.challenge) gather
different facts in different ways, then all call `decide`. Where the three differ, the difference is a field of
`Rules` (built by `Rules.image` / `Rules.video` / `Rules.live`), never a copy of a rule:
- which rules apply and in which order the reasons are listed (`order`; clients and tests see the order);
- the live check needs `min_liveness_frames` anti-spoof scores and counts "no score at all" as low liveness,
  where a still or a clip without scores already says no_face / too_few_frames;
- a live check that stopped early (`Facts.stopped`) is judged only on why it stopped, plus low liveness;
- a session (live or the recording fallback, `Rules.recording`) also has the match with its reference photo
  (`Facts.same_person`: face_mismatch) and, for a recording, what the fallback's own checks found (`Facts.session`);
  a recording is judged by the video rules plus what a live check of its mode asks (anti-spoof scores, watch time).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from scoring.evidence import EvidenceReport
from scoring.reasons import Reason
from scoring.score import ScoreInputs, ScoreModel, ScoreResult
from scoring.settings import EngineSettings


class Rule(StrEnum):
    """One rule of the decision, each adding zero or more reasons."""

    PRESENCE = "presence"  # no_face | multiple_faces | too_few_frames
    SHORT_TIME = "short_time"
    EVIDENCE = "evidence"  # static_video | flat_face | looped_video, as scoring.evidence reported them
    IDENTITY = "identity"  # face_changed
    LIVENESS = "liveness"  # low_liveness; with evidence, the calibrated score (scoring.score) names what failed
    ACTIONS = "actions"  # actions_failed
    REFERENCE = "reference"  # reference_no_face (does not count against alive)
    LIGHT = "light"  # light_mismatch | too_bright, as scoring.light measured them (live checks that asked)
    MATCH = "match"  # face_mismatch: the face is not the reference photo's (sessions with a reference)
    SESSION = "session"  # the recording fallback's own checks (moved_before_prompt, recording_timeline)


# The order reasons are listed in; a rule not named does not apply to that kind of check.
IMAGE_ORDER = (Rule.PRESENCE, Rule.LIVENESS, Rule.REFERENCE, Rule.ACTIONS)
VIDEO_ORDER = (
    Rule.PRESENCE,
    Rule.SHORT_TIME,
    Rule.EVIDENCE,
    Rule.IDENTITY,
    Rule.LIVENESS,
    Rule.ACTIONS,
    Rule.REFERENCE,
)
# A live check has no presence rule: a missing face keeps it in positioning (positioning_failed, timeout).
LIVE_ORDER = (Rule.LIVENESS, Rule.IDENTITY, Rule.ACTIONS, Rule.EVIDENCE, Rule.LIGHT, Rule.MATCH)
RECORDING_ORDER = (*VIDEO_ORDER, Rule.MATCH, Rule.SESSION)


@dataclass(frozen=True)
class Facts:
    """What one check gathered, whatever the source (a still is one frame)."""

    frames: int  # frames analyzed
    frames_with_face: int
    multiple_faces_frames: int  # frames whose face was refused because there were several
    liveness_frames: int  # anti-spoof scores
    average_liveness: float  # their mean; 0.0 without any
    identity_min: float | None  # lowest similarity between the check's faces (None: fewer than two embeddings)
    actions_asked: int
    actions_passed: int  # a still passes none: it cannot show an action
    evidence: tuple[str, ...] = ()  # scoring.evidence's reasons (empty when nothing was tracked)
    light: tuple[str, ...] = ()  # scoring.light's reason (empty: passed, declined, or not asked)
    duration_s: float | None = None  # None: not a clip
    reference_asked: bool = False
    reference_found: bool = False  # a face was found in the reference photo
    stopped: tuple[str, ...] = ()  # a live check stopped before deciding: why (timeout, cancelled, face_changed...)
    same_person: bool | None = None  # the face against the session's reference photo (None: no reference, no face)
    session: tuple[str, ...] = ()  # what the recording fallback's own checks found (its codes, listed last)
    # The evidence's measures for the calibrated score (scoring.score); None: no cross-frame evidence (a still,
    # too few faces), and the anti-spoof mean alone meets the liveness threshold.
    expression: float | None = None
    parallax: float | None = None
    moved: bool = False
    expression_action: bool = False  # a server-timed blink, smile or open mouth was performed (live checks)


@dataclass(frozen=True)
class Rules:
    """The thresholds and the per-kind differences (module docstring)."""

    order: tuple[Rule, ...]
    liveness_threshold: float
    identity_threshold: float
    min_selected_frames: int = 0  # fewer anti-spoof scores than this (capped at the frames seen): too_few_frames
    min_seconds: float = 0.0  # shorter clips: short_time
    # None (stills, clips): no minimum, and without scores the liveness rule says nothing (presence does).
    # An int (live): fewer scores than this is low_liveness, and no score at all counts as an average of 0.0.
    min_liveness_frames: int | None = None
    score: ScoreModel | None = None  # clips and live checks: the calibrated score replaces the plain threshold

    @classmethod
    def image(cls, settings: EngineSettings) -> Rules:
        return cls(
            IMAGE_ORDER,
            settings.liveness_threshold,
            settings.identity_threshold,
            min_selected_frames=settings.min_selected_frames,
        )

    @classmethod
    def video(cls, settings: EngineSettings, min_seconds: float | None = None) -> Rules:
        """`min_seconds` overrides settings.min_video_seconds (a request option; Huawei asks for 1 s)."""
        return cls(
            VIDEO_ORDER,
            settings.liveness_threshold,
            settings.identity_threshold,
            min_selected_frames=settings.min_selected_frames,
            min_seconds=settings.min_video_seconds if min_seconds is None else min_seconds,
            score=settings.score,
        )

    @classmethod
    def recording(cls, settings: EngineSettings, min_liveness_frames: int, min_watch_s: float) -> Rules:
        """The recording fallback's clip: the video rules, and what a live check of the mode asks too (as many
        anti-spoof scores, as long a watch), the reference match and the fallback's own checks."""
        video = cls.video(settings)
        return replace(
            video,
            order=RECORDING_ORDER,
            min_liveness_frames=min_liveness_frames,
            min_seconds=max(video.min_seconds, min_watch_s),
        )

    @classmethod
    def live(cls, settings: EngineSettings, min_liveness_frames: int) -> Rules:
        return cls(
            LIVE_ORDER,
            settings.liveness_threshold,
            settings.identity_threshold,
            min_liveness_frames=min_liveness_frames,
            score=settings.score,
        )


def evidence_measures(report: EvidenceReport | None) -> dict[str, Any]:
    """The Facts fields an evidence report fills (none when it measured too few faces)."""
    if report is None or not report.measured:
        return {}
    return {"expression": report.expression, "parallax": report.parallax, "moved": report.moved}


def evidence_score(facts: Facts, rules: Rules) -> ScoreResult | None:
    """The calibrated score of a check that has cross-frame evidence (None otherwise). A server-timed expression
    action performed is the strongest expression evidence a camera gives: it counts as the expression cap."""
    if rules.score is None or facts.expression is None or not facts.liveness_frames:
        return None
    expression = rules.score.expression_cap if facts.expression_action else facts.expression
    return rules.score.judge(ScoreInputs(facts.average_liveness, expression, facts.parallax, facts.moved))


def evidence_convinced(facts: Facts, rules: Rules) -> bool:
    """A live check may decide now: nothing proven against it and the score accepts."""
    result = evidence_score(facts, rules)
    return not facts.evidence and result is not None and result.reason is None


@dataclass(frozen=True)
class Decision:
    reasons: tuple[str, ...]  # stable codes (scoring.reasons; a live check's stop reasons), in the rules' order
    alive: bool  # no reason besides reference_no_face: a reference without a face fails the match, not liveness


def decide(facts: Facts, rules: Rules) -> Decision:
    if facts.stopped:
        # Stopped before the decision: what it did not get to finish is not judged, low scores so far are.
        reasons = list(facts.stopped)
        if _low_liveness(facts, rules, min_frames=None) and Reason.LOW_LIVENESS not in reasons:
            reasons.append(Reason.LOW_LIVENESS)
    else:
        reasons = []
        for rule in rules.order:
            reasons += [r for r in _apply(rule, facts, rules) if r not in reasons]
    return Decision(tuple(reasons), alive=all(r == Reason.REFERENCE_NO_FACE for r in reasons))


def _apply(rule: Rule, f: Facts, rules: Rules) -> list[str]:
    if rule is Rule.PRESENCE:
        return _presence(f, rules)
    if rule is Rule.SHORT_TIME:
        return [Reason.SHORT_TIME] if f.duration_s is not None and f.duration_s < rules.min_seconds else []
    if rule is Rule.EVIDENCE:
        return list(f.evidence)
    if rule is Rule.LIGHT:
        return list(f.light)
    if rule is Rule.IDENTITY:
        return [Reason.FACE_CHANGED] if f.identity_min is not None and f.identity_min < rules.identity_threshold else []
    if rule is Rule.LIVENESS:
        result = evidence_score(f, rules)
        if result is not None and (rules.min_liveness_frames is None or f.liveness_frames >= rules.min_liveness_frames):
            return list(result.reasons)
        return [Reason.LOW_LIVENESS] if _low_liveness(f, rules, rules.min_liveness_frames) else []
    if rule is Rule.ACTIONS:
        return [Reason.ACTIONS_FAILED] if f.actions_passed < f.actions_asked else []
    if rule is Rule.REFERENCE:
        return [Reason.REFERENCE_NO_FACE] if f.reference_asked and not f.reference_found else []
    if rule is Rule.MATCH:
        return [Reason.FACE_MISMATCH] if f.same_person is False else []
    if rule is Rule.SESSION:
        return list(f.session)
    raise AssertionError(rule)


def _presence(f: Facts, rules: Rules) -> list[str]:
    """No face at all: multiple_faces when most frames had several, else no_face. Too few scored frames:
    multiple_faces when any frame had several (the selector refused them), else too_few_frames."""
    if not f.frames_with_face:
        return [Reason.MULTIPLE_FACES if f.multiple_faces_frames > f.frames / 2 else Reason.NO_FACE]
    if f.liveness_frames < min(rules.min_selected_frames, max(1, f.frames)):
        return [Reason.MULTIPLE_FACES if f.multiple_faces_frames else Reason.TOO_FEW_FRAMES]
    return []


def _low_liveness(f: Facts, rules: Rules, min_frames: int | None) -> bool:
    if min_frames is None:
        return f.liveness_frames > 0 and f.average_liveness < rules.liveness_threshold
    return f.liveness_frames < min_frames or f.average_liveness < rules.liveness_threshold
