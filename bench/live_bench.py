"""Live-check benchmark: N concurrent aiortc clients on loopback at 640x480, 15 fps, against one registry.

The clients (VP8 encoding, their own event loop) run in a separate process, so the server's CPU is measured
alone (getrusage of this process: its event loop, VP8 decoding, conversion and the models). One registry serves
every round, as a running node would (its admission has measured the frames of the rounds before). Prints, per N:
how many checks the node admitted and refused (503 `busy`: realtime/capacity.py), analyzed frames/s per admitted
check (min and mean), frame-arrival -> feedback latency p50/p95 (ms), server CPU per admitted check (% of one
core), the node's capacity as it saw it, then the server's cost per analyzed frame by stage at the last N next
to the cost of one check alone, and the largest N with every check admitted at >= 10 analyzed fps and p95 <= 200
ms. The load average of the machine is printed with each row (the machine may be shared). Run inside a
loopback-only namespace:
    unshare -n sh -c 'ip link set lo up && .venv/bin/python -m bench.live_bench --sessions 1 4 8 10 12 16'
`--no-admission` admits everything (to see what an unguarded node does); `--frame-workers K` overrides the
frame workers (default: the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from realtime.client import FramesTrack, LiveClient, read_clip  # noqa: E402
from realtime.registry import SessionError, SessionOptions, SessionRegistry  # noqa: E402
from realtime.settings import RealtimeSettings  # noqa: E402
from scoring.engine import LivenessEngine  # noqa: E402
from scoring.settings import EngineSettings  # noqa: E402

SIZE = (640, 480)
FPS = 15.0


# -- the client process ------------------------------------------------------------------------------------------


def client_process(conn: Connection, clip: str) -> None:
    """Serves rounds: ("round", [(session_id, token)], timeout) -> offers out, answers in, ("done", statuses)."""
    frames, _ = read_clip(clip, size=SIZE)
    asyncio.run(_client_rounds(conn, frames))


async def _client_rounds(conn: Connection, frames: list[np.ndarray]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message[0] == "stop":
            return
        _, creds, timeout = message
        clients = []
        for index, _cred in enumerate(creds):
            client = LiveClient(FramesTrack(frames, FPS, lead_s=1.0))

            async def offer(sdp: str, index: int = index) -> dict[str, str]:
                conn.send(("offer", index, sdp))
                answer = await loop.run_in_executor(None, conn.recv)
                if "error" in answer:
                    raise RuntimeError(answer["error"])
                return answer  # type: ignore[no-any-return]

            try:
                await client.connect(offer)
            except RuntimeError:  # refused (busy): this client retries no more in the benchmark
                await client.close()
                continue
            clients.append(client)
        conn.send(("connected",))
        runs = await asyncio.gather(*(c.wait_result(timeout) for c in clients), return_exceptions=True)
        for client in clients:
            await client.close()
        conn.send(("done", [getattr(r, "status", None) for r in runs]))


# -- the server side ---------------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


async def run_round(registry: SessionRegistry, conn: Connection, n: int, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    sessions, creds = [], []
    for _ in range(n):
        session, token = await registry.create(
            SessionOptions(actions=("nod",))
        )  # the clip never nods: runs to the deadline
        sessions.append(session)
        creds.append((session.id, token))
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    conn.send(("round", creds, seconds + 40))
    refused, capacity = 0, 0
    codes: dict[str, int] = {}
    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message[0] == "offer":
            sid, token = creds[message[1]]
            capacity = max(capacity, registry.headroom().capacity)
            try:
                conn.send(await registry.offer(sid, token, message[2]))
            except SessionError as exc:
                refused += 1
                codes[exc.code] = codes.get(exc.code, 0) + 1
                conn.send({"error": exc.code})
        elif message[0] == "done":
            statuses = message[1]
            break
    cpu1, wall1 = cpu_seconds(), time.monotonic()
    for _ in range(200):
        if registry.counts()["peers"] == 0:
            break
        await asyncio.sleep(0.05)
    found = [registry.pipeline_stats(s.id) for s in sessions]
    stats = [s for s in found if s is not None and s.frames_analyzed > 0]
    admitted = n - refused
    latencies = np.concatenate([np.array(s.latencies_ms) for s in stats]) if stats else np.array([0.0])
    fps = [s.analyzed_fps for s in stats] or [0.0]
    frames = sum(s.frames_analyzed for s in stats)
    stages: dict[str, float] = {}
    for s in stats:
        for stage, sec in s.stages_s.items():
            stages[stage] = stages.get(stage, 0.0) + sec
    return {
        "n": n,
        "admitted": admitted,
        "refused": refused,
        "capacity": capacity,
        "fps_min": min(fps),
        "fps_mean": float(np.mean(fps)),
        "p50": float(np.percentile(latencies, 50)),
        "p95": float(np.percentile(latencies, 95)),
        "cpu_per_session": 100 * (cpu1 - cpu0) / max(1e-6, wall1 - wall0) / max(1, admitted),
        "received": sum(s.frames_received for s in stats),
        "frames": frames,
        "stage_ms": {k: 1000 * v / max(1, frames) for k, v in stages.items()},
        "ok_sessions": sum(1 for st in statuses if st is not None),
        "load": load_average(),
        "codes": codes,
    }


def vp8_decode_ms(frames: list[np.ndarray], count: int = 60) -> float:
    """Cost of decoding one 640x480 VP8 frame (what aiortc does for every received frame)."""
    import av

    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    encoder.bit_rate, encoder.options = 1_000_000, {"deadline": "realtime", "cpu-used": "8"}
    packets = []
    for i in range(count):
        frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += encoder.encode(frame)
    decoder = av.CodecContext.create("vp8", "r")
    start = time.perf_counter()
    decoded = sum(len(decoder.decode(p)) for p in packets)
    return 1000 * (time.perf_counter() - start) / max(1, decoded)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8, 10, 12, 16])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each check (its action deadline)")
    parser.add_argument("--no-admission", action="store_true", help="admit every check (no 503 busy)")
    parser.add_argument("--frame-workers", type=int, default=0, help="frame workers (default 0: the cores)")
    parser.add_argument(
        "--media",
        default=os.environ.get("LIVECHECK_MEDIA", str(Path(__file__).resolve().parents[2] / "shared" / "media")),
    )
    return parser.parse_args()


def make_registry(engine: LivenessEngine, args: argparse.Namespace) -> SessionRegistry:
    """One registry for every round, sized for the largest round so that only admission refuses a check."""
    settings = RealtimeSettings(
        ice_host_addresses=("127.0.0.1",),
        max_sessions=max(args.sessions),  # the fixed cap never refuses here: only admission does
        action_timeout_s=args.seconds,
        check_timeout_s=args.seconds + 30,
        frame_workers=args.frame_workers,
        # no admission: a rate so low that every check meets it and none costs anything
        guaranteed_fps=1e-6 if args.no_admission else RealtimeSettings().guaranteed_fps,
    )
    return SessionRegistry(engine, settings)


async def main() -> None:
    args = parse_args()
    clip = str(Path(args.media) / "videos" / "d12.mp4")
    parent, child = mp.get_context("spawn").Pipe()
    clients = mp.get_context("spawn").Process(target=client_process, args=(child, clip), daemon=True)
    clients.start()
    most = max(args.sessions)
    engine = LivenessEngine.load(EngineSettings(), os.environ.get("LIVECHECK_MODELS"), live_landmarkers=most)
    registry = make_registry(engine, args)
    registry.start()
    print(f"frame workers {registry.frame_workers}, admission {'off' if args.no_admission else 'on'}")
    print(
        f"{'N':>3} {'admit':>5} {'refuse':>6} {'cap':>4} {'fps min':>8} {'fps mean':>9} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'CPU%/check':>10}  {'ok':<3} load"
    )
    try:
        best, stage_ms, alone = await run_rounds(registry, parent, args)
    finally:
        parent.send(("stop",))
        clients.join(10)
        await registry.close()
    frames, _ = read_clip(clip, size=SIZE, max_seconds=3)
    stage_ms["vp8_decode (every received frame)"] = vp8_decode_ms(frames)
    print(
        f"server cost per analyzed frame, ms: at N={args.sessions[-1]} | at N={args.sessions[0]} "
        "(anti-spoof runs on every 3rd frame, so its mean is a third):"
    )
    for stage, ms in sorted(stage_ms.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<36} {ms:6.2f} | {alone.get(stage, float('nan')):6.2f}")
    print(f"largest N with every check admitted, >= 10 analyzed fps each and p95 <= 200 ms: {best}")
    engine.close()


async def run_rounds(
    registry: SessionRegistry, conn: Connection, args: argparse.Namespace
) -> tuple[int, dict[str, float], dict[str, float]]:
    """One round per N, a row each; returns the largest N that met the targets with every check admitted, the
    stage costs of the last round and those of the first (one check alone, when N starts at 1)."""
    best = 0
    stage_ms: dict[str, float] = {}
    alone: dict[str, float] = {}
    for n in args.sessions:
        r = await run_round(registry, conn, n, args.seconds)
        ok = r["fps_min"] >= 10 and r["p95"] <= 200
        best = n if ok and r["refused"] == 0 and n > best else best
        stage_ms = r["stage_ms"]
        alone = alone or stage_ms
        cap = "-" if args.no_admission else str(r["capacity"])
        print(
            f"{n:>3} {r['admitted']:>5} {r['refused']:>6} {cap:>4} {r['fps_min']:>8.1f} "
            f"{r['fps_mean']:>9.1f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['cpu_per_session']:>10.1f}  "
            f"{'yes' if ok else 'no':<3} {r['load']}" + (f"  refused: {r['codes']}" if r["codes"] else ""),
            flush=True,
        )
    return best, stage_ms, alone


if __name__ == "__main__":
    asyncio.run(main())
