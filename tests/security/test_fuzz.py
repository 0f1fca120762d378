"""Seeded mutation fuzzing of every API against a real `livecheck serve` (CI sample: 300 requests).

Truncated, bit-flipped and header-spliced media, absurd sizes and durations, nested and invalid JSON, bad
multipart, bad base64 and bad SDP, with and without keys; and issue 19's routes and shapes: the fallback steps and
session reads, the demo under forged Hosts, video_url variants, stills uploaded as recordings, keyless 0.8 MB
structure bombs and long strings to the offer, Facia, Huawei and recording routes. Asserts: no 5xx (a 503 must carry Retry-After: the
bounded waits at work), every request answered within 10 s, and the server's peak memory (VmHWM) within bounds.
bench/fuzz.py runs the same fuzzer longer and prints the counts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fuzzing import RequestMaker, Seeds, run_fuzz
from tests.support.serverproc import Server

KEY = "fuzz-test-key"
REQUESTS = int(os.environ.get("LIVECHECK_FUZZ_REQUESTS", "300"))
SEED = int(os.environ.get("LIVECHECK_FUZZ_SEED", "10"))
HANG_S = 10.0
MAX_PEAK_GROWTH_MB = 400  # two workers decoding at most 1920x1080 frames, the models' working memory, allocator slack


@pytest.fixture(scope="module")
def server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory, media: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("fuzz-cwd")
    (workdir / "pic.jpg").write_bytes((media / "images" / "image_F1.jpg").read_bytes())  # what a playlist would name
    env = {
        "LIVECHECK_API_KEYS": KEY,
        "LIVECHECK_SERVER__WORKERS": "2",
        "LIVECHECK_SERVER__VIDEO_URL_PREFIXES": "http://127.0.0.1:9/ok/",  # nothing listens on port 9: fetch_failed
        "LIVECHECK_SERVER__VIDEO_URL_TIMEOUT_S": "2",
    }
    proc = Server(env, cwd=workdir, models_dir=models_dir)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_fuzzed_requests_get_no_5xx_no_hang_and_bounded_memory(server: Server, media: Path) -> None:
    seeds = Seeds.build((media / "videos" / "d0.mp4").read_bytes(), (media / "images" / "image_F1.jpg").read_bytes())
    sessions = []
    for _ in range(6):
        reply = server.request(
            "POST",
            "/v1/sessions",
            json.dumps({"recording_fallback": True}).encode(),
            {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        if reply.status != 201:  # an older session API without the fallback option
            reply = server.request(
                "POST", "/v1/sessions", b"{}", {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
            )
        assert reply.status == 201, reply.body
        created = json.loads(reply.body)
        sessions.append((created["session_id"], created["client_token"]))
    report = run_fuzz(server, RequestMaker(seeds, KEY, SEED, sessions=sessions), REQUESTS, timeout_s=HANG_S)
    print("\n" + report.summary())
    assert report.sent == REQUESTS
    assert not report.server_errors, report.server_errors[:5]
    assert report.busy_without_retry_after == 0
    assert not report.no_answer, report.no_answer[:5]
    assert report.slowest_s < HANG_S
    assert report.peak_growth_mb < MAX_PEAK_GROWTH_MB
    assert server.request("GET", "/healthz").status == 200
    assert "Traceback" not in server.log(), server.log()[-3000:]
