"""Runs the engine over a labelled dataset, in parallel threads (the engine is thread-safe), with a progress bar."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO

from evaluation.dataset import LabeledItem
from evaluation.metrics import LIVE, Scored
from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.errors import InputError
from scoring.reasons import Reason
from scoring.score import on_scale

# Reasons that do not decide liveness by themselves: the score threshold, and a bad reference photo.
SCORE_REASONS = frozenset({Reason.LOW_LIVENESS, Reason.REFERENCE_NO_FACE})


@dataclass(frozen=True)
class ItemResult:
    item: LabeledItem
    accepted: bool  # Verdict.alive
    score: float  # the decision's score on the stills' threshold scale (a still: its anti-spoof P(real))
    reasons: tuple[str, ...]
    error: str | None  # an input error code, or the exception when the engine failed on the item
    seconds: float
    score_reason: str | None = None  # the reason the calibrated score gave (a clip it refused)

    @property
    def gate(self) -> bool:
        """Passed every check other than the score's."""
        score_reasons = SCORE_REASONS | ({self.score_reason} if self.score_reason else set())
        return self.error is None and not [r for r in self.reasons if r not in score_reasons]

    @property
    def misclassified(self) -> bool:
        return self.accepted != (self.item.label == LIVE)

    def scored(self) -> Scored:
        return Scored(self.item.label, self.item.attack_type, self.score, self.gate)


class ProgressBar:
    """`[#####.....] 5/10 item` on one line of stderr."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()

    def step(self, label: str) -> None:
        with self._lock:
            self.done += 1
            filled = self.width * self.done // max(1, self.total)
            self.stream.write(
                f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label[:40]:40s}"
            )
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def analyze_item(engine: LivenessEngine, item: LabeledItem) -> ItemResult:
    """Never raises: a bad item is a rejected item with its error, so one file cannot stop a run."""
    started = time.perf_counter()
    try:
        options = AnalysisOptions(
            actions=item.actions, reference=item.reference.read_bytes() if item.reference else None
        )
        verdict = engine.analyze(item.path.read_bytes(), options)
    except InputError as exc:
        return ItemResult(item, False, 0.0, (), exc.code, time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - reported per item; the run goes on
        return ItemResult(item, False, 0.0, (), f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
    threshold = engine.settings.liveness_threshold
    score, score_reason = float(verdict.average_liveness), None
    if verdict.score is not None:
        # A clip's calibrated score, put on the stills' scale: >= the threshold exactly where the score accepts.
        score = on_scale(verdict.score.logit, True, threshold)
        score_reason = str(verdict.score.reason) if verdict.score.reason is not None else None
    return ItemResult(
        item,
        verdict.alive,
        score,
        tuple(verdict.reasons),
        None,
        time.perf_counter() - started,
        score_reason,
    )


def run(
    engine: LivenessEngine, items: Sequence[LabeledItem], workers: int = 2, progress: ProgressBar | None = None
) -> list[ItemResult]:
    """Results in the order of `items`."""

    def one(item: LabeledItem) -> ItemResult:
        result = analyze_item(engine, item)
        if progress:
            progress.step(item.name)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="eval") as pool:
        return list(pool.map(one, items))
