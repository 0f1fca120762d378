"""Admission control (issue 22): a node starts a live check only while it holds every running one at the
guaranteed rate; past that an offer is refused 503 `busy` with Retry-After, /readyz and /metrics show the
headroom, and the running check keeps its analyzed rate.

Saturation is forced deterministically: one frame worker and a pinned frame cost (`admit-frame-ms`) make the
node's capacity exactly one check, whatever the machine's load. Real WebRTC on loopback, through the HTTP API.
Run inside a loopback-only namespace (see Makefile `test`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime.capacity import Admission, CheckRate, FrameMeter
from realtime.client import FramesTrack, LiveClient, read_clip
from tests.support.api_support import CheckedClient
from webapp.app import create_app
from webapp.config import load_config
from webapp.sessions import registry

KEY = "capacity-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
GUARANTEED_FPS = 10.0


class Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any], retry_after: str | None) -> None:
        super().__init__(f"{status} {body}")
        self.status, self.body, self.retry_after = status, body, retry_after


@pytest.fixture(scope="module")
def d12(media: Path) -> tuple[list[np.ndarray], float]:
    return read_clip(str(media / "videos" / "d12.mp4"))


@pytest.fixture
async def client(engine):
    config = load_config(None, {}, api_keys=KEY)
    # 1 worker, 0.8 of it at 10 fps x 60 ms a frame = 0.6 per check: exactly one check fits.
    realtime = replace(
        config.realtime,
        ice_host_addresses=("127.0.0.1",),
        action_timeout_s=6.0,
        frame_workers=1,
        admit_frame_ms=60.0,
        admit_utilisation=0.8,
        guaranteed_fps=GUARANTEED_FPS,
    )
    app = create_app(replace(config, realtime=realtime), engine=engine)
    async with app.test_app() as test_app:
        checked = CheckedClient(app)
        checked.client = test_app.test_client()
        checked.app = app
        yield checked


async def create(client: CheckedClient) -> dict[str, Any]:
    response = await client.post("/v1/sessions", json={"actions": ["nod"]}, headers=AUTH)  # d12 never nods
    assert response.status_code == 201, await response.get_json()
    return await response.get_json()  # type: ignore[no-any-return]


def poster(client: CheckedClient, body: dict[str, Any]) -> Any:
    """The SDP exchange of a real aiortc client through POST /v1/sessions/{id}/offer; a refusal raises Refused."""

    async def post(sdp: str) -> dict[str, str]:
        response = await client.post(
            f"/v1/sessions/{body['session_id']}/offer",
            json={"sdp": sdp, "type": "offer"},
            headers={"Authorization": f"Bearer {body['client_token']}"},
        )
        if response.status_code != 200:
            raise Refused(response.status_code, await response.get_json(), response.headers.get("Retry-After"))
        return await response.get_json()  # type: ignore[no-any-return]

    return post


async def settle(client: CheckedClient, timeout: float = 15.0) -> None:
    reg = registry(client.app)
    for _ in range(int(timeout / 0.05)):
        if reg.counts()["peers"] == 0 and reg.counts()["live"] == 0:
            return
        await asyncio.sleep(0.05)


async def test_a_saturated_node_refuses_busy_and_its_running_check_keeps_its_rate(client, d12):
    frames, fps = d12
    reg = registry(client.app)
    ready = await (await client.get("/readyz")).get_json()
    assert ready["live"]["capacity"] == 1 and ready["live"]["headroom"] == 1 and ready["live"]["running"] == 0
    # the one check this node holds
    first = await create(client)
    running = LiveClient(FramesTrack(frames, fps, lead_s=1.0))
    try:
        await running.connect(poster(client, first))
        await asyncio.wait_for(running.prompted.wait(), 20)  # positioned: its frames are being analyzed
        ready = await (await client.get("/readyz")).get_json()
        assert (await client.get("/readyz")).status_code == 200  # full for live checks, still ready for the rest
        assert ready["live"]["headroom"] == 0 and ready["live"]["running"] == 1, ready
        metrics = await (await client.get("/metrics")).get_data(as_text=True)
        assert "livecheck_live_headroom 0.0" in metrics and "livecheck_live_capacity 1.0" in metrics
        # a newcomer is refused before it costs anything: no peer, no landmarker, its session still startable
        second = await create(client)
        newcomer = LiveClient(FramesTrack(frames, fps))
        with pytest.raises(Refused) as refused:
            await newcomer.connect(poster(client, second))
        await newcomer.close()
        assert refused.value.status == 503 and refused.value.body["error"]["code"] == "busy"
        assert refused.value.retry_after is not None and int(refused.value.retry_after) >= 1
        assert reg.counts() == {"live": 1, "peers": 1, "landmarkers": 1}
        status = await client.get(f"/v1/sessions/{second['session_id']}", headers=AUTH)
        assert (await status.get_json())["status"] == "CREATED"
        live = reg.pipeline_stats(first["session_id"])
        assert live is not None and live.first_analysis_at is not None
        refused_at, analyzed_before = time.monotonic(), live.frames_analyzed
        run = await running.wait_result(40)
    finally:
        await running.close()
    await settle(client)
    assert run.status is not None
    stats = reg.pipeline_stats(first["session_id"])
    assert stats is not None and stats.last_analysis_at is not None and live.first_analysis_at is not None
    # it kept its analyzed rate beside the refused newcomer: after the refusal as before it (relative, so a loaded
    # machine does not fail it; bench/live_bench.py prints the absolute rates)
    before = (analyzed_before - 1) / (refused_at - live.first_analysis_at)
    after = (stats.frames_analyzed - analyzed_before) / (stats.last_analysis_at - refused_at)
    assert stats.frames_analyzed - analyzed_before > 10 and after >= 0.8 * before, (before, after)
    # the place is free again: the refused session starts when retried
    ready = await (await client.get("/readyz")).get_json()
    assert ready["live"]["headroom"] == 1
    retried = LiveClient(FramesTrack(frames, fps))
    try:
        await retried.connect(poster(client, second))
        assert reg.counts()["live"] == 1
    finally:
        await retried.close()
    await settle(client)


def test_the_measured_frame_cost_sets_the_capacity_and_a_check_behind_closes_the_node() -> None:
    cpu, now, busy = [0.0], [0.0], [0.0]
    meter = FrameMeter(cpu_clock=lambda: cpu[0], clock=lambda: now[0])
    admission = Admission(meter, workers=2, guaranteed_fps=10.0, utilisation=0.8)

    def frames(count: int, seconds: float) -> None:
        for _ in range(count):
            meter.add(seconds)
            busy[0] += seconds

    frames(200, 0.020)  # 20 ms a frame: 10 fps takes 0.1 of the 2 workers
    assert admission.headroom(0, []).capacity == 8
    frames(800, 0.040)  # the node got slower (contention): it holds fewer
    assert admission.headroom(0, []).capacity == 4
    # four checks spent 0.4 CPU-s/s outside the frame workers: 0.1 each, 0.05 of the node beside 0.2 in frames
    now[0] = 5.0
    cpu[0] = busy[0] + 0.4 * 5.0
    room = admission.headroom(4, [CheckRate(5.0, 10.0)] * 4)
    assert room.capacity == 3 and room.free == 0, room  # floor(0.8 / 0.25)
    # one running check below the guaranteed rate: nobody is admitted, whatever the capacity says
    room = admission.headroom(1, [CheckRate(5.0, 10.0), CheckRate(5.0, 7.0)])
    assert room.behind == 1 and room.free == 0
    assert admission.headroom(1, [CheckRate(1.0, 3.0)]).free > 0  # a check still starting is not judged yet
    # a camera that delivers 7 fps sets that check's own target: the node is not behind for it
    assert admission.headroom(1, [CheckRate(5.0, 7.0, 7.0)]).behind == 0
    assert admission.headroom(1, [CheckRate(5.0, 5.0, 7.0)]).behind == 1
    # Retry-After: a typical check's length less the age of the oldest running one, within 1..30 s
    admission.ended(12.0)
    assert admission.retry_after_s(4.0) == 8 and admission.retry_after_s(40.0) == 1
