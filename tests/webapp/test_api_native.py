"""Native POST /v1/analyze, ops endpoints, X-Request-Id, and the bounded pool under 30 concurrent requests."""

from __future__ import annotations

import asyncio
import io

from quart.datastructures import FileStorage

from tests.support.api_support import AUTH, CheckedClient, make_app, metric_samples, series
from tests.support.mediagen import cut_clip


async def test_video_and_still_verdicts(client, media_bytes):
    r = await client.post(
        "/v1/analyze", data=media_bytes("videos/d0.mp4"), headers={**AUTH, "Content-Type": "video/mp4"}
    )
    body = await r.get_json()
    assert (
        r.status_code == 200 and body["kind"] == "video" and body["alive"] is True and body["frames"]["liveness"] >= 10
    )
    for name, alive in (("image_T1.jpg", True), ("image_F1.jpg", False)):
        r = await client.post(
            "/v1/analyze", data=media_bytes(f"images/{name}"), headers={**AUTH, "Content-Type": "image/jpeg"}
        )
        body = await r.get_json()
        assert body["kind"] == "image" and body["alive"] is alive
        assert alive or "low_liveness" in body["reasons"]


async def test_multipart_with_actions_and_reference(client, media_bytes):
    files = {
        "media": FileStorage(io.BytesIO(media_bytes("videos/d12.mp4")), "d12.mp4", content_type="video/mp4"),
        "reference": FileStorage(io.BytesIO(media_bytes("identity/obama.jpg")), "ref.jpg", content_type="image/jpeg"),
    }
    r = await client.post("/v1/analyze", form={"actions": "turn_left,turn_right"}, files=files, headers=AUTH)
    body = await r.get_json()
    assert r.status_code == 200 and [a["passed"] for a in body["actions"]] == [True, True]
    assert body["match"]["same_person"] is False


async def test_errors(client, media_bytes):
    r = await client.post(
        "/v1/analyze?actions=fly", data=media_bytes("videos/d0.mp4"), headers={**AUTH, "Content-Type": "video/mp4"}
    )
    assert r.status_code == 400 and (await r.get_json())["error"]["code"] == "invalid_actions"
    r = await client.post("/v1/analyze", data=b"hello", headers={**AUTH, "Content-Type": "text/plain"})
    assert r.status_code == 415 and (await r.get_json())["error"]["code"] == "unsupported_content_type"
    r = await client.post("/v1/analyze", data=b"x", headers={"Content-Type": "video/mp4"})
    assert r.status_code == 401 and (await r.get_json())["error"]["code"] == "unauthorized"


async def test_ops_endpoints_and_request_id(client):
    r = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert r.status_code == 200 and r.headers["X-Request-Id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-Id": "bad id\u00e9"})
    assert r.headers["X-Request-Id"] != "bad id\u00e9"
    r = await client.get("/readyz")
    assert r.status_code == 200 and (await r.get_json())["models"] is True
    spec = await (await client.get("/openapi.json")).get_json()
    assert {
        "/v1/video-liveness",
        "/v2/{project_id}/live-detect",
        "/liveness",
        "/status_check",
        "/identity/silent_image_verification/stateless",
        "/v1/analyze",
        "/metrics",
    } <= set(spec["paths"])


async def test_metrics_count_requests_verdicts_and_model_time(client, media_bytes):
    """One still analyzed adds one request, one verdict and one anti-spoof run (counted as differences: the app
    may have served other tests' requests before)."""
    before = metric_samples(await (await client.get("/metrics")).get_data(as_text=True))
    await client.post(
        "/v1/analyze", data=media_bytes("images/image_T1.jpg"), headers={**AUTH, "Content-Type": "image/jpeg"}
    )
    after = metric_samples(await (await client.get("/metrics")).get_data(as_text=True))

    def added(key: tuple[str, frozenset[tuple[str, str]]]) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert added(series("livecheck_requests_total", endpoint="/v1/analyze", method="POST", status="200")) == 1
    assert added(series("livecheck_verdicts_total", endpoint="native", alive="true")) == 1
    assert added(series("livecheck_inference_seconds_count", model="antispoof")) == 1
    assert added(series("livecheck_request_seconds_bucket", endpoint="/v1/analyze", le="+Inf")) == 1


async def test_30_concurrent_requests_against_2_workers_get_200_or_503(engine, media_bytes):
    app = make_app(engine, workers=2, queue=2)
    client = CheckedClient(app)
    clip = cut_clip(media_bytes("videos/d18.mp4"), 0.0, 2.2, size=(240, 240))
    headers = {**AUTH, "Content-Type": "video/mp4"}
    responses = await asyncio.wait_for(
        asyncio.gather(*(client.post("/v1/video-liveness", data=clip, headers=headers) for _ in range(30))), timeout=300
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 4 and statuses.count(503) >= 1  # 2 running + 2 queued admitted at once
    busy = next(r for r in responses if r.status_code == 503)
    assert int(busy.headers["Retry-After"]) >= 1
    assert all([(await r.get_json())["alive"] for r in responses if r.status_code == 200])
