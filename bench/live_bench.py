"""Live-check benchmark: N concurrent aiortc clients on loopback at 640x480, 15 fps, against one registry.

Prints, per N: analyzed frames/s per session (min and mean), frame-arrival -> feedback latency p50/p95 (ms),
CPU per session (% of one core; the clients' encoding runs in this process too, so this is an upper bound).
Run inside a loopback-only namespace:
    unshare -n sh -c 'ip link set lo up && .venv/bin/python bench/live_bench.py --sessions 1 2 4 6'
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realtime.client import FramesTrack, LiveClient, read_clip  # noqa: E402
from realtime.registry import SessionOptions, SessionRegistry  # noqa: E402
from realtime.settings import RealtimeSettings  # noqa: E402
from scoring.engine import LivenessEngine  # noqa: E402
from scoring.settings import EngineSettings  # noqa: E402


async def run_round(engine: LivenessEngine, frames: list[np.ndarray], n: int, seconds: float) -> dict[str, float]:
    settings = RealtimeSettings(ice_host_addresses=("127.0.0.1",), max_sessions=max(n, 1), action_timeout_s=seconds,
                                check_timeout_s=seconds + 30)
    registry = SessionRegistry(engine, settings)
    registry.start()
    clients, sessions = [], []
    cpu0, wall0 = os.times(), time.monotonic()
    for _ in range(n):
        session, token = registry.create(SessionOptions(actions=("nod",)))  # the clip never nods: runs to the deadline
        client = LiveClient(FramesTrack(frames, 15.0, lead_s=1.0))
        await client.connect(lambda sdp, s=session, t=token: registry.offer(s.id, t, sdp))
        clients.append(client)
        sessions.append(session)
    await asyncio.gather(*(c.wait_result(seconds + 40) for c in clients), return_exceptions=True)
    cpu1, wall1 = os.times(), time.monotonic()
    for client in clients:
        await client.close()
    for _ in range(200):
        if registry.counts()["peers"] == 0:
            break
        await asyncio.sleep(0.05)
    await registry.close()
    stats = [s.stats for s in sessions if s.stats is not None]
    latencies = np.concatenate([np.array(s.latencies_ms) for s in stats]) if stats else np.array([0.0])
    fps = [s.analyzed_fps for s in stats] or [0.0]
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / max(1e-6, wall1 - wall0)
    return {"n": n, "fps_min": min(fps), "fps_mean": float(np.mean(fps)), "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)), "cpu_per_session": 100 * cpu / max(1, n)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 6, 8])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each check (its action deadline)")
    parser.add_argument("--media", default=os.environ.get("LIVECHECK_MEDIA", str(Path(__file__).resolve().parents[2] / "shared" / "media")))
    args = parser.parse_args()
    engine = LivenessEngine.load(EngineSettings(), os.environ.get("LIVECHECK_MODELS"), landmarkers=max(args.sessions))
    frames, _ = read_clip(str(Path(args.media) / "videos" / "d12.mp4"), size=(640, 480))
    print(f"{'N':>3} {'fps min':>8} {'fps mean':>9} {'p50 ms':>7} {'p95 ms':>7} {'CPU%/session':>13}  ok")
    best = 0
    for n in args.sessions:
        r = await run_round(engine, frames, n, args.seconds)
        ok = r["fps_min"] >= 10 and r["p95"] <= 200
        best = n if ok else best
        print(f"{n:>3} {r['fps_min']:>8.1f} {r['fps_mean']:>9.1f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['cpu_per_session']:>13.1f}  {'yes' if ok else 'no'}", flush=True)
    print(f"largest N with >= 10 analyzed fps per session and p95 <= 200 ms: {best}")
    engine.close()


if __name__ == "__main__":
    asyncio.run(main())
