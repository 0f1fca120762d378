"""The evaluation's figures, as a Markdown report and a PNG (score histograms per attack type and a DET curve)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from types import ModuleType
from typing import Any

from evaluation.metrics import LIVE, DetPoint, Rates, Scored, attack_types, det_curve, rates, threshold_for_bpcer
from evaluation.runner import ItemResult

BPCER_TARGETS = (0.01, 0.05)
DET_CLIP = 0.005  # rates of 0 and 1 have no normal deviate; drawn at 0.5 % and 99.5 %
NO_MATPLOTLIB = "the evaluation report's figure needs matplotlib: pip install 'livecheck[eval]'"


class ReportError(RuntimeError):
    """The report cannot be drawn (matplotlib, an optional dependency, is missing)."""


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the file-only Agg backend. matplotlib is the `eval` extra: only the report needs it, so
    it is imported here, not with the package; `livecheck eval` calls this before it runs anything."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib
    except ImportError:
        raise ReportError(NO_MATPLOTLIB) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class Evaluation:
    results: tuple[ItemResult, ...]
    threshold: float  # the engine's liveness threshold during the run
    at_threshold: Rates
    at_target: tuple[tuple[float, float | None, Rates | None], ...]  # (BPCER target, threshold, rates there)

    @property
    def scored(self) -> list[Scored]:
        return [r.scored() for r in self.results]

    @property
    def errors(self) -> list[ItemResult]:
        return [r for r in self.results if r.error is not None]

    @property
    def misclassified(self) -> list[ItemResult]:
        return [r for r in self.results if r.misclassified]


def evaluate(results: Sequence[ItemResult], threshold: float) -> Evaluation:
    scored = [r.scored() for r in results]
    targets = []
    for target in BPCER_TARGETS:
        t = threshold_for_bpcer(scored, target)
        targets.append((target, t, rates(scored, t) if t is not None else None))
    return Evaluation(tuple(results), threshold, rates(scored, threshold), tuple(targets))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _thr(value: float | None) -> str:
    return "unreachable" if value is None else (f"{value:.4f}" if value <= 1 else "> 1 (accept nothing)")


def _why(r: ItemResult) -> str:
    if r.error:
        return f"error: {r.error}"
    return ", ".join(r.reasons) or "accepted"


def markdown(ev: Evaluation, title: str = "Liveness evaluation") -> str:
    lines = [*_summary_lines(ev, title), *_target_lines(ev), *_misclassified_lines(ev), *_item_lines(ev)]
    return "\n".join(lines) + "\n"


def _summary_lines(ev: Evaluation, title: str) -> list[str]:
    """The title, what was measured and how, and the rates at the configured threshold per attack type."""
    at = ev.at_threshold
    lines = [
        f"# {title}",
        "",
        f"{len(ev.results)} presentations: {at.bona_fide} bona fide, {sum(at.attacks.values())} attacks of "
        f"{len(at.attacks)} types. Decision = `Verdict.alive` (liveness threshold {ev.threshold:g} plus the engine's "
        "other checks); score = the decision's score on the threshold's scale (a clip's calibrated score, a still's anti-spoof P(real)). ISO/IEC 30107-3: APCER per attack type = share of its attacks "
        "accepted; BPCER = share of bona fide rejected; ACER = (max APCER + BPCER) / 2.",
        "",
        f"## At the configured threshold {ev.threshold:g}",
        "",
        "| attack type | attacks | accepted | APCER | ACER (this type) |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in sorted(at.apcer):
        accepted = round(at.apcer[t] * at.attacks[t])
        lines.append(f"| {t} | {at.attacks[t]} | {accepted} | {_pct(at.apcer[t])} | {_pct(at.acer_of(t))} |")
    rejected = round((at.bpcer or 0) * at.bona_fide)
    lines += [
        "",
        f"- BPCER: {_pct(at.bpcer)} ({rejected} of {at.bona_fide} bona fide rejected)",
        f"- max APCER: {_pct(at.max_apcer)}; ACER: {_pct(at.acer)}",
        f"- items that failed to run: {len(ev.errors)}",
    ]
    return lines


def _target_lines(ev: Evaluation) -> list[str]:
    """The threshold that meets each target BPCER and the rates there: what to configure for a given false
    rejection budget."""
    at = ev.at_threshold
    lines = [
        "",
        "## Thresholds for a target BPCER",
        "",
        f"The highest liveness threshold that keeps BPCER at or below the target (with {at.bona_fide} bona fide items "
        f"a step of BPCER is {_pct(1 / at.bona_fide) if at.bona_fide else '-'}).",
        "",
        "| target BPCER | threshold | BPCER | " + " | ".join(f"APCER {t}" for t in sorted(at.apcer)) + " | ACER |",
        "|---|---:|---:|" + "---:|" * len(at.apcer) + "---:|",
    ]
    for target, threshold, r in ev.at_target:
        if r is None:
            lines.append(f"| {_pct(target)} | {_thr(threshold)} | - |" + " - |" * len(at.apcer) + " - |")
        else:
            lines.append(
                f"| {_pct(target)} | {_thr(threshold)} | {_pct(r.bpcer)} | "
                + " | ".join(_pct(r.apcer[k]) for k in sorted(r.apcer))
                + f" | {_pct(r.acer)} |"
            )
    return lines


def _misclassified_lines(ev: Evaluation) -> list[str]:
    """The items the decision got wrong, with why: the ones to look at first."""
    lines = ["", "## Misclassified items", ""]
    if ev.misclassified:
        lines += ["| item | label | score | why |", "|---|---|---:|---|"]
        lines += [
            f"| {r.item.name} | {r.item.attack_type or LIVE} | {r.score:.4f} | {_why(r)} |" for r in ev.misclassified
        ]
    else:
        lines.append("None.")
    return lines


def _item_lines(ev: Evaluation) -> list[str]:
    """Every item's outcome, score and time."""
    lines = [
        "",
        "## All items",
        "",
        "| item | label | accepted | score | reasons | seconds |",
        "|---|---|---|---:|---|---:|",
    ]
    lines += [
        f"| {r.item.name} | {r.item.attack_type or LIVE} | {'yes' if r.accepted else 'no'} | {r.score:.4f} | {_why(r)} | {r.seconds:.1f} |"
        for r in ev.results
    ]
    return lines


def _deviate(rate: float) -> float:
    return NormalDist().inv_cdf(min(max(rate, DET_CLIP), 1 - DET_CLIP))


def plot(ev: Evaluation, path: Path) -> None:
    plt = pyplot()
    scored = ev.scored
    types = attack_types(scored)
    panels = len(types) + 1
    cols = min(3, panels)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax, attack_type in zip(flat, types):
        _histogram(ax, ev, scored, attack_type)
    _det(flat[len(types)], ev, scored, types)
    for ax in flat[panels:]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _histogram(ax: Any, ev: Evaluation, scored: list[Scored], attack_type: str) -> None:
    """One attack type's scores over the bona fide ones, its attacks split by what rejected them: those the score
    decides are the ones the threshold moves."""
    bins = [i / 20 for i in range(21)]
    live = [s.score for s in scored if s.label == LIVE]
    by_score = [s.score for s in scored if s.attack_type == attack_type and s.label != LIVE and s.gate]
    by_check = [s.score for s in scored if s.attack_type == attack_type and s.label != LIVE and not s.gate]
    ax.hist(live, bins=bins, color="tab:green", alpha=0.6, label=f"bona fide ({len(live)})")
    ax.hist(
        [by_score, by_check],
        bins=bins,
        color=["tab:red", "tab:gray"],
        alpha=0.7,
        stacked=True,
        label=[
            f"{attack_type}: score decides ({len(by_score)})",
            f"{attack_type}: other checks reject ({len(by_check)})",
        ],
    )
    ax.axvline(ev.threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {ev.threshold:g}")
    ax.set_title(f"{attack_type}: APCER {_pct(ev.at_threshold.apcer[attack_type])}")
    ax.set_xlabel("average liveness score")
    ax.set_ylabel("items")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7, loc="upper center")


def _det(det_ax: Any, ev: Evaluation, scored: list[Scored], types: list[str]) -> None:
    """The DET curve of every attack type and of all attacks pooled, on normal-deviate axes, with the configured
    threshold's operating point."""
    curves: list[str | None] = [*types, None]
    for curve in curves:
        points: list[DetPoint] = det_curve(scored, curve)
        if not points:
            continue
        style = (
            {"color": "black", "linewidth": 2.2} if curve is None else {"linewidth": 1.2, "marker": ".", "alpha": 0.8}
        )
        det_ax.step(
            [_deviate(p.apcer) for p in points],
            [_deviate(p.bpcer) for p in points],
            where="post",
            label=curve or "all attacks",
            **style,
        )
    op = ev.at_threshold
    if op.bpcer is not None and op.max_apcer is not None:
        pooled = [s for s in scored if s.label != LIVE]
        pooled_apcer = sum(1 for s in pooled if s.accepted(ev.threshold)) / max(1, len(pooled))
        det_ax.plot([_deviate(pooled_apcer)], [_deviate(op.bpcer)], "ko", label=f"threshold {ev.threshold:g}")
    _det_axes(det_ax)


def _det_axes(det_ax: Any) -> None:
    """Percent ticks at fixed rates and limits clipped at DET_CLIP: 0 and 1 have no normal deviate."""
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 0.99]
    det_ax.set_xticks([_deviate(t) for t in ticks], [f"{100 * t:g}" for t in ticks])
    det_ax.set_yticks([_deviate(t) for t in ticks], [f"{100 * t:g}" for t in ticks])
    det_ax.set_xlim(_deviate(DET_CLIP) - 0.1, _deviate(1 - DET_CLIP) + 0.1)
    det_ax.set_ylim(_deviate(DET_CLIP) - 0.1, _deviate(1 - DET_CLIP) + 0.1)
    det_ax.set_xlabel("APCER (%)  [0 and 100 drawn at 0.5 / 99.5]")
    det_ax.set_ylabel("BPCER (%)")
    det_ax.set_title("DET curve")
    det_ax.grid(True, alpha=0.3)
    det_ax.legend(fontsize=7, loc="upper right")


def write_report(ev: Evaluation, out_dir: Path) -> tuple[Path, Path]:
    """`report.md` and `report.png` in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, png = out_dir / "report.md", out_dir / "report.png"
    md.write_text(markdown(ev) + f"\n![score histograms and DET curve]({png.name})\n", encoding="utf-8")
    plot(ev, png)
    return md, png
