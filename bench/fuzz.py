"""Mutation fuzzing of every API against a real `livecheck serve` on 127.0.0.1, longer than CI's sample
(tests/security/test_fuzz.py, 300 requests). Prints the requests sent, the statuses, the 5xx (503 with Retry-After is
counted apart: the bounded waits at work), requests without an answer, the slowest answer and the server's peak
memory growth (VmHWM over the RSS before the run). Exit status 1 when a 5xx or a hang was seen.

Then (issue 19, finding 2) the /healthz phase: attackers without a valid credential send junk as fast as they can
(structure bombs, 16 MiB and deep JSON, long strings, slow bodies trickled a few bytes at a time) to the keyless
routes (a session's offer, fallback and recording; the demo) and the keyed ones (without a key or with a wrong
one), while /healthz is asked every 50 ms: its p50/p99/max latency and the junk's statuses are printed (before the
fix one 16 MiB offer held /healthz 4.7 s). Exit status 1 when a junk request got a 5xx.

Usage: .venv/bin/python -m bench.fuzz [--requests 2000] [--seed 1] [--timeout 10] [--healthz-seconds 30]
       [--attackers 4] [--slow-bodies 4]   (--requests 0 runs the /healthz phase only; --healthz-seconds 0 skips it)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")

from tests.support.fuzzing import (  # noqa: E402
    RequestMaker,
    Seeds,
    long_string_json,
    nested_json,
    nested_object,
    run_fuzz,
    structure_bomb,
)
from tests.support.serverproc import Server  # noqa: E402

MEDIA = Path(os.environ.get("LIVECHECK_MEDIA") or ROOT.parent / "shared" / "media")
KEY = "bench-fuzz-key"
WRONG = {"Authorization": "Bearer " + "z" * 43}  # a wrong key or client token: refused before the body is read
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Junk:
    label: str
    path: str
    body: bytes
    headers: dict[str, str]


def junk_requests(session_id: str) -> list[Junk]:
    """What an attacker without a credential sends to stall the server: every keyless route and every keyed one
    (no key, a wrong key), each with the body shapes that cost a parser or a reader the most."""
    bomb, deep, deep_object = structure_bomb(), nested_json(100_000), nested_object(50_000)
    huge = b'{"sdp": "' + b"v" * (16 * 1024 * 1024 - 64) + b'"}'  # the server-wide 16 MiB cap, one string
    text = long_string_json()
    offer = f"/v1/sessions/{session_id}/offer"
    keyless = [
        Junk("offer structure bomb", offer, bomb, JSON),
        Junk("offer 16 MiB", "/v1/sessions/nosuch/offer", huge, JSON),
        Junk("offer deep array", offer, deep, JSON),
        Junk("offer deep object, wrong token", offer, deep_object, {**JSON, **WRONG}),
        Junk("offer 2 MB string, wrong token", offer, text, {**JSON, **WRONG}),
        Junk("fallback junk, wrong token", f"/v1/sessions/{session_id}/fallback", bomb, {**JSON, **WRONG}),
        Junk("recording 16 MiB, wrong token", f"/v1/sessions/{session_id}/recording", huge, WRONG),
        Junk("demo structure bomb", "/demo/sessions", bomb, JSON),
    ]
    keyed = []
    for path in ("/liveness", "/v1/sessions", "/v2/proj/live-detect", "/v1/analyze", "/v1/video-liveness"):
        keyed += [
            Junk(f"{path} structure bomb", path, bomb, JSON),
            Junk(f"{path} 16 MiB, wrong key", path, huge, {**JSON, **WRONG}),
            Junk(f"{path} deep array", path, deep, JSON),
            Junk(f"{path} 2 MB string", path, text, JSON),
        ]
    return keyless + keyed


def slow_body(port: int, junk: Junk, until: float, chunk: bytes = b"1," * 8, every_s: float = 0.25) -> tuple[int, bool]:
    """Declares a 1 MiB body and trickles it `chunk` every `every_s` until `until` (or the server answers): the
    status the server answered with (0 when it was still reading when the attacker gave up), and whether the
    answer carried Retry-After."""
    length = 1024 * 1024
    head = f"POST {junk.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {length}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in junk.headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode() + b"[")
        sock.settimeout(every_s)
        sent = 1
        while time.monotonic() < until and sent < length:
            try:
                data = sock.recv(4096)
            except TimeoutError:
                data = None
            except OSError:
                return 0, False
            if data is not None:  # an answer (or a close) before the body was all sent
                if not data.startswith(b"HTTP/1.1 "):
                    return 0, False
                return int(data.split(b" ", 2)[1]), b"\r\nretry-after:" in data.lower()
            try:
                sock.sendall(chunk)
            except OSError:
                return 0, False
            sent += len(chunk)
    return 0, False


@dataclass
class HealthzReport:
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (label, status) of the junk
    junk_sent: int = 0
    busy_without_retry_after: int = 0  # 503 is the bounded reads at work (Facia's hash_id-later bodies) only with it

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    def server_errors(self) -> dict[tuple[str, int], int]:
        """5xx but 503 busy (which must carry Retry-After: counted apart)."""
        return {k: n for k, n in self.statuses.items() if k[1] >= 500 and k[1] != 503}

    def summary(self, seconds: float, attackers: int, slow: int) -> str:
        ms = [s * 1000 for s in self.latencies_s]
        by_status: Counter[int] = Counter()
        for (_, status), n in self.statuses.items():
            by_status[status] += n
        return (
            f"/healthz under junk ({attackers} attackers as fast as they can + {slow} slow bodies, {seconds:.0f} s, "
            f"{self.junk_sent} junk requests): n={len(ms)} p50={statistics.median(ms):.1f} ms "
            f"p99={self.percentile(0.99) * 1000:.1f} ms max={max(ms):.1f} ms\n"
            f"junk statuses: {dict(sorted(by_status.items()))} (0: still being read when the slow attacker stopped; "
            f"503 without Retry-After: {self.busy_without_retry_after})\n"
            f"read on without a credential: {sorted({label for label, status in self.statuses if status == 0}) or 'none'}"
        )


def healthz_under_junk(
    server: Server, junk: Sequence[Junk], seconds: float, attackers: int, slow_bodies: int
) -> HealthzReport:
    """/healthz asked every 50 ms while `attackers` threads send `junk` back to back and `slow_bodies` threads
    trickle bodies to the same routes."""
    report = HealthzReport()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def record(label: str, status: int, retry_after: bool) -> None:
        with lock:
            report.statuses[(label, status)] += 1
            report.junk_sent += 1
            report.busy_without_retry_after += status == 503 and not retry_after

    def attacker(index: int) -> None:
        n = index
        while time.monotonic() < stop:
            item = junk[n % len(junk)]
            n += attackers
            reply = server.request("POST", item.path, item.body, item.headers, timeout=30)
            record(item.label, reply.status, "retry-after" in reply.headers)

    def slow(index: int) -> None:
        n = index
        while time.monotonic() < stop:
            item = junk[n % len(junk)]
            n += slow_bodies
            record("slow " + item.label, *slow_body(server.port, item, min(stop, time.monotonic() + 5)))

    with ThreadPoolExecutor(attackers + slow_bodies) as pool:
        futures = [pool.submit(attacker, i) for i in range(attackers)]
        futures += [pool.submit(slow, i) for i in range(slow_bodies)]
        time.sleep(0.5)
        while time.monotonic() < stop:
            report.latencies_s.append(server.request("GET", "/healthz", timeout=30).seconds)
            time.sleep(0.05)
        for future in futures:
            future.result()
    return report


def create_sessions(server: Server, count: int) -> list[tuple[str, str]]:
    sessions = []
    for _ in range(count):
        reply = server.request(
            "POST",
            "/v1/sessions",
            json.dumps({"recording_fallback": True}).encode(),
            {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        if reply.status == 201:
            created = json.loads(reply.body)
            sessions.append((created["session_id"], created["client_token"]))
    return sessions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds without an answer that count as a hang")
    parser.add_argument("--sessions", type=int, default=20, help="live sessions created for offers and recordings")
    parser.add_argument("--healthz-seconds", type=float, default=30.0, help="length of the /healthz phase (0: none)")
    parser.add_argument("--attackers", type=int, default=4, help="junk senders of the /healthz phase")
    parser.add_argument("--slow-bodies", type=int, default=4, help="slow-body senders of the /healthz phase")
    args = parser.parse_args()
    seeds = Seeds.build((MEDIA / "videos" / "d0.mp4").read_bytes(), (MEDIA / "images" / "image_F1.jpg").read_bytes())
    report = health = None
    with tempfile.TemporaryDirectory() as workdir:
        (Path(workdir) / "pic.jpg").write_bytes((MEDIA / "images" / "image_F1.jpg").read_bytes())
        server = Server({"LIVECHECK_API_KEYS": KEY}, cwd=Path(workdir))
        try:
            server.wait_ready()
            sessions = create_sessions(server, args.sessions)
            if args.requests > 0:
                maker = RequestMaker(seeds, KEY, args.seed, sessions=sessions)
                report = run_fuzz(
                    server, maker, args.requests, timeout_s=args.timeout, log=lambda m: print(m, flush=True)
                )
            if args.healthz_seconds > 0:
                fresh = create_sessions(server, 1) or [("0" * 32, "")]
                junk = junk_requests(fresh[0][0])
                health = healthz_under_junk(server, junk, args.healthz_seconds, args.attackers, args.slow_bodies)
            tracebacks = server.log().count("Traceback")
        finally:
            server.stop()
    failed = bool(tracebacks)
    if report is not None:
        print(report.summary())
        for label, status, body in report.server_errors[:10]:
            print(f"  {status} from {label}: {body[:200]!r}")
        for label, error in report.no_answer[:10]:
            print(f"  no answer from {label}: {error}")
        failed |= bool(report.server_errors or report.no_answer)
    if health is not None:
        print(health.summary(args.healthz_seconds, args.attackers, args.slow_bodies))
        for (label, status), n in sorted(health.server_errors().items()):
            print(f"  {status} x {n} from {label}")
        failed |= bool(health.server_errors() or health.busy_without_retry_after)
    print(f"tracebacks in the server log: {tracebacks}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
