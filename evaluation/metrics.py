"""Presentation-attack-detection error rates (ISO/IEC 30107-3) from scored, labelled presentations.

Definitions used here:
- APCER of an attack type (PAI species) = attack presentations of that type accepted as live / all of that type.
- BPCER = bona fide presentations rejected / all bona fide presentations.
- ACER = (max APCER over the attack types + BPCER) / 2. ISO/IEC 30107-3:2017 itself reports APCER and BPCER only;
  this ACER is the one of its drafts and of the OULU-NPU protocol, i.e. it charges the *worst* attack type.
  Per-type ACER = (APCER of that type + BPCER) / 2 is reported too.

A decision at a threshold `t` is "accepted as live" when the item passed every non-score check of the engine
(face found, not static, same person throughout, actions done...) and its liveness score is >= t. At the engine's own
threshold this is exactly `Verdict.alive`; sweeping `t` gives the thresholds for a target BPCER and the DET curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

LIVE = "live"
ATTACK = "attack"


@dataclass(frozen=True)
class Scored:
    """One presentation as the metrics see it."""

    label: str  # live | attack
    attack_type: str  # "" for bona fide
    score: float  # average liveness, 0..1
    gate: bool  # passed every check other than the liveness threshold

    def accepted(self, threshold: float) -> bool:
        return self.gate and self.score >= threshold


@dataclass(frozen=True)
class Rates:
    """Error rates at one threshold."""

    threshold: float
    bpcer: float | None  # None when there is no bona fide item
    apcer: dict[str, float]  # per attack type
    bona_fide: int
    attacks: dict[str, int]  # count per attack type

    @property
    def max_apcer(self) -> float | None:
        return max(self.apcer.values()) if self.apcer else None

    @property
    def acer(self) -> float | None:
        if self.bpcer is None or self.max_apcer is None:
            return None
        return (self.max_apcer + self.bpcer) / 2

    def acer_of(self, attack_type: str) -> float | None:
        return None if self.bpcer is None else (self.apcer[attack_type] + self.bpcer) / 2


def attack_types(items: Sequence[Scored]) -> list[str]:
    return sorted({i.attack_type for i in items if i.label == ATTACK})


def bpcer(items: Sequence[Scored], threshold: float) -> float | None:
    live = [i for i in items if i.label == LIVE]
    if not live:
        return None
    return sum(1 for i in live if not i.accepted(threshold)) / len(live)


def apcer(items: Sequence[Scored], attack_type: str, threshold: float) -> float | None:
    of_type = [i for i in items if i.label == ATTACK and i.attack_type == attack_type]
    if not of_type:
        return None
    return sum(1 for i in of_type if i.accepted(threshold)) / len(of_type)


def rates(items: Sequence[Scored], threshold: float) -> Rates:
    types = attack_types(items)
    return Rates(
        threshold=threshold,
        bpcer=bpcer(items, threshold),
        apcer={t: apcer(items, t, threshold) or 0.0 for t in types},
        bona_fide=sum(1 for i in items if i.label == LIVE),
        attacks={t: sum(1 for i in items if i.attack_type == t and i.label == ATTACK) for t in types},
    )


def threshold_for_bpcer(items: Sequence[Scored], target: float) -> float | None:
    """The highest threshold whose BPCER is <= target (the strictest setting that keeps bona fide errors at the
    target), or None when the non-score checks alone already reject more bona fide items than the target allows."""
    live = [i for i in items if i.label == LIVE]
    if not live:
        return None
    allowed = math.floor(target * len(live) + 1e-9)
    gated_out = sum(1 for i in live if not i.gate)
    if gated_out > allowed:
        return None
    scores = sorted(i.score for i in live if i.gate)
    if allowed - gated_out >= len(scores):
        return math.nextafter(1.0, 2.0)  # every bona fide item may be rejected: accept nothing
    # Rejecting the (allowed - gated_out) lowest scores; ties at the cut are all accepted (score >= t).
    return scores[allowed - gated_out]


@dataclass(frozen=True)
class DetPoint:
    threshold: float
    apcer: float
    bpcer: float


def det_curve(items: Sequence[Scored], attack_type: str | None = None) -> list[DetPoint]:
    """(APCER, BPCER) at every distinct score, from the laxest threshold to the strictest. `attack_type=None`
    pools all attacks."""
    attacks = [i for i in items if i.label == ATTACK and (attack_type is None or i.attack_type == attack_type)]
    live = [i for i in items if i.label == LIVE]
    if not attacks or not live:
        return []
    thresholds = sorted({0.0, *(i.score for i in items), math.nextafter(1.0, 2.0)})
    return [
        DetPoint(
            t,
            sum(1 for i in attacks if i.accepted(t)) / len(attacks),
            sum(1 for i in live if not i.accepted(t)) / len(live),
        )
        for t in thresholds
    ]
