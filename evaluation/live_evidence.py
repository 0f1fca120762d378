"""The same clip uploaded and streamed live: prints the cross-frame evidence (scoring.evidence) each path measures,
side by side, and the verdict. A live stream of a clip should get the evidence its upload gets, within codec noise.

    unshare -n sh -c 'ip link set lo up && .venv/bin/python -m evaluation.live_evidence ../shared/media --runs 5'

Offline: `LivenessEngine.analyze_video` on the file. Live: a real `livecheck serve` on loopback
(evaluation.live_runner.live_server); each run is a passive check (action_count 0) that the Python WebRTC client
(realtime.client) streams the clip to in real time, scaled to 640 px as a webcam sends; the measures are the
session result's `evidence`. Run as root inside a loopback-only namespace (WebRTC binds 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.live_runner import MAX_SIDE, LiveServer, live_server, stream_session
from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.settings import EngineSettings, MediaLimits

LEAD_S = 0.5  # the first frame shown this long before the clip plays (a camera's first frames)
MEASURES = ("parallax", "expression", "travel")


@dataclass(frozen=True)
class Measured:
    clip: str
    path: str  # offline | live N
    alive: bool
    reasons: tuple[str, ...]
    evidence: dict[str, Any]
    seconds: float  # how long the check watched (live) or the clip lasted (offline)


def webcam_frames(path: Path, max_side: int = MAX_SIDE) -> tuple[list[np.ndarray], float]:
    """The clip's frames at most `max_side` px on the long side (MAX_SIDE: what a browser's camera track sends)."""
    import av  # noqa: PLC0415 - PyAV is heavy; only the live side reads clips this way

    from realtime.client import read_clip  # noqa: PLC0415

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
    scale = min(1.0, max_side / max(width, height))
    return read_clip(str(path), size=(int(width * scale) // 2 * 2, int(height * scale) // 2 * 2), max_seconds=30.0)


def offline(engine: LivenessEngine, path: Path) -> Measured:
    verdict = engine.analyze_video(path.read_bytes(), AnalysisOptions())
    evidence = verdict.evidence.to_dict() if verdict.evidence is not None else {}
    return Measured(path.stem, "offline", verdict.alive, tuple(map(str, verdict.reasons)), evidence, verdict.duration_s)


async def live(server: LiveServer, frames: list[np.ndarray], fps: float, name: str, run: int) -> Measured:
    """One passive live check of the clip through the server; the integrator's view of its result."""
    body = await stream_session(server, frames, fps, actions=0, lead_s=LEAD_S, timeout_s=60.0)
    result = body.get("result") or {}
    return Measured(
        name,
        f"live {run}",
        bool(result.get("alive")),
        tuple(result.get("reasons") or ()),
        result.get("evidence") or {},
        float(result.get("duration_s") or 0.0),
    )


def _value(evidence: dict[str, Any], key: str) -> str:
    value = evidence.get(key)
    return "-" if value is None else f"{value:.4f}"


def print_rows(rows: list[Measured], header: bool = True) -> None:
    if header:
        print(
            f"{'clip':10s} {'path':8s} {'verdict':8s} {'parallax':>8s} {'expr':>7s} {'travel':>7s} {'frames':>6s} "
            f"{'watched':>7s}  evidence / reasons",
            flush=True,
        )
    for r in rows:
        e = r.evidence
        print(
            f"{r.clip:10s} {r.path:8s} {'alive' if r.alive else 'refused':8s} {_value(e, 'parallax'):>8s} "
            f"{_value(e, 'expression'):>7s} {_value(e, 'travel'):>7s} {e.get('frames', 0):6d} {r.seconds:6.1f}s  "
            f"{','.join(e.get('evidence') or []) or '-'} / {','.join(r.reasons) or 'alive'}",
            flush=True,
        )


def print_summary(rows: list[Measured]) -> None:
    print("\nLive vs offline, per clip (live: mean, min..max over the runs; spread = max - min):")
    for clip in dict.fromkeys(r.clip for r in rows):
        off = next((r for r in rows if r.clip == clip and r.path == "offline"), None)
        runs = [r for r in rows if r.clip == clip and r.path != "offline"]
        if off is None or not runs:
            continue
        parts = []
        for key in MEASURES:
            values = [float(r.evidence[key]) for r in runs if r.evidence.get(key) is not None]
            if not values:
                parts.append(f"{key} offline {_value(off.evidence, key)} live -")
                continue
            parts.append(
                f"{key} offline {_value(off.evidence, key)} live {statistics.mean(values):.4f} "
                f"({min(values):.4f}..{max(values):.4f}, spread {max(values) - min(values):.4f})"
            )
        alive = sum(r.alive for r in runs)
        print(f"  {clip}: offline {'alive' if off.alive else 'refused'}, live alive {alive}/{len(runs)}")
        for part in parts:
            print(f"    {part}")


async def run_live(server: LiveServer, clips: list[Path], runs: int, max_side: int, rows: list[Measured]) -> None:
    for path in clips:
        frames, fps = await asyncio.to_thread(webcam_frames, path, max_side)
        for run in range(1, runs + 1):
            try:
                measured = await live(server, frames, fps, path.stem, run)
            except Exception as exc:  # noqa: BLE001 - reported; the other runs go on
                print(f"  {path.stem} live {run}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                continue
            rows.append(measured)
            print_rows([measured], header=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("media", type=Path, help="the live media folder (../shared/media)")
    parser.add_argument("--clips", nargs="*", default=None, help="clip names (default: every videos/*.mp4)")
    parser.add_argument("--runs", type=int, default=1, help="live runs per clip")
    parser.add_argument(
        "--max-side",
        type=int,
        default=MAX_SIDE,
        help=f"long side of the streamed frames (default {MAX_SIDE}, a webcam's; 720 is what an upload is analyzed at)",
    )
    parser.add_argument("--models", default=None)
    args = parser.parse_args(argv)
    videos = sorted((args.media / "videos").glob("*.mp4"))
    clips = [v for v in videos if args.clips is None or v.stem in args.clips]
    # Portrait phone clips are measured whatever the deployment's upload limits are (as evidence_margins does).
    settings = replace(EngineSettings(), limits=MediaLimits(video_width_px=4096, video_height_px=4096))
    engine = LivenessEngine.load(settings, args.models, landmarkers=1)
    try:
        rows = [offline(engine, path) for path in clips]
    finally:
        engine.close()
    print_rows(rows)
    with live_server(args.models) as server:
        asyncio.run(run_live(server, clips, args.runs, args.max_side, rows))
    print()
    order = {clip.stem: i for i, clip in enumerate(clips)}
    print_rows(sorted(rows, key=lambda r: (order[r.clip], r.path != "offline", r.path)))
    print_summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
