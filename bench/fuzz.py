"""Mutation fuzzing of every API against a real `livecheck serve` on 127.0.0.1, longer than CI's sample
(tests/test_fuzz.py, 300 requests). Prints the requests sent, the statuses, the 5xx (503 with Retry-After is
counted apart: the bounded waits at work), requests without an answer, the slowest answer and the server's peak
memory growth (VmHWM over the RSS before the run). Exit status 1 when a 5xx or a hang was seen.

Usage: .venv/bin/python bench/fuzz.py [--requests 2000] [--seed 1] [--timeout 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("GLOG_minloglevel", "2")

from fuzzing import RequestMaker, Seeds, run_fuzz  # noqa: E402
from serverproc import Server  # noqa: E402

MEDIA = Path(os.environ.get("LIVECHECK_MEDIA") or ROOT.parent / "shared" / "media")
KEY = "bench-fuzz-key"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds without an answer that count as a hang")
    parser.add_argument("--sessions", type=int, default=20, help="live sessions created for offers and recordings")
    args = parser.parse_args()
    seeds = Seeds.build((MEDIA / "videos" / "d0.mp4").read_bytes(), (MEDIA / "images" / "image_F1.jpg").read_bytes())
    with tempfile.TemporaryDirectory() as workdir:
        (Path(workdir) / "pic.jpg").write_bytes((MEDIA / "images" / "image_F1.jpg").read_bytes())
        server = Server({"LIVECHECK_API_KEYS": KEY}, cwd=Path(workdir))
        try:
            server.wait_ready()
            sessions = []
            for _ in range(args.sessions):
                reply = server.request(
                    "POST",
                    "/v1/sessions",
                    json.dumps({"recording_fallback": True}).encode(),
                    {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
                )
                if reply.status == 201:
                    created = json.loads(reply.body)
                    sessions.append((created["session_id"], created["client_token"]))
            maker = RequestMaker(seeds, KEY, args.seed, sessions=sessions)
            report = run_fuzz(server, maker, args.requests, timeout_s=args.timeout, log=lambda m: print(m, flush=True))
            tracebacks = server.log().count("Traceback")
        finally:
            server.stop()
    print(report.summary())
    print(f"tracebacks in the server log: {tracebacks}")
    for label, status, body in report.server_errors[:10]:
        print(f"  {status} from {label}: {body[:200]!r}")
    for label, error in report.no_answer[:10]:
        print(f"  no answer from {label}: {error}")
    return 1 if report.server_errors or report.no_answer or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
