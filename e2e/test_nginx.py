"""One e2e run through nginx in front of two `livecheck serve` nodes sharing Redis (Debian's nginx and
redis-server on loopback ports): Chromium runs the widget with d12 as its camera; the page, its assets and the
SDP offer are spread over both nodes by nginx, the media goes straight to the node that answered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.y4m import Y4mInfo
from tests.support.servers import NGINX, REDIS_SERVER, Nginx, Node, Redis, start_node, stop

KEY = "nginx-e2e-key"
D12_ACTIONS = ["turn_left", "turn_right", "open_mouth"]  # what d12.mp4 does, in order (MEDIA.md)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Nginx, Node, Node]]:
    if REDIS_SERVER is None or NGINX is None:
        pytest.skip("redis-server and nginx are needed (make test installs them)")
    workdir = tmp_path_factory.mktemp("nginx-cluster")
    redis = Redis.start(workdir)
    nodes: list[Node] = []
    nginx = None
    try:
        nodes = [start_node(workdir, name, redis.url, KEY) for name in ("a", "b")]
        nginx = Nginx.start(workdir / "nginx", [n.base.removeprefix("http://") for n in nodes])
        yield nginx, nodes[0], nodes[1]
    finally:
        if nginx is not None:
            nginx.stop()
        for node in nodes:
            stop(node.process)
        redis.stop()


def poll(page: Any, expression: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def test_d12_through_nginx_in_front_of_two_nodes(cluster, cameras: dict[str, Y4mInfo], launch: Any, artifacts: Path):
    nginx, a, b = cluster
    with httpx.Client(base_url=nginx.base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as api:
        created = api.post("/v1/sessions", json={"actions": D12_ACTIONS})
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["widget_url"].startswith(nginx.base)  # the link points at the load balancer
    page = launch(cameras["d12"])
    page.goto(session["widget_url"])
    page.locator("#lc-camera").click()
    page.locator("#lc-start:not([disabled])").wait_for(timeout=20_000)
    page.locator("#lc-start").click()
    page.wait_for_selector("#livecheck[data-phase='challenge'] #lc-cue:not([hidden])", timeout=40_000)
    page.wait_for_selector("#livecheck[data-screen='result']", timeout=60_000)
    page.screenshot(path=str(artifacts / "nginx-result.png"))
    views = [node.wait_status(session["session_id"], ("SUCCEEDED", "FAILED")) for node in (a, b)]
    result = views[0]["result"]
    assert page.locator("#livecheck").get_attribute("data-result") == "passed", (result["reasons"], result["actions"])
    assert views[0]["status"] == "SUCCEEDED" and views[0]["result"] == views[1]["result"]
    assert [x["action"] for x in views[0]["result"]["actions"]] == D12_ACTIONS
    # nginx spread this session's requests over both nodes
    assert nginx.upstreams_used() == {a.base.removeprefix("http://"), b.base.removeprefix("http://")}
