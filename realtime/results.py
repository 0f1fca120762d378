"""The integrator's result of a session, built the same way for a live check and a recording: what was decided,
why, the best face (and the audit images only when asked for), the match with the reference photo, the models.

Blocking (embedding, JPEG encoding): run these on a worker thread."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime.challenge import ChallengeOutcome
from realtime.fallback import FallbackCode
from realtime.modes import ASSURANCE, Assurance, SessionMode
from scoring.embedding import align_face, cosine
from scoring.engine import LivenessEngine
from scoring.evidence import EvidenceReport
from scoring.imaging import encode_jpeg
from scoring.light import LightOutcome, LightReport
from scoring.match import MatchResult
from scoring.reasons import Reason
from scoring.verdict import Verdict


@dataclass(frozen=True)
class ResultInputs:
    """What a session asked for that shapes its result."""

    audit_images: bool
    reference: np.ndarray | None  # embedding of the reference photo


def failed_result(engine: LivenessEngine, mode: SessionMode, reasons: list[str]) -> dict[str, Any]:
    """A session that ended without a judgement (a refused upload, a lost node, a timeout)."""
    return {
        "alive": False,
        "reasons": reasons,
        "mode": mode.value,
        "assurance": ASSURANCE[mode].value,
        "model_versions": engine.models.store.versions(),
    }


def _b64_jpeg(rgb: np.ndarray, quality: int) -> str:
    return base64.b64encode(encode_jpeg(rgb, quality)).decode()


def _match(engine: LivenessEngine, inputs: ResultInputs, aligned: np.ndarray) -> MatchResult | None:
    if inputs.reference is None:
        return None
    similarity = cosine(inputs.reference, engine.models.embedder.embed_aligned(aligned))
    return MatchResult.from_cosine(similarity, engine.settings.match_threshold)


def _result(
    engine: LivenessEngine,
    mode: SessionMode,
    *,
    alive: bool,
    reasons: list[str],
    confidence: float,
    average_liveness: float,
    liveness_frames: int,
    actions: list[dict[str, object]],
    best_face: dict[str, Any] | None,
    audit_images: list[str],
    identity_min_cosine: float | None,
    frames_analyzed: int,
    duration_s: float,
    evidence: EvidenceReport | None,
    match: MatchResult | None,
    light: LightReport | None = None,
) -> dict[str, Any]:
    """The one shape of a decided session's result (docs/protocol.md "Result"), live or recorded. A live check
    whose user declined the light challenge it asked for is worth less: assurance low."""
    assurance = ASSURANCE[mode]
    if light is not None and light.outcome is LightOutcome.DECLINED:
        assurance = Assurance.LOW
    return {
        "alive": alive,
        "confidence": round(confidence, 4),
        "average_liveness": round(average_liveness, 4),
        "liveness_frames": liveness_frames,
        "actions": actions,
        "best_face": best_face,
        "audit_images": audit_images,
        "identity_min_cosine": None if identity_min_cosine is None else round(identity_min_cosine, 4),
        "frames_analyzed": frames_analyzed,
        "duration_s": round(duration_s, 3),
        "evidence": evidence.to_dict() if evidence else None,  # cross-frame measures (docs/verdict.md)
        "match": match.to_dict() if match else None,
        "light": light.to_dict() if light else None,  # the light challenge (docs/protocol.md)
        "reasons": reasons,
        "mode": mode.value,
        "assurance": assurance.value,
        "model_versions": engine.models.store.versions(),
    }


def live_result(engine: LivenessEngine, inputs: ResultInputs, outcome: ChallengeOutcome) -> dict[str, Any]:
    reasons = list(outcome.reasons)
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
    images = [_b64_jpeg(f, 80) for f in outcome.audit_frames[:4]] if inputs.audit_images else []
    if match is not None and not match.same_person:
        reasons.append(Reason.FACE_MISMATCH)
    return _result(
        engine,
        SessionMode.LIVE,
        alive=outcome.alive and not reasons,
        reasons=reasons,
        confidence=outcome.confidence,
        average_liveness=outcome.average_liveness,
        liveness_frames=outcome.liveness_frames,
        actions=[a.to_dict() for a in outcome.actions],
        best_face=best,
        audit_images=images,
        identity_min_cosine=outcome.identity_min_cosine,
        frames_analyzed=outcome.frames_analyzed,
        duration_s=outcome.duration_ms / 1000,
        evidence=outcome.evidence,
        match=match,
        light=outcome.light,
    )


def recording_result(
    engine: LivenessEngine, inputs: ResultInputs, verdict: Verdict, probes: int, extra: list[str]
) -> dict[str, Any]:
    """The first `probes` action results are the movements that must not have happened before the first prompt
    (any found -> moved_before_prompt); `extra`: reasons the fallback's own checks added (the clip's timeline)."""
    actions = verdict.actions[probes:]
    reasons = [r for r in verdict.reasons if r != Reason.ACTIONS_FAILED]
    if not all(a.passed for a in actions):
        reasons.append(Reason.ACTIONS_FAILED)
    if any(a.passed for a in verdict.actions[:probes]):
        reasons.append(FallbackCode.MOVED_BEFORE_PROMPT.value)
    reasons += extra
    match = None
    best = None
    if verdict.best_face is not None:
        best = verdict.best_face.to_dict()
        if inputs.audit_images:
            best["image_jpeg_b64"] = _b64_jpeg(verdict.best_face.face_rgb, 90)
        match = _match(engine, inputs, verdict.best_face.face_rgb)
        if match is not None and not match.same_person:
            reasons.append(Reason.FACE_MISMATCH)
    confidence = min([verdict.average_liveness] + [a.confidence for a in actions]) if verdict.liveness_frames else 0.0
    images = (
        [_b64_jpeg(verdict.best_face.frame_rgb, 80)] if inputs.audit_images and verdict.best_face is not None else []
    )
    return _result(
        engine,
        SessionMode.RECORDING,
        alive=not reasons,
        reasons=reasons,
        confidence=confidence,
        average_liveness=verdict.average_liveness,
        liveness_frames=verdict.liveness_frames,
        actions=[a.to_dict() for a in actions],
        best_face=best,
        audit_images=images,
        identity_min_cosine=verdict.identity_min_cosine,
        frames_analyzed=verdict.frames_analyzed,
        duration_s=verdict.duration_s,
        evidence=verdict.evidence,
        match=match,
    )
