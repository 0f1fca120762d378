"""The verdict on a clip or a still. The cross-frame checks behind some of its reasons live in scoring.evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scoring.actions import ActionResult
from scoring.decision import Facts
from scoring.evidence import EvidenceReport
from scoring.match import MatchResult
from scoring.observation import BBox, Quality
from scoring.score import ScoreResult, logit_of, on_scale


@dataclass(frozen=True)
class BestFace:
    frame_no: int
    timestamp_s: float
    bbox: BBox  # in the original media's pixels
    quality: Quality
    liveness: float
    frame_rgb: np.ndarray = field(
        repr=False
    )  # the whole frame, upright; recorded video: at source resolution, bbox in its pixels
    face_rgb: np.ndarray = field(repr=False)  # 112x112 aligned face

    def to_dict(self) -> dict[str, object]:
        return {
            "frame_no": self.frame_no,
            "timestamp_s": round(self.timestamp_s, 3),
            "bbox": self.bbox.to_dict(),
            "quality": self.quality.to_dict(),
            "liveness": round(self.liveness, 4),
        }


@dataclass
class Verdict:
    kind: str  # video | image
    alive: bool
    average_liveness: float
    reasons: list[str]
    best_face: BestFace | None
    actions: list[ActionResult]
    match: MatchResult | None
    frames_decoded: int
    frames_analyzed: int
    frames_with_face: int
    liveness_frames: int
    duration_s: float
    identity_min_cosine: float | None
    timings_ms: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    evidence: EvidenceReport | None = None  # cross-frame measures of a video (None for stills)
    facts: Facts | None = field(default=None, repr=False)  # what was decided on (a session decides again with more)
    score: ScoreResult | None = None  # the calibrated score (scoring.score) of a clip with evidence

    def score_on(self, accept_at: float, stills_threshold: float) -> float:
        """The decision as one number whose acceptance line is `accept_at` (scoring.score.on_scale): the
        calibrated score of a clip, else the anti-spoof mean against the stills' threshold. >= accept_at exactly
        when alive, so a client applying its product's threshold to it gets this verdict."""
        if self.score is not None:
            logit = self.score.logit
        else:
            logit = logit_of(self.average_liveness) - logit_of(stills_threshold)
        return on_scale(logit, self.alive, accept_at)

    @property
    def actions_passed(self) -> bool:
        return all(a.passed for a in self.actions)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "alive": self.alive,
            "average_liveness": round(self.average_liveness, 4),
            "reasons": [str(r) for r in self.reasons],
            "best_face": self.best_face.to_dict() if self.best_face else None,
            "actions": [a.to_dict() for a in self.actions],
            "match": self.match.to_dict() if self.match else None,
            "frames": {
                "decoded": self.frames_decoded,
                "analyzed": self.frames_analyzed,
                "with_face": self.frames_with_face,
                "liveness": self.liveness_frames,
            },
            "duration_s": round(self.duration_s, 3),
            "identity_min_cosine": None if self.identity_min_cosine is None else round(self.identity_min_cosine, 4),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "warnings": list(self.warnings),
            "evidence": self.evidence.to_dict() if self.evidence else None,
            "score": self.score.to_dict() if self.score else None,
        }
