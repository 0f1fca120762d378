"""/metrics on prometheus_client: closed label sets (a method a client invents is `other`, never a series of its
own: issue 19 finding 5), the multi-process mode `serve --processes N` uses, and the recording fallback's
verdicts counted like every other API's (issue 24)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from http import HTTPMethod
from pathlib import Path
from typing import Any

import pytest

from evaluation.local_server import ServeProcess, http_status
from tests.support.api_support import KEY, make_app, metric_samples, series
from tests.support.paths import ROOT
from tests.support.session_support import FallbackClient, ShiftedClock
from webapp.metrics import OTHER_METHOD, Metrics, method_label
from webapp.services import RECORDING_ENDPOINT
from webapp.sessions import registry


@pytest.mark.unit
def test_only_standard_methods_are_labels() -> None:
    assert all(method_label(m.value) == m.value for m in HTTPMethod)
    for invented in ("FOO", "get", "X" * 15_000, "GET ", "PROPFIND", ""):
        assert method_label(invented) == OTHER_METHOD


@pytest.mark.unit
def test_invented_methods_add_no_series() -> None:
    metrics = Metrics(multiprocess_dir="")
    for n in range(200):
        metrics.request("unmatched", f"M{n}" * 50, 405, 0.001)
    metrics.request("unmatched", "GET", 404, 0.001)
    samples = metric_samples(metrics.render())
    requests = {key: value for key, value in samples.items() if key[0] == "livecheck_requests_total"}
    assert requests == {
        series("livecheck_requests_total", endpoint="unmatched", method="other", status="405"): 200,
        series("livecheck_requests_total", endpoint="unmatched", method="GET", status="404"): 1,
    }
    assert len(metrics.render()) < 10_000


_COUNT = """
import sys
from webapp.metrics import Metrics
metrics = Metrics()
for _ in range(int(sys.argv[1])):
    metrics.request("/healthz", "GET", 200, 0.002)
metrics.verdict("native", True, {"antispoof": 5.0})
if sys.argv[2] == "render":
    sys.stdout.write(metrics.render({"livecheck_workers": 2}))
"""


@pytest.mark.unit
def test_multiprocess_directory_sums_every_process() -> None:
    """Three processes count into one PROMETHEUS_MULTIPROC_DIR (as `serve --processes N`'s children do); the one
    that renders shows the sums, its own scrape-time gauges beside them."""
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}

        def run(count: int, mode: str) -> str:
            done = subprocess.run(
                [sys.executable, "-c", _COUNT, str(count), mode], env=env, cwd=ROOT, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        run(3, "count")
        run(4, "count")
        samples = metric_samples(run(5, "render"))
    assert samples[series("livecheck_requests_total", endpoint="/healthz", method="GET", status="200")] == 12
    assert samples[series("livecheck_request_seconds_count", endpoint="/healthz")] == 12
    assert samples[series("livecheck_verdicts_total", endpoint="native", alive="true")] == 3
    assert samples[series("livecheck_workers")] == 2


async def test_the_app_labels_a_strangers_method_other(engine) -> None:
    app = make_app(engine)
    async with app.test_app():
        client = app.test_client()
        for method in ("BREW", "X" * 2000, "SEARCH"):
            await client.open("/healthz", method=method)
        await client.get("/healthz")
        text = await (await client.get("/metrics")).get_data(as_text=True)
    methods = {dict(labels)["method"] for name, labels in metric_samples(text) if name == "livecheck_requests_total"}
    assert methods == {"GET", OTHER_METHOD}
    assert "BREW" not in text and "SEARCH" not in text


class _Counted:
    """A session app's /metrics read before and after something: what it added to each series."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.before: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}

    async def scrape(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        return metric_samples(await (await self.client.get("/metrics")).get_data(as_text=True))

    async def start(self) -> None:
        self.before = await self.scrape()

    async def added(self) -> dict[str, float]:
        """alive -> verdicts added under the recording endpoint; `antispoof` -> model runs timed."""
        after = await self.scrape()

        def delta(key: tuple[str, frozenset[tuple[str, str]]]) -> float:
            return after.get(key, 0) - self.before.get(key, 0)

        verdicts = {
            alive: delta(series("livecheck_verdicts_total", endpoint=RECORDING_ENDPOINT, alive=alive))
            for alive in ("true", "false")
        }
        return {**verdicts, "antispoof": delta(series("livecheck_inference_seconds_count", model="antispoof"))}


@pytest.fixture
async def sessions(engine):  # type: ignore[no-untyped-def]
    app = make_app(engine)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        clock = ShiftedClock()
        registry(app).clock = clock
        yield client, clock


async def _fallback(client: Any, clock: ShiftedClock) -> FallbackClient:
    auth = {"Authorization": f"Bearer {KEY}"}
    response = await client.post("/v1/sessions", json={"action_count": 0, "recording_fallback": True}, headers=auth)
    assert response.status_code == 201, await response.get_json()
    return FallbackClient(client, await response.get_json(), clock)


async def test_recording_verdicts_are_counted_as_decided(
    sessions: tuple[Any, ShiftedClock], media_bytes: Callable[[str], bytes]
) -> None:
    """The recording fallback's upload counts one verdict per decided session under endpoint `recording`, with
    the stored outcome: the live clip uploaded after the stop time passes (alive=true); the same clip uploaded at
    once does not fit the session's timeline and is FAILED (alive=false) although the clip alone looks live."""
    client, clock = sessions
    clip = media_bytes("videos/d12.mp4")
    counted = _Counted(client)

    fallback = await _fallback(client, clock)
    await fallback.follow()
    clock.advance(1.0)
    await counted.start()
    done = await fallback.upload(clip)
    assert (await done.get_json())["status"] == "SUCCEEDED"
    assert await counted.added() == {"true": 1, "false": 0, "antispoof": 1}

    await counted.start()
    again = await fallback.upload(clip)  # the session runs once: refused, nothing judged, nothing counted
    assert again.status_code == 409
    assert await counted.added() == {"true": 0, "false": 0, "antispoof": 0}

    early = await _fallback(client, clock)
    await early.start()
    await counted.start()
    failed = await early.upload(clip)
    assert (await failed.get_json())["status"] == "FAILED"
    assert await counted.added() == {"true": 0, "false": 1, "antispoof": 1}


async def test_a_refused_recording_counts_no_verdict(sessions: tuple[Any, ShiftedClock]) -> None:
    """An empty upload fails the session without a judgement: no verdict (as a refused still on /v1/analyze)."""
    client, clock = sessions
    fallback = await _fallback(client, clock)
    await fallback.follow()
    counted = _Counted(client)
    await counted.start()
    refused = await fallback.upload(b"")
    assert refused.status_code == 400 and (await refused.get_json())["error"]["code"] == "empty_recording"
    assert await counted.added() == {"true": 0, "false": 0, "antispoof": 0}


def test_serve_processes_counts_every_process(tmp_path: Path, models_dir: Path) -> None:
    """`serve --processes 2`: whichever process answers a scrape, it counts the requests both answered."""
    server = ServeProcess.start(
        tmp_path / "serve.log",
        env={"LIVECHECK_MODELS": str(models_dir), "XDG_DATA_HOME": str(tmp_path)},
        args=["--processes", "2"],
        new_session=True,
    )
    try:
        server.wait_ready()  # one process answers; the other may still be loading its models
        nodes = _nodes_answering(server.port, 2)
        before = metric_samples(_scrape(server.port))
        key = series("livecheck_requests_total", endpoint="/healthz", method="GET", status="200")
        for _ in range(40):  # new connections: the kernel spreads them over both processes
            assert http_status(server.port, "/healthz") == 200
        counts = {metric_samples(_scrape(server.port)).get(key, 0) - before.get(key, 0) for _ in range(6)}
    finally:
        assert server.stop() == 0, server.tail()
    assert len(nodes) == 2, nodes  # both processes answer (else one process's own count would pass too)
    assert counts == {40}, counts


def _nodes_answering(port: int, wanted: int, timeout_s: float = 120.0) -> set[object]:
    """The nodes seen answering /readyz, polled until `wanted` have answered or the time runs out."""
    nodes: set[object] = set()
    deadline = time.monotonic() + timeout_s
    while len(nodes) < wanted and time.monotonic() < deadline:
        nodes.add(_get(port, "/readyz")["node"])
        time.sleep(0.02)
    return nodes


def _get(port: int, path: str) -> dict[str, object]:
    return json.loads(_scrape(port, path))


def _scrape(port: int, path: str = "/metrics") -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()
