"""Measures the cross-frame evidence (scoring.evidence) on every live clip of a media folder and on every flat
attack generated from it, and prints each threshold with the margin on each side. The thresholds in
scoring.evidence.EvidenceLimits come from this script's output (docs/verdict.md quotes it).

    .venv/bin/python -m evaluation.evidence_margins ../shared/media [--keep DIR] [--seed N]

Flat attacks: every live video's middle frame and every live still becomes held_photo, tilted_photo, bent_photo,
still_noise, still_injection and print_photo; every live video also becomes screen_replay and replay_tilted
(shown for information: a replay has the recorded person's real 3D motion, so evidence is not what stops it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from evaluation import attacks
from evaluation.attacks import AttackType
from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.evidence import EvidenceLimits, EvidenceReport
from scoring.settings import EngineSettings, MediaLimits

FLAT_TYPES = (
    AttackType.HELD_PHOTO,
    AttackType.TILTED_PHOTO,
    AttackType.BENT_PHOTO,
    AttackType.STILL_NOISE,
    AttackType.STILL_INJECTION,
    AttackType.PRINT_PHOTO,
)
REPLAY_TYPES = (AttackType.SCREEN_REPLAY, AttackType.REPLAY_TILTED)
LIVE_STILLS = (
    "images/image_T1.jpg",
    "identity/obama.jpg",
    "identity/obama2.jpg",
    "identity/biden.jpg",
    "identity/biden2.jpg",
)


@dataclass(frozen=True)
class Measured:
    name: str
    kind: str  # live | a flat attack type | a replay type
    report: EvidenceReport

    @property
    def flat(self) -> bool:
        return self.kind in FLAT_TYPES


def clips_to_measure(media: Path, out: Path, seed: int) -> list[tuple[str, str, Path]]:
    """(name, kind, path) of every live clip and every generated attack, generating what `out` lacks."""
    videos = sorted((media / "videos").glob("*.mp4"))
    stills = [media / s for s in LIVE_STILLS if (media / s).is_file()]
    items = [(v.stem, "live", v) for v in videos]
    index = 0
    for source in [*videos, *stills]:
        frame = None
        for kind in FLAT_TYPES:
            index += 1
            path = out / f"{kind}__{source.stem}.mp4"
            if not path.is_file():
                frame = attacks.read_frame(source, None) if frame is None else frame
                rng = attacks.rng_for(seed, index)
                clip = (
                    attacks.still_injection(frame)
                    if kind == AttackType.STILL_INJECTION
                    else attacks.STILL_ATTACKS[kind](frame, rng)
                )
                attacks.write_video(path, clip)
            items.append((path.stem, kind, path))
    for source in videos:
        for kind in REPLAY_TYPES:
            index += 1
            path = out / f"{kind}__{source.stem}.mp4"
            if not path.is_file():
                clip = attacks.read_video(source, 6.0)
                made = (
                    attacks.screen_replay(clip, attacks.rng_for(seed, index))
                    if kind == AttackType.SCREEN_REPLAY
                    else attacks.replay_tilted(clip, attacks.rng_for(seed, index))
                )
                attacks.write_video(path, made)
            items.append((path.stem, kind, path))
    return items


def measure(engine: LivenessEngine, items: list[tuple[str, str, Path]]) -> list[Measured]:
    out = []
    for name, kind, path in items:
        verdict = engine.analyze_video(path.read_bytes(), AnalysisOptions())
        if verdict.evidence is not None:
            out.append(Measured(name, kind, verdict.evidence))
            print(f"  measured {name}", file=sys.stderr)
    return out


def _margin(low_side: list[float], high_side: list[float], threshold: float, what: str) -> str:
    """A threshold that must sit above every value of `low_side` and below every value of `high_side`."""
    lo = max(low_side) if low_side else float("nan")
    hi = min(high_side) if high_side else float("nan")
    below = threshold / lo if lo > 0 else float("inf")
    above = hi / threshold if threshold > 0 else float("inf")
    return (
        f"{what}: {threshold:g} | highest below it {lo:.4f} (margin x{below:.2f}) | lowest above it {hi:.4f} "
        f"(margin x{above:.2f}){'' if lo < threshold <= hi else '  <-- OVERLAP'}"
    )


def print_report(rows: list[Measured], limits: EvidenceLimits) -> None:
    print(
        f"{'clip':34s} {'kind':15s} {'parallax':>9s} {'pairs':>5s} {'travel':>7s} {'turns?':>6s} {'expr':>5s} {'pose':>5s} "
        f"{'repeat':>6s}  evidence / reasons"
    )
    for r in rows:
        e = r.report
        par = "-" if e.parallax is None else f"{e.parallax:.4f}"
        print(
            f"{r.name:34s} {r.kind:15s} {par:>9s} {e.parallax_pairs:5d} {e.travel:7.4f} {e.unproven_turns:6d} "
            f"{e.expression:5.2f} {e.pose_range_deg:5.1f} {e.repeated_share:6.2f}  "
            f"{','.join(e.evidence) or '-'} / {','.join(str(x) for x in e.reasons) or 'alive'}"
        )
    live = [r for r in rows if r.kind == "live"]
    flat = [r for r in rows if r.flat]
    print("\nThresholds (scoring.evidence.EvidenceLimits) and the margin on each side:")
    print(
        _margin(
            [r.report.parallax for r in flat if r.report.parallax is not None],
            [r.report.parallax for r in live if r.report.parallax is not None] or [float("nan")],
            limits.parallax_min,
            f"parallax_min (pixel-track residual of pairs {limits.parallax_lag_ms} ms apart whose pose differs >= "
            f"{limits.parallax_pose_deg:g} deg: flat attacks below, live clips above)",
        )
    )
    decided_by_expression = [
        r for r in flat if r.report.parallax is None and r.report.unproven_turns < limits.min_parallax_pairs
    ]
    print(
        _margin(
            [r.report.expression for r in decided_by_expression],
            [r.report.expression for r in live if "parallax" not in r.report.evidence],
            limits.expression_min,
            "expression_min (flat attacks that no turn test judged below; live clips without parallax above)",
        )
    )
    no_evidence = [r for r in flat if not r.report.evidence]
    print(
        _margin(
            [r.report.travel for r in no_evidence if r.kind in (AttackType.STILL_NOISE, AttackType.STILL_INJECTION)],
            [
                r.report.travel
                for r in no_evidence
                if r.kind in (AttackType.HELD_PHOTO, AttackType.PRINT_PHOTO, AttackType.TILTED_PHOTO)
            ],
            limits.travel_min,
            "travel_min (names the reason only: stills below -> static_video, pictures moved by hand above -> flat_face; "
            "a bent photo barely travels and may be either)",
        )
    )
    print("\nVerdict of the evidence alone:")
    for kind in ("live", *FLAT_TYPES, *REPLAY_TYPES):
        group = [r for r in rows if r.kind == kind]
        if not group:
            continue
        passed = [r.name for r in group if not r.report.reasons]
        word = "pass" if kind == "live" else "get through"
        print(
            f"  {kind:15s} {len(passed)}/{len(group)} {word}"
            + (f": {', '.join(passed)}" if passed and kind != "live" else "")
        )
        if kind == "live" and len(passed) < len(group):
            print(
                "    refused: "
                + ", ".join(f"{r.name} ({','.join(map(str, r.report.reasons))})" for r in group if r.report.reasons)
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("media", type=Path, help="the live media folder (../shared/media)")
    parser.add_argument(
        "--keep", type=Path, default=Path("/tmp/livecheck-evidence"), help="where generated clips are kept"
    )
    parser.add_argument("--seed", type=int, default=30107)
    parser.add_argument("--models", default=None)
    args = parser.parse_args(argv)
    settings = EngineSettings()
    # Portrait phone clips and every generated size are measured, whatever the deployment's upload limits are.
    settings = replace(settings, limits=MediaLimits(video_width_px=4096, video_height_px=4096))
    items = clips_to_measure(args.media, args.keep, args.seed)
    engine = LivenessEngine.load(settings, args.models, landmarkers=1)
    try:
        rows = measure(engine, items)
    finally:
        engine.close()
    print_report(rows, settings.evidence)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
