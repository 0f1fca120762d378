"""Scaling on one machine: `livecheck serve --processes 1` vs `--processes 2` (one SQLite store, real Hypercorn on
127.0.0.1), same settings per process. Prints, for each, REST throughput (session create+read: the store path;
FindFace video-liveness on 3 s clips: the analysis path) and sustained live sessions (concurrent WebRTC checks
of d12 from the Python client, run back to back for a fixed time), then the 2-vs-1 ratios.

Run it alone on an idle machine (it saturates the CPU), in the loopback namespace:
    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m bench.cluster_bench'
Options: --rest-requests 200 --video-requests 16 --live 4 --live-seconds 40 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")

import httpx  # noqa: E402

from realtime.client import FramesTrack, LiveClient, read_clip  # noqa: E402
from tests.support.mediagen import cut_clip  # noqa: E402
from tests.support.servers import start_node, stop  # noqa: E402

MEDIA = Path(os.environ.get("LIVECHECK_MEDIA") or ROOT.parent / "shared" / "media")
KEY = "bench-key"


def threaded(call, n: int, clients: int) -> float:  # type: ignore[no-untyped-def]
    """n calls over `clients` threads; requests per second."""
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(call, range(n)))
    return n / (time.perf_counter() - started)


def rest_rps(base: str, n: int) -> float:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:

        def one(_: int) -> None:
            created = client.post("/v1/sessions", json={"action_count": 0})
            assert created.status_code == 201, created.text
            assert client.get(f"/v1/sessions/{created.json()['session_id']}").status_code == 200

        return threaded(one, n, 8)


def video_rps(base: str, n: int, clips: list[bytes]) -> float:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "video/mp4"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:

        def one(i: int) -> None:
            res = client.post("/v1/video-liveness", content=clips[i % len(clips)])
            assert res.status_code == 200, res.text

        return threaded(one, n, 4)


async def live_sustained(base: str, concurrent: int, seconds: float, frames: list[Any], fps: float) -> dict[str, float]:
    """`concurrent` clients, each running checks back to back until `seconds` pass; decided checks and analyzed
    frames per second (from the results the nodes wrote to the store)."""
    headers = {"Authorization": f"Bearer {KEY}"}
    done = {"checks": 0, "frames": 0, "refused": 0}
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            while time.monotonic() < deadline:
                session = (await http.post("/v1/sessions", json={"actions": ["turn_left", "turn_right"]})).json()

                async def post(sdp: str, session: dict[str, Any] = session) -> dict[str, str]:
                    res = await http.post(
                        f"/v1/sessions/{session['session_id']}/offer",
                        json={"sdp": sdp, "type": "offer"},
                        headers={"Authorization": f"Bearer {session['client_token']}"},
                    )
                    if res.status_code != 200:
                        raise RuntimeError(res.text)
                    return res.json()  # type: ignore[no-any-return]

                client = LiveClient(FramesTrack(frames, fps, lead_s=1.0))
                try:
                    await client.connect(post)
                    await client.wait_result(60)
                except (RuntimeError, TimeoutError):
                    done["refused"] += 1
                    await asyncio.sleep(1.0)
                    continue
                finally:
                    await client.close()
                for _ in range(50):
                    view = (await http.get(f"/v1/sessions/{session['session_id']}")).json()
                    if "result" in view:
                        done["checks"] += 1
                        done["frames"] += int(view["result"].get("frames_analyzed") or 0)
                        break
                    await asyncio.sleep(0.1)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrent)))
    elapsed = time.monotonic() - started
    return {
        "checks_per_min": 60 * done["checks"] / elapsed,
        "frames_per_s": done["frames"] / elapsed,
        "refused": float(done["refused"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rest-requests", type=int, default=200)
    parser.add_argument("--video-requests", type=int, default=16)
    parser.add_argument("--live", type=int, default=4, help="concurrent live clients")
    parser.add_argument("--live-seconds", type=float, default=40.0)
    parser.add_argument("--workers", type=int, default=2, help="worker threads per process")
    args = parser.parse_args()
    clips = [cut_clip((MEDIA / "videos" / n).read_bytes(), 0.0, 3.0, size=(480, 480)) for n in ("d0.mp4", "d18.mp4")]
    frames, fps = read_clip(str(MEDIA / "videos" / "d12.mp4"), size=(480, 270), max_seconds=6.0)
    figures: dict[int, dict[str, float]] = {}
    for processes in (1, 2):
        workdir = Path(tempfile.mkdtemp(prefix=f"cluster-bench-{processes}-"))
        node = start_node(
            workdir,
            f"p{processes}",
            f"sqlite:///{workdir / 'livecheck.db'}",
            KEY,
            args=("--processes", str(processes)),
            extra_env={
                "LIVECHECK_SERVER__WORKERS": str(args.workers),
                "LIVECHECK_REALTIME__MAX_SESSIONS": str(args.live),
            },
        )
        try:
            time.sleep(3.0 if processes > 1 else 0.5)  # the second process may still be loading models
            row = {
                "rest_rps": rest_rps(node.base, args.rest_requests),  # session create+read pairs per second
                "video_rps": video_rps(node.base, args.video_requests, clips),
            }
            row.update(asyncio.run(live_sustained(node.base, args.live, args.live_seconds, frames, fps)))
        finally:
            stop(node.process, 90)
        figures[processes] = row
        print(f"--processes {processes}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    print(
        "ratios 2 vs 1 processes: "
        + ", ".join(
            f"{k} {figures[2][k] / figures[1][k]:.2f}x"
            for k in ("rest_rps", "video_rps", "checks_per_min", "frames_per_s")
            if figures[1][k] > 0
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
