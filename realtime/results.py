"""The integrator's result of a session, built the same way for a live check and a recording: what was decided,
why, the best face (and the audit images only when asked for), the match with the reference photo, the models.

The session's decision is made here, once, by scoring.decision (the challenge's or the clip's facts, plus the
reference match and, for a recording, the fallback's own checks); it is what the store keeps and, for a live
check, what the browser is told (realtime/live.py sends it after storing it).

Blocking (embedding, JPEG encoding): run these on a worker thread."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from realtime.challenge import ChallengeOutcome
from realtime.modes import ASSURANCE, Assurance, SessionMode
from realtime.status import SessionStatus
from scoring.decision import Facts, Rules, decide, evidence_score
from scoring.embedding import align_face, cosine
from scoring.engine import LivenessEngine
from scoring.evidence import EvidenceReport
from scoring.imaging import encode_jpeg
from scoring.light import LightOutcome, LightReport
from scoring.match import MatchResult
from scoring.score import ScoreResult
from scoring.verdict import Verdict


@dataclass(frozen=True)
class ResultInputs:
    """What a session asked for that shapes its result."""

    audit_images: bool
    reference: np.ndarray | None  # embedding of the reference photo


@dataclass(frozen=True)
class Measures:
    """What a judged session's result shows besides the decision (docs/protocol.md "Result")."""

    confidence: float
    average_liveness: float
    liveness_frames: int
    actions: tuple[dict[str, object], ...]
    best_face: dict[str, Any] | None
    audit_images: tuple[str, ...]
    identity_min_cosine: float | None
    frames_analyzed: int
    duration_s: float
    evidence: EvidenceReport | None
    match: MatchResult | None
    light: LightReport | None = None
    score: ScoreResult | None = None  # the calibrated score the decision weighed (scoring.score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "confidence": round(self.confidence, 4),
            "average_liveness": round(self.average_liveness, 4),
            "liveness_frames": self.liveness_frames,
            "actions": list(self.actions),
            "best_face": self.best_face,
            "audit_images": list(self.audit_images),
            "identity_min_cosine": None if self.identity_min_cosine is None else round(self.identity_min_cosine, 4),
            "frames_analyzed": self.frames_analyzed,
            "duration_s": round(self.duration_s, 3),
            "evidence": self.evidence.to_dict() if self.evidence else None,  # cross-frame measures (docs/verdict.md)
            "match": self.match.to_dict() if self.match else None,
            "light": self.light.to_dict() if self.light else None,  # the light challenge (docs/protocol.md)
            "score": self.score.to_dict() if self.score else None,
        }


@dataclass(frozen=True)
class SessionResult:
    """A decided session's result: the one outcome the store keeps, the integrator reads and the browser is told.
    `measures` is None for a session that ended without a judgement (a refused upload, a lost node, a timeout)."""

    alive: bool
    reasons: tuple[str, ...]
    mode: SessionMode
    assurance: Assurance
    model_versions: dict[str, str]
    measures: Measures | None = None

    @property
    def status(self) -> SessionStatus:
        return SessionStatus.SUCCEEDED if self.alive else SessionStatus.FAILED

    def to_dict(self) -> dict[str, Any]:
        """The stored (and signed) shape; a result without a judgement has only the decision's keys."""
        return {
            "alive": self.alive,
            **(self.measures.to_dict() if self.measures is not None else {}),
            "reasons": list(self.reasons),
            "mode": self.mode.value,
            "assurance": self.assurance.value,
            "model_versions": self.model_versions,
        }


def failed_result(engine: LivenessEngine, mode: SessionMode, reasons: Sequence[str]) -> SessionResult:
    """A session that ended without a judgement (a refused upload, a lost node, a timeout)."""
    return SessionResult(False, tuple(reasons), mode, ASSURANCE[mode], engine.models.store.versions())


def _b64_jpeg(rgb: np.ndarray, quality: int) -> str:
    return base64.b64encode(encode_jpeg(rgb, quality)).decode()


def _match(engine: LivenessEngine, inputs: ResultInputs, aligned: np.ndarray) -> MatchResult | None:
    if inputs.reference is None:
        return None
    similarity = cosine(inputs.reference, engine.models.embedder.embed_aligned(aligned))
    return MatchResult.from_cosine(similarity, engine.settings.match_threshold)


def _judged(engine: LivenessEngine, mode: SessionMode, facts: Facts, rules: Rules, measures: Measures) -> SessionResult:
    """The session's decision (scoring.decision, the match a fact like the others). A live check whose user
    declined the light challenge it asked for is worth less: assurance low."""
    match = measures.match
    facts = replace(facts, same_person=None if match is None else match.same_person)
    decision = decide(facts, rules)
    measures = replace(measures, score=evidence_score(facts, rules))
    assurance = ASSURANCE[mode]
    if measures.light is not None and measures.light.outcome is LightOutcome.DECLINED:
        assurance = Assurance.LOW
    return SessionResult(decision.alive, decision.reasons, mode, assurance, engine.models.store.versions(), measures)


def live_result(engine: LivenessEngine, inputs: ResultInputs, outcome: ChallengeOutcome) -> SessionResult:
    match = None
    best = None
    if outcome.best is not None and outcome.best.observation.face is not None:
        face = outcome.best.observation.face
        aligned = align_face(outcome.best.rgb, face.landmarks)
        best = {
            "timestamp_s": round(outcome.best.observation.timestamp_ms / 1000, 3),
            "bbox": face.bbox.to_dict(),
            "quality": face.quality.to_dict(),
            "liveness": round(float(face.liveness or 0.0), 4),
        }
        if inputs.audit_images:
            best["image_jpeg_b64"] = _b64_jpeg(aligned, 90)
        match = _match(engine, inputs, aligned)
    images = tuple(_b64_jpeg(f, 80) for f in outcome.audit_frames[:4]) if inputs.audit_images else ()
    measures = Measures(
        confidence=outcome.confidence,
        average_liveness=outcome.average_liveness,
        liveness_frames=outcome.liveness_frames,
        actions=tuple(a.to_dict() for a in outcome.actions),
        best_face=best,
        audit_images=images,
        identity_min_cosine=outcome.identity_min_cosine,
        frames_analyzed=outcome.frames_analyzed,
        duration_s=outcome.duration_ms / 1000,
        evidence=outcome.evidence,
        match=match,
        light=outcome.light,
    )
    assert outcome.facts is not None and outcome.rules is not None, "a challenge outcome carries its facts"
    return _judged(engine, SessionMode.LIVE, outcome.facts, outcome.rules, measures)


def recording_result(
    engine: LivenessEngine,
    inputs: ResultInputs,
    verdict: Verdict,
    probes: int,
    rules: Rules,
    session: Sequence[str] = (),
) -> SessionResult:
    """The first `probes` action results are the movements that must not have happened before the first prompt
    (the caller names them in `session`, with the fallback's other checks); the prompted actions are the rest.
    `rules`: scoring.decision's Rules.recording."""
    actions = verdict.actions[probes:]
    assert verdict.facts is not None, "an analyzed clip carries its facts"
    facts = replace(
        verdict.facts,
        actions_asked=len(actions),
        actions_passed=sum(1 for a in actions if a.passed),
        session=tuple(session),
    )
    match = None
    best = None
    if verdict.best_face is not None:
        best = verdict.best_face.to_dict()
        if inputs.audit_images:
            best["image_jpeg_b64"] = _b64_jpeg(verdict.best_face.face_rgb, 90)
        match = _match(engine, inputs, verdict.best_face.face_rgb)
    confidence = min([verdict.average_liveness] + [a.confidence for a in actions]) if verdict.liveness_frames else 0.0
    images = (
        (_b64_jpeg(verdict.best_face.frame_rgb, 80),) if inputs.audit_images and verdict.best_face is not None else ()
    )
    measures = Measures(
        confidence=confidence,
        average_liveness=verdict.average_liveness,
        liveness_frames=verdict.liveness_frames,
        actions=tuple(a.to_dict() for a in actions),
        best_face=best,
        audit_images=images,
        identity_min_cosine=verdict.identity_min_cosine,
        frames_analyzed=verdict.frames_analyzed,
        duration_s=verdict.duration_s,
        evidence=verdict.evidence,
        match=match,
    )
    return _judged(engine, SessionMode.RECORDING, facts, rules, measures)
