"""Leave-one-source-out calibration of the evidence limits and the score (issue 18), printed.

    python -m evaluation.calibrate ../shared/media --keep /tmp/calib     # measure every item (~30-60 min), fit
    python -m evaluation.calibrate --table /tmp/calib/measures.csv       # fit and print again from the table

Items: every live clip of SOURCES.tsv (its `source` is its group), the bona fide stills (group `stills`), every
attack generated from each of them (the picture, screen and animation kinds below: an attack belongs to the group
of the media it was made from), and the generated talking heads of `deepfakes/` (grouped by generator). Each item
is analyzed by the engine as an upload; its measures (anti-spoof mean, evidence measures, findings) go into one
row of `measures.csv`.

The fit, given rows: (1) `flat_max`, the geometric mean of the largest plane parallax (planar kinds with a measured
parallax) and the smallest live one; (2) each expression channel's ceiling, the largest range any picture moved it
(pictures the findings already refuse aside); (3) `repeat_share`, halfway between the calmest live clip's share
of repeating frame pairs and an exact repeat; (4) the logistic score over live clips against pictures and screens.
Leave-one-source-out: for each group, the fit on every other group is applied to the held-out one; the printout
gives, per held-out group, the live clips refused and, per attack kind, the attacks accepted, with the logits'
margins. The worst held-out figures are what docs/verdict.md quotes. Animations (talking_photo, deepfakes) are not
fitted: passive evidence cannot refuse what moves like a face; their rate is printed (challenges stop them).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from scoring.evidence import EXPRESSION_CHANNELS, EvidenceLimits, ExpressionCeilings, findings
from scoring.score import ScoreInputs, ScoreModel

LIVE = "live"
DEEPFAKE = "deepfake"
STILLS_GROUP = "stills"
STILLS = (
    "images/image_T1.jpg",
    "identity/obama.jpg",
    "identity/obama2.jpg",
    "identity/biden.jpg",
    "identity/biden2.jpg",
)
FRAME_KINDS = (
    "print_photo",
    "held_photo",
    "tilted_photo",
    "bent_photo",
    "zoom_photo",
    "still_noise",
    "still_injection",
    "talking_photo",
)
REPEATED_KINDS = ("still_injection", "live_background")  # a picture streamed unchanged (in a window of a live clip)
CLIP_KINDS = ("screen_replay", "replay_tilted", "live_background")
ANIMATION_KINDS = ("talking_photo", DEEPFAKE)
PLANAR_KINDS = ("print_photo", "held_photo", "tilted_photo", "zoom_photo", "still_noise")  # a bent sheet is not
FIELDS = (
    "name",
    "kind",
    "group",
    "label",
    "alive",
    "reasons",
    "antispoof",
    "liveness_frames",
    "frames",
    "parallax",
    "parallax_pairs",
    "unproven_turns",
    "travel",
    "repeated_share",
    "loop_lag_s",
    "frozen",
    *EXPRESSION_CHANNELS,
)


@dataclass(frozen=True)
class Item:
    name: str
    kind: str  # live | deepfake | an attack kind
    group: str  # the source group (SOURCES.tsv), "stills", or the deepfake's generator
    path: str  # relative to the media folder

    @property
    def label(self) -> str:
        return LIVE if self.kind == LIVE else "attack"


def plan(media: Path) -> list[Item]:
    """Every item, in a fixed order."""
    rows = list(csv.DictReader((media / "SOURCES.tsv").open(encoding="utf-8"), delimiter="\t"))
    live = [(r["path"], r["source"]) for r in rows if r["kind"] == LIVE]
    items = [Item(Path(p).stem, LIVE, g, p) for p, g in live]
    items += [Item(Path(r["path"]).stem, DEEPFAKE, r["source"], r["path"]) for r in rows if r["kind"] == DEEPFAKE]
    origins = [*live, *((s, STILLS_GROUP) for s in STILLS)]
    for path, group in origins:
        stem = Path(path).stem
        items += [Item(f"{kind}_{stem}", kind, group, path) for kind in FRAME_KINDS]
        if group != STILLS_GROUP:
            items += [Item(f"{kind}_{stem}", kind, group, path) for kind in CLIP_KINDS]
    return items


# -- measuring ---------------------------------------------------------------------------------------------------

_engine: Any = None


def _init_worker(models: str | None) -> None:
    global _engine
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from scoring.engine import LivenessEngine
    from scoring.settings import EngineSettings

    _engine = LivenessEngine.load(EngineSettings(), models, landmarkers=1, live_landmarkers=1)


def _seed(name: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big"))


def item_bytes(item: Item, media: Path, engine: Any, workdir: Path) -> bytes:
    """The item as an upload: the file itself, or the attack generated from it (H.264 MP4)."""
    from evaluation import attacks as a
    from evaluation import catalogue, clips
    from evaluation.locate import face_locator

    source = media / item.path
    if item.kind in (LIVE, DEEPFAKE):
        return source.read_bytes()
    rng = _seed(item.name)
    locate = face_locator(engine)
    if item.kind in FRAME_KINDS:
        frame = clips.read_frame(source, None)
        if item.kind == "still_injection":
            clip = a.still_injection(frame)
        elif item.kind == "zoom_photo":
            clip = a.zoom_photo(frame, rng)
        elif item.kind == "talking_photo":
            clip = a.talking_photo(frame, rng, spot=locate(frame))
        else:
            clip = catalogue.STILL_ATTACKS[item.kind](frame, rng)
    else:
        video = clips.read_video(source, 6.0)
        if item.kind == "screen_replay":
            clip = a.screen_replay(video, rng)
        elif item.kind == "replay_tilted":
            clip = a.replay_tilted(video, rng)
        else:
            clip = a.live_background(video, rng, spot=locate(video.frames[len(video.frames) // 2]))
    out = workdir / f"{item.name}.mp4"
    clips.write_video(out, clip)
    data = out.read_bytes()
    out.unlink()
    return data


def measure_item(item: Item, media: Path, workdir: Path) -> dict[str, Any]:
    """One row of measures (run in a worker process with its own engine)."""
    verdict = _engine.analyze_video(item_bytes(item, media, _engine, workdir))
    ev = verdict.evidence
    row: dict[str, Any] = {
        "name": item.name,
        "kind": item.kind,
        "group": item.group,
        "label": item.label,
        "alive": int(verdict.alive),
        "reasons": ";".join(verdict.reasons),
        "antispoof": round(verdict.average_liveness, 5),
        "liveness_frames": verdict.liveness_frames,
    }
    if ev is not None:
        row.update(
            frames=ev.frames,
            parallax="" if ev.parallax is None else round(ev.parallax, 6),
            parallax_pairs=ev.parallax_pairs,
            unproven_turns=ev.unproven_turns,
            travel=round(ev.travel, 5),
            repeated_share=round(ev.repeated_share, 4),
            loop_lag_s="" if ev.loop_lag_s is None else ev.loop_lag_s,
            frozen=int("static_video" in ev.reasons),
            **{c: round(ev.channels[c], 5) for c in ev.channels},
        )
    return row


def measure(media: Path, keep: Path, workers: int, models: str | None, only: str | None = None) -> Path:
    """Measures every planned item not yet in keep/measures.csv (a run that stopped resumes)."""
    keep.mkdir(parents=True, exist_ok=True)
    table = keep / "measures.csv"
    done = {r["name"] for r in read_table(table)} if table.exists() else set()
    todo = [i for i in plan(media) if i.name not in done and (only is None or only in i.name)]
    new = not table.exists()
    print(f"measuring {len(todo)} items ({len(done)} already in {table}) with {workers} workers", file=sys.stderr)
    with (
        table.open("a", newline="", encoding="utf-8") as fh,
        tempfile.TemporaryDirectory() as tmp,
        ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(models,)) as pool,
    ):
        writer = csv.DictWriter(fh, FIELDS)
        if new:
            writer.writeheader()
        futures = {pool.submit(measure_item, item, media, Path(tmp)): item for item in todo}
        for n, future in enumerate(as_completed(futures), 1):
            item = futures[future]
            try:
                row = future.result()
            except Exception as exc:  # noqa: BLE001 - one unreadable item is reported, the rest measured
                print(f"  {item.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            writer.writerow(row)
            fh.flush()
            print(f"  [{n}/{len(todo)}] {item.name}: alive={row['alive']} {row['reasons']}", file=sys.stderr)
    return table


def read_table(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# -- fitting ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    kind: str
    group: str
    live: bool
    antispoof: float
    frames: int
    parallax: float | None
    travel: float
    repeated: float  # share of compared frame pairs whose face window repeated (the frozen check's measure)
    loop: float | None
    channels: dict[str, float]

    @classmethod
    def parse(cls, r: dict[str, str]) -> Row:
        def num(key: str) -> float | None:
            return float(r[key]) if r.get(key) not in (None, "") else None

        return cls(
            r["name"],
            r["kind"],
            r["group"],
            r["label"] == LIVE,
            float(r["antispoof"]),
            int(float(r.get("frames") or 0)),
            num("parallax"),
            num("travel") or 0.0,
            num("repeated_share") or 0.0,
            num("loop_lag_s"),
            {c: float(r[c]) for c in EXPRESSION_CHANNELS if r.get(c) not in (None, "")},
        )

    @property
    def fitted(self) -> bool:
        """Fitted against (live, pictures, screens); animations are only reported."""
        return self.kind not in ANIMATION_KINDS


@dataclass(frozen=True)
class Fit:
    limits: EvidenceLimits
    model: ScoreModel


FLAT_LIVE_MARGIN = 1.25  # the plane finding stays this far under the smallest live parallax


def fit_flat_max(rows: Sequence[Row]) -> float:
    """The geometric mean of the largest plane parallax and the smallest live one, but never closer than
    FLAT_LIVE_MARGIN to the live side: the finding refuses on its own, so a live head just over the planes must
    not be vetoed by it (a plane above the line is still weighed by the score)."""
    planes = [r.parallax for r in rows if r.kind in PLANAR_KINDS and r.parallax is not None]
    heads = [r.parallax for r in rows if r.live and r.parallax is not None]
    if not planes or not heads:
        return EvidenceLimits().flat_max
    return min(math.sqrt(max(planes) * min(heads)), min(heads) / FLAT_LIVE_MARGIN)


def fit_repeat_share(rows: Sequence[Row]) -> float:
    """Halfway between the calmest live clip's repeated share and a picture repeated exactly (1.0): the finding
    refuses on its own, so it keeps as far from the stillest real person as from a still whose stream a codec
    re-quantizes (a live check's VP8 under load repeats 0.91-0.95 of its pairs)."""
    heads = [r.repeated for r in rows if r.live]
    if not heads:
        return EvidenceLimits().repeat_share
    return (max(heads) + 1.0) / 2


def found(row: Row, limits: EvidenceLimits) -> tuple[str, ...]:
    frozen = row.repeated >= limits.repeat_share
    return tuple(str(r) for r in findings(frozen, row.parallax, row.loop, limits))


def fit_ceilings(rows: Sequence[Row], limits: EvidenceLimits) -> dict[str, float]:
    """Each channel's largest range on a picture the findings do not refuse (at least 1e-4)."""
    pictures = [r for r in rows if r.kind in PLANAR_KINDS + ("bent_photo", "live_background")]
    pictures = [r for r in pictures if r.channels and not found(r, limits)]
    return {c: max([1e-4, *(r.channels[c] for r in pictures if c in r.channels)]) for c in EXPRESSION_CHANNELS}


def inputs(row: Row, limits: EvidenceLimits) -> ScoreInputs:
    return ScoreInputs(row.antispoof, limits.expression(row.channels), row.parallax, row.travel >= limits.travel_min)


def _logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float = 0.05) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method (bias unpenalised): coefficients."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(x1.shape[1])
    penalty = np.full(x1.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x1 @ beta)))
        gradient = x1.T @ (weights * (p - y)) + penalty * beta
        hessian = (x1 * (weights * p * (1 - p))[:, None]).T @ x1 + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-9:
            break
    return beta


def fit(rows: Sequence[Row], base: ScoreModel | None = None) -> Fit:
    limits = replace(
        EvidenceLimits(), flat_max=round(fit_flat_max(rows), 5), repeat_share=round(fit_repeat_share(rows), 2)
    )
    ceilings = ExpressionCeilings(**{c: round(v, 4) for c, v in fit_ceilings(rows, limits).items()})
    limits = replace(limits, expression_ceilings=ceilings)
    model = replace(base or ScoreModel(), parallax_ref=limits.flat_max)
    # The score is fitted on what the findings leave to it: a row they already refuse teaches it nothing.
    train = [r for r in rows if r.fitted and r.channels and not found(r, limits)]
    x = np.array([model.features(inputs(r, limits)) for r in train])
    y = np.array([1.0 if r.live else 0.0 for r in train])
    # Each class weighs as much in total, and within a class each group as much (no source dominates the fit).
    weights = np.ones(len(train))
    for label in (True, False):
        members = [i for i, r in enumerate(train) if r.live == label]
        groups: dict[str, list[int]] = {}
        for i in members:
            groups.setdefault(train[i].group, []).append(i)
        for g in groups.values():
            weights[g] = 1.0 / (len(groups) * len(g))
    beta = _logistic(x, y, weights)
    model = replace(
        model,
        bias=round(float(beta[0]), 3),
        w_antispoof=round(float(beta[1]), 3),
        w_expression=round(float(beta[2]), 3),
        w_parallax=round(float(beta[3]), 3),
    )
    # The threshold where the error rates sum least (BPCER + APCER over the training items: a refused real person
    # is as bad as an accepted attack), in the middle of the widest such interval of logits.
    live = [model.judge(inputs(r, limits)).logit for r in train if r.live]
    attack = [model.judge(inputs(r, limits)).logit for r in train if not r.live]
    model = replace(model, bias=round(model.bias - best_cut(live, attack), 3))
    return Fit(limits, model)


def best_cut(live: Sequence[float], attack: Sequence[float]) -> float:
    """The logit cut with the least BPCER + APCER (live below it, attacks at or above it); among cuts as good, the
    middle of the widest gap between neighbouring logits."""
    if not live or not attack:
        return 0.0
    values = sorted(set(live) | set(attack))
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1.0]
    widths = [2.0] + [b - a for a, b in zip(values, values[1:])] + [2.0]

    def errors(cut: float) -> float:
        return sum(v < cut for v in live) / len(live) + sum(v >= cut for v in attack) / len(attack)

    fewest = min(errors(c) for c in cuts)
    return max((w, c) for c, w in zip(cuts, widths) if errors(c) <= fewest + 1e-12)[1]


@dataclass(frozen=True)
class Judged:
    row: Row
    alive: bool
    logit: float | None  # None: refused by a finding
    reasons: tuple[str, ...]


def judge(row: Row, f: Fit) -> Judged:
    """The decision the fitted limits and score give one row (the anti-spoof-only still path aside)."""
    reasons = found(row, f.limits)
    if not row.channels:
        return Judged(row, False, None, reasons or ("too_few_frames",))
    result = f.model.judge(inputs(row, f.limits))
    all_reasons = reasons + tuple(str(r) for r in result.reasons)
    return Judged(row, not all_reasons, None if reasons else result.logit, all_reasons)


def loso(rows: Sequence[Row]) -> dict[str, list[Judged]]:
    """Every group held out in turn: judged by the fit on the others."""
    out: dict[str, list[Judged]] = {}
    for group in sorted({r.group for r in rows}):
        held = [r for r in rows if r.group == group]
        f = fit([r for r in rows if r.group != group])
        out[group] = [judge(r, f) for r in held]
    return out


def summarize(rows: Sequence[Row]) -> str:
    lines: list[str] = []
    full = fit(rows)
    lines.append("## Fit on every group")
    lines.append(f"flat_max {full.limits.flat_max}")
    planes = [r.parallax for r in rows if r.kind in PLANAR_KINDS and r.parallax is not None]
    heads = [r.parallax for r in rows if r.live and r.parallax is not None]
    if planes and heads:
        lines.append(
            f"  largest plane parallax {max(planes):.5f} ({len(planes)} measured), smallest live {min(heads):.5f} "
            f"({len(heads)} of {sum(r.live for r in rows)} live measured): margins x{full.limits.flat_max / max(planes):.2f}"
            f" / x{min(heads) / full.limits.flat_max:.2f}"
        )
    live_repeats = [r.repeated for r in rows if r.live]
    if live_repeats:
        lines.append(
            f"repeat_share {full.limits.repeat_share}: calmest live clip repeats {max(live_repeats):.3f} of its pairs, "
            f"an exact still 1.0; held out, the calmest live clip of each source against the cut fitted without it: "
            + ", ".join(_held_repeat(rows))
        )
        for kind in REPEATED_KINDS:
            shares = [r.repeated for r in rows if r.kind == kind]
            if shares:
                caught = sum(s >= full.limits.repeat_share for s in shares)
                lines.append(
                    f"  {kind} (repeats its picture): lowest share {min(shares):.3f}, {caught}/{len(shares)} frozen"
                )
    lines.append(f"expression ceilings {full.limits.expression_ceilings.as_dict()}")
    m = full.model
    lines.append(
        f"score: bias {m.bias} w_antispoof {m.w_antispoof} w_expression {m.w_expression} w_parallax {m.w_parallax}"
    )
    judged = [judge(r, full) for r in rows]
    lines += _table("in-sample (fit on all)", judged)
    held = loso(rows)
    lines.append("")
    lines.append("## Leave one source out (each group judged by the fit on the others)")
    lines.append("| held-out group | live refused | lowest live logit | attacks accepted | highest attack logit |")
    lines.append("|---|---|---|---|---|")
    for group, js in held.items():
        live = [j for j in js if j.row.live]
        att = [j for j in js if not j.row.live and j.row.fitted]
        ll = [j.logit for j in live if j.logit is not None]
        al = [j.logit for j in att if j.logit is not None]
        refused = [j for j in live if not j.alive]
        accepted = [j for j in att if j.alive]
        lines.append(
            f"| {group} | {len(refused)}/{len(live)} {' '.join(j.row.name + ':' + ','.join(j.reasons) for j in refused)}"
            f" | {min(ll):.2f} | "
            if ll
            else f"| {group} | {len(refused)}/{len(live)} | - | "
        )
        lines[-1] += f"{len(accepted)}/{len(att)} {' '.join(j.row.name for j in accepted)} | " + (
            f"{max(al):.2f} |" if al else "- |"
        )
    everything = [j for js in held.values() for j in js]
    lines += _table("held-out totals (every item judged by the fit without its group)", everything)
    return "\n".join(lines)


def _held_repeat(rows: Sequence[Row]) -> list[str]:
    """Per source: its stillest live clip's repeated share / the repeat_share fitted on the other sources."""
    out = []
    for group in sorted({r.group for r in rows if r.live}):
        held = max(r.repeated for r in rows if r.live and r.group == group)
        cut = fit_repeat_share([r for r in rows if r.group != group])
        out.append(f"{group} {held:.3f}/{cut:.3f}")
    return out


def _table(title: str, judged: Iterable[Judged]) -> list[str]:
    by_kind: dict[str, list[Judged]] = {}
    for j in judged:
        by_kind.setdefault(j.row.kind, []).append(j)
    out = [
        "",
        f"### {title}",
        "| kind | items | accepted (APCER) / refused (BPCER) | margin (logit) |",
        "|---|---|---|---|",
    ]
    for kind in sorted(by_kind, key=lambda k: (k != LIVE, k)):
        js = by_kind[kind]
        logits = [j.logit for j in js if j.logit is not None]
        if kind == LIVE:
            bad = [j for j in js if not j.alive]
            margin = f"lowest {min(logits):+.2f}" if logits else "-"
            names = " ".join(f"{j.row.name}({','.join(j.reasons)})" for j in bad)
            out.append(f"| live | {len(js)} | refused {len(bad)} {names} | {margin} |")
        else:
            bad = [j for j in js if j.alive]
            margin = f"highest {max(logits):+.2f}" if logits else "all refused by findings"
            note = " (not fitted: animations)" if kind in ANIMATION_KINDS else ""
            out.append(f"| {kind}{note} | {len(js)} | accepted {len(bad)} | {margin} |")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("media", nargs="?", type=Path, help="the shared media folder (with SOURCES.tsv)")
    parser.add_argument("--keep", type=Path, help="folder for measures.csv (default: a temporary one)")
    parser.add_argument("--table", type=Path, help="fit from this measures.csv instead of measuring")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default=os.environ.get("LIVECHECK_MODELS"))
    parser.add_argument("--only", help="measure only items whose name contains this")
    args = parser.parse_args(argv)
    if args.table is None:
        if args.media is None:
            parser.error("give the media folder or --table")
        keep = args.keep or Path(tempfile.mkdtemp(prefix="calibrate-"))
        args.table = measure(args.media, keep, args.workers, args.models, args.only)
    rows = [Row.parse(r) for r in read_table(args.table)]
    print(summarize(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
