"""Facia-compatible POST /liveness and GET /status_check: exact bodies, hash_id keys, per-key rate limit."""

from __future__ import annotations

import base64
import os

import pytest

from tests.support.api_support import KEY, CheckedClient, make_app
from webapp.api_facia import CORRUPT_IMAGE, INVALID_CREDENTIALS, LIMIT_REACHED, MISSING_IMAGE


def uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize("name, live", [("image_T1.jpg", 1), ("image_F1.jpg", 0), ("image_F2.jpg", 0)])
async def test_live_selfie_and_attacks(client, media_bytes, name, live):
    r = await client.post("/liveness", json={"hash_id": KEY, "selfie_image": uri(media_bytes(f"images/{name}"))})
    assert r.status_code == 201
    body = await r.get_json()
    assert body["message"] == "Success" and body["liveness_result"]["is_live"] == live
    assert (body["liveness_result"]["liveness_score"] >= 0.6) == bool(live)


async def test_exact_error_bodies(client, media_bytes):
    cases = [
        ({"hash_id": KEY}, 400, MISSING_IMAGE),
        ({"hash_id": KEY, "selfie_image": ""}, 400, MISSING_IMAGE),
        ({"hash_id": KEY, "selfie_image": uri(os.urandom(3000))}, 400, CORRUPT_IMAGE),
        ({"hash_id": KEY, "selfie_image": "data:image/jpeg;base64,@@@"}, 400, CORRUPT_IMAGE),
        ({"hash_id": KEY, "selfie_image": uri(media_bytes("images/image_T1.jpg")[:2000])}, 400, CORRUPT_IMAGE),
        ({"hash_id": KEY, "selfie_image": uri(media_bytes("videos/d0.mp4"), "video/mp4")}, 400, CORRUPT_IMAGE),
        ({"hash_id": "wrong", "selfie_image": uri(media_bytes("images/image_T1.jpg"))}, 401, INVALID_CREDENTIALS),
        ({"selfie_image": uri(media_bytes("images/image_T1.jpg"))}, 401, INVALID_CREDENTIALS),
    ]
    for body, status, expected in cases:
        r = await client.post("/liveness", json=body)
        assert (r.status_code, await r.get_json()) == (status, expected), body.get("selfie_image", "")[:30]


async def test_request_limit_per_key(engine, media_bytes):
    client = CheckedClient(make_app(engine, facia_rate_limit_per_minute=2))
    selfie = {"hash_id": KEY, "selfie_image": uri(media_bytes("images/image_F1.jpg"))}
    statuses = [(await client.post("/liveness", json=selfie)).status_code for _ in range(2)]
    assert statuses == [201, 201]
    r = await client.post("/liveness", json=selfie)
    assert r.status_code == 429 and await r.get_json() == LIMIT_REACHED and r.headers["Retry-After"]


async def test_status_check(client):
    r = await client.get("/status_check")
    assert r.status_code == 200 and await r.get_data(as_text=True) == "Services is live"
