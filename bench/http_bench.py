"""HTTP overhead and scaling: 3 s 480p clips via `livecheck serve` (real Hypercorn on 127.0.0.1) vs the engine
called directly, at 1, 2, 4 and 8 concurrent clients, in the same run. Prints rps, p50/p95 and the ratios.

Targets: HTTP adds <= 15% latency over the direct engine at 1 client; 4-client throughput >= 1.6x 1-client.
Usage: .venv/bin/python -m bench.http_bench [--requests 12] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")

import httpx  # noqa: E402

from tests.support.mediagen import cut_clip  # noqa: E402

MEDIA = Path(os.environ.get("LIVECHECK_MEDIA") or ROOT.parent / "shared" / "media")
KEY = "bench-key"
LEVELS = (1, 2, 4, 8)


def clips() -> list[bytes]:
    return [
        cut_clip((MEDIA / "videos" / name).read_bytes(), 0.0, 3.0, size=(480, 480))
        for name in ("d0.mp4", "d18.mp4", "d19.mp4")
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_level(call, payloads: list[bytes], clients: int, requests: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """`requests` calls spread over `clients` threads; returns (requests/s, latencies)."""
    latencies: list[float] = []

    def one(i: int) -> None:
        t0 = time.perf_counter()
        call(payloads[i % len(payloads)])
        latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    return requests / (time.perf_counter() - started), latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=12, help="requests per concurrency level and mode")
    parser.add_argument("--workers", type=int, default=2)
    return parser.parse_args()


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    """`livecheck serve` on 127.0.0.1:`port` with the bench's API key, its queue as deep as the most clients."""
    env = {
        **os.environ,
        "LIVECHECK_API_KEYS": KEY,
        "LIVECHECK_SERVER__WORKERS": str(workers),
        "LIVECHECK_SERVER__QUEUE": str(max(LEVELS)),
        "GLOG_minloglevel": "2",
    }
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/livecheck"), "serve", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> bool:
    """Polls /readyz for up to 60 s; False when the server exits or never becomes ready."""
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        if time.time() > deadline or server.poll() is not None:
            return False
        time.sleep(0.3)


def main() -> int:
    args = parse_args()

    from scoring.engine import LivenessEngine
    from scoring.settings import EngineSettings

    payloads = clips()
    port = free_port()
    server = start_server(port, args.workers)
    engine = LivenessEngine.load(EngineSettings(), None, landmarkers=max(LEVELS))
    try:
        base = f"http://127.0.0.1:{port}"
        if not wait_ready(base, server):
            print("server did not start", file=sys.stderr)
            return 1
        http = httpx.Client(
            base_url=base,
            timeout=120,
            limits=httpx.Limits(max_connections=max(LEVELS)),
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "video/mp4"},
        )

        def via_http(data: bytes) -> None:
            r = http.post("/v1/video-liveness", content=data)
            assert r.status_code == 200, (r.status_code, r.text)

        def direct(data: bytes) -> None:
            engine.analyze_video(data)

        for call in (direct, via_http):  # warm-up
            call(payloads[0])
        print(
            f"clips: {len(payloads)} x 3 s 480x480 H.264; {args.requests} requests per level; server workers={args.workers}; "
            f"cpus={os.cpu_count()}"
        )
        print_summary(run_levels(direct, via_http, payloads, args.requests))
        http.close()
    finally:
        server.terminate()
        server.wait(10)
        engine.close()
    return 0


def run_levels(
    direct: Callable[[bytes], None], via_http: Callable[[bytes], None], payloads: list[bytes], requests: int
) -> dict[tuple[str, int], tuple[float, float, float]]:
    """Each concurrency level, the engine direct then over HTTP, one row each; returns (rps, p50, p95) by
    (mode, clients)."""
    print(f"{'clients':>7} {'mode':>6} {'rps':>6} {'p50 ms':>8} {'p95 ms':>8}")
    results: dict[tuple[str, int], tuple[float, float, float]] = {}
    for clients in LEVELS:
        for name, call in (("direct", direct), ("http", via_http)):
            rps, lat = run_level(call, payloads, clients, requests)
            results[(name, clients)] = (rps, pct(lat, 0.5), pct(lat, 0.95))
            print(f"{clients:>7} {name:>6} {rps:6.2f} {pct(lat, 0.5) * 1000:8.0f} {pct(lat, 0.95) * 1000:8.0f}")
    return results


def print_summary(results: dict[tuple[str, int], tuple[float, float, float]]) -> None:
    """The figures the targets are stated in: HTTP's overhead at 1 client and throughput from 1 to 4 clients."""
    overhead = results[("http", 1)][1] / results[("direct", 1)][1] - 1
    scale_http = results[("http", 4)][0] / results[("http", 1)][0]
    scale_direct = results[("direct", 4)][0] / results[("direct", 1)][0]
    print(f"HTTP overhead at 1 client (p50): {overhead * 100:+.1f}%  (target <= +15%)")
    print(
        "HTTP/direct throughput ratio: "
        + ", ".join(f"{c}c {results[('http', c)][0] / results[('direct', c)][0]:.2f}" for c in LEVELS)
    )
    print(f"4-client vs 1-client throughput: http {scale_http:.2f}x, direct {scale_direct:.2f}x  (target >= 1.6x)")


if __name__ == "__main__":
    sys.exit(main())
