"""One calibrated liveness score per clip or live check: the anti-spoof mean, the expression and the parallax
weighed together by a logistic model (issue 18: no single measure just under a line vetoes the others).

    logit = bias + w_antispoof * clip(logit(antispoof mean), antispoof_min, antispoof_max)
                 + w_expression * log(clip(expression, expression_floor, expression_cap))
                 + w_parallax * clip(log(parallax / parallax_ref), -parallax_clip, +parallax_clip)   (0 unmeasured)
    score = sigmoid(logit); alive needs score >= threshold.

Why these shapes: the anti-spoof logit is clipped unevenly because a very confident "real" on one clip must not buy
a picture's way past missing motion (the upper clip), while a confident "spoof" still counts heavily; expression
and parallax count in logs because they span decades between a still and a talking head. An unmeasured parallax
(no turn, a face too small) adds nothing either way. The coefficients are fitted leave-one-source-out by
`python -m evaluation.calibrate` and written here; tests/evaluation/test_calibration.py checks they are what the fit gives.

What fails is named by the weakest part: the anti-spoof term (`low_liveness`), else missing motion evidence
(`flat_face` when the face travelled across the image, a picture in a hand; `static_video` when it did not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scoring.evidence import EvidenceLimits
from scoring.reasons import Reason


@dataclass(frozen=True)
class ScoreInputs:
    """What the score weighs, in the units the evidence reports them."""

    antispoof: float  # mean anti-spoof P(real) over the scored frames
    expression: float  # EvidenceReport.expression (1.0: as far as the worst picture moved a channel)
    parallax: float | None  # EvidenceReport.parallax (None: no turn measured)
    moved: bool  # EvidenceReport.moved


@dataclass(frozen=True)
class ScoreResult:
    score: float  # 0..1
    logit: float
    parts: dict[str, float]  # each input's contribution to the logit (bias aside)
    reason: Reason | None  # None when the score accepts; else what its weakest part says
    also: tuple[Reason, ...] = ()  # a refusal's other weak part: low_liveness when the anti-spoof said "spoof"

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return () if self.reason is None else (self.reason, *self.also)

    def to_dict(self) -> dict[str, object]:
        return {
            "score": round(self.score, 4),
            "logit": round(self.logit, 3),
            "parts": {k: round(v, 3) for k, v in self.parts.items()},
        }


def logit_of(p: float) -> float:
    """log(p / (1 - p)), p kept inside (1e-6, 1 - 1e-6)."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class ScoreModel:
    """The fitted coefficients (evaluation.calibrate prints them) and the fixed shapes of the features."""

    bias: float = -1.21
    w_antispoof: float = 1.448
    w_expression: float = 1.842
    w_parallax: float = 0.363
    threshold: float = 0.5
    antispoof_min: float = -5.0
    antispoof_max: float = 1.0
    expression_floor: float = 0.05
    expression_cap: float = 4.0
    parallax_ref: float = EvidenceLimits().flat_max  # the parallax term's zero: the fit puts it at flat_max
    parallax_clip: float = 2.0

    def features(self, x: ScoreInputs) -> tuple[float, float, float]:
        a = min(max(logit_of(x.antispoof), self.antispoof_min), self.antispoof_max)
        e = math.log(min(max(x.expression, self.expression_floor), self.expression_cap))
        p = 0.0
        if x.parallax is not None:
            p = min(max(math.log(max(x.parallax, 1e-9) / self.parallax_ref), -self.parallax_clip), self.parallax_clip)
        return a, e, p

    def weights(self) -> tuple[float, float, float]:
        return self.w_antispoof, self.w_expression, self.w_parallax

    def judge(self, x: ScoreInputs) -> ScoreResult:
        features = self.features(x)
        contributions = [w * f for w, f in zip(self.weights(), features, strict=True)]
        logit = self.bias + sum(contributions)
        score = 1 / (1 + math.exp(-logit))
        parts = dict(zip(("antispoof", "expression", "parallax"), contributions, strict=True))
        reason = None
        also: tuple[Reason, ...] = ()
        if score < self.threshold:
            # The weaker part names the failure; an anti-spoof "spoof" (P(real) < 0.5) is named too.
            motion = contributions[1] + contributions[2]
            if contributions[0] < motion:
                reason = Reason.LOW_LIVENESS
            else:
                reason = Reason.FLAT_FACE if x.moved else Reason.STATIC_VIDEO
                also = (Reason.LOW_LIVENESS,) if x.antispoof < 0.5 else ()
        return ScoreResult(score, logit, parts, reason, also)


SCORE_MODEL = ScoreModel()


def on_scale(logit: float, alive: bool, accept_at: float) -> float:
    """The decision as one number on a client's own scale, whose acceptance line is `accept_at`: a FindFace client
    keeps its `liveness-threshold: 0.95` and gets 0.95 exactly where livecheck accepts (issue 21). `logit` is
    the score's (0 at the line); a check refused by anything (a finding, another rule) stays just under the line
    whatever its logit, so that no client threshold at `accept_at` accepts what livecheck refused."""
    if not alive:
        logit = min(logit, -0.01)
    return 1 / (1 + math.exp(-(logit + logit_of(accept_at))))
