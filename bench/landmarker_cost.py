"""What a fresh landmarker per stream costs (issue 21): every uploaded video and every live check gets a new
VIDEO-mode MediaPipe instance, closed when the stream ends, so no tracking state survives into the next request.

    .venv/bin/python -m bench.landmarker_cost [--runs 20] [--video d18.mp4]

Prints the median / p95 / max milliseconds of one pool acquire (creating the instance) + release (closing it),
and the end-to-end time of LivenessEngine.analyze_video on a shared clip for scale. Figures only; no assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = Path(__file__).resolve().parents[1]


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"


def main() -> None:
    from scoring.engine import LivenessEngine
    from scoring.settings import EngineSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--video", default="d18.mp4")
    parser.add_argument("--models", default=os.environ.get("LIVECHECK_MODELS"))
    media = Path(os.environ.get("LIVECHECK_MEDIA") or ROOT.parent / "shared" / "media")
    args = parser.parse_args()
    engine = LivenessEngine.load(EngineSettings(), args.models, landmarkers=1, prewarm=0)
    pool = engine.models.landmarkers
    cycle: list[float] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        item = pool.acquire()
        pool.release(item)
        cycle.append((time.perf_counter() - started) * 1000)
    print(f"fresh VIDEO landmarker per stream (create + close), {args.runs} runs: {_ms(cycle)}")
    data = (media / "videos" / args.video).read_bytes()
    whole: list[float] = []
    for _ in range(max(1, args.runs // 5)):
        started = time.perf_counter()
        engine.analyze_video(data)
        whole.append((time.perf_counter() - started) * 1000)
    print(f"analyze_video({args.video}) end to end, {len(whole)} runs: {_ms(whole)}")
    print(f"share of one request: {statistics.median(cycle) / statistics.median(whole) * 100:.1f} %")
    engine.close()


if __name__ == "__main__":
    main()
