"""Face match: SFace cosine mapped onto a 0..1 verification score.

Mapping (piecewise linear, monotonic): cosine <= 0 -> 0; 0..threshold -> 0..0.7; threshold..0.8 -> 0.7..1.0;
>= 0.8 -> 1.0. With OpenCV's documented threshold (0.363) at 0.7, a client that follows the silent-verification
document's "> 0.7" rule gets the same decision as `same_person`.
"""

from __future__ import annotations

from dataclasses import dataclass

SCORE_AT_THRESHOLD = 0.7
COSINE_FOR_FULL_SCORE = 0.8


def verification_score(cosine: float, threshold: float) -> float:
    if cosine <= 0:
        return 0.0
    if cosine < threshold:
        return SCORE_AT_THRESHOLD * cosine / threshold
    upper = max(COSINE_FOR_FULL_SCORE, threshold + 1e-6)
    return min(1.0, SCORE_AT_THRESHOLD + (1 - SCORE_AT_THRESHOLD) * (cosine - threshold) / (upper - threshold))


@dataclass(frozen=True)
class MatchResult:
    cosine: float
    score: float
    same_person: bool
    threshold: float

    @classmethod
    def from_cosine(cls, cosine: float, threshold: float) -> MatchResult:
        return cls(cosine, verification_score(cosine, threshold), cosine >= threshold, threshold)

    def to_dict(self) -> dict[str, object]:
        return {
            "score": round(self.score, 4),
            "cosine": round(self.cosine, 4),
            "same_person": self.same_person,
            "threshold": self.threshold,
        }
