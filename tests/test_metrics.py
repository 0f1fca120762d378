"""/metrics on prometheus_client: closed label sets (a method a client invents is `other`, never a series of its
own: issue 19 finding 5) and the multi-process mode `serve --processes N` uses."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
from http import HTTPMethod
from pathlib import Path

import pytest

from api_support import make_app, metric_samples, series
from evaluation.local_server import ServeProcess, http_status
from webapp.metrics import OTHER_METHOD, Metrics, method_label

ROOT = Path(__file__).resolve().parents[1]


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


def test_serve_processes_counts_every_process(tmp_path: Path, models_dir: Path) -> None:
    """`serve --processes 2`: whichever process answers a scrape, it counts the requests both answered."""
    server = ServeProcess.start(
        tmp_path / "serve.log",
        env={"LIVECHECK_MODELS": str(models_dir), "XDG_DATA_HOME": str(tmp_path)},
        args=["--processes", "2"],
        new_session=True,
    )
    try:
        server.wait_ready()
        before = metric_samples(_scrape(server.port))
        key = series("livecheck_requests_total", endpoint="/healthz", method="GET", status="200")
        for _ in range(40):  # new connections: the kernel spreads them over both processes
            assert http_status(server.port, "/healthz") == 200
        counts = {metric_samples(_scrape(server.port)).get(key, 0) - before.get(key, 0) for _ in range(6)}
        nodes = {_get(server.port, "/readyz")["node"] for _ in range(30)}
    finally:
        assert server.stop() == 0, server.tail()
    assert len(nodes) == 2, nodes  # both processes answer (else one process's own count would pass too)
    assert counts == {40}, counts


def _get(port: int, path: str) -> dict[str, object]:
    return json.loads(_scrape(port, path))


def _scrape(port: int, path: str = "/metrics") -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()
