"""Facia drop-in: the document's Python testing script's request, its "Demo Limit Reached" case (off on a
self-hosted server; when on, accepted requests only, with Retry-After), and valid photos over 16 MP."""

from __future__ import annotations

import base64
import mimetypes

import cv2
import numpy as np

from tests.support.api_support import KEY, CheckedClient, make_app
from tests.support.mediagen import jpeg, read_rgb
from webapp.api_facia import LIMIT_REACHED, MISSING_IMAGE
from webapp.config import load_config


def encode_image_with_mime(name: str, data: bytes) -> str:
    """The document's encode_image_with_mime: data:{mimetypes.guess_type};base64,..."""
    mime_type, _ = mimetypes.guess_type(name)
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('utf-8')}"


async def test_document_script_request(client, media_bytes):
    json_data = {
        "hash_id": KEY,
        "selfie_image": encode_image_with_mime("image_T1.jpg", media_bytes("images/image_T1.jpg")),
    }
    r = await client.post("/liveness", json=json_data)
    assert r.status_code == 201
    body = await r.get_json()
    assert body["message"] == "Success" and set(body["liveness_result"]) == {"is_live", "liveness_score"}
    assert body["liveness_result"]["is_live"] == 1


async def test_no_request_limit_by_default(engine):
    """An on-prem client doing more than one check a second is never refused by default."""
    assert load_config(None, {}).server.facia_rate_limit_per_minute == 0
    client = CheckedClient(make_app(engine))
    selfie = encode_image_with_mime("x.jpg", jpeg(np.full((96, 96, 3), 128, np.uint8)))  # valid, no face: quick
    statuses = {
        (await client.post("/liveness", json={"hash_id": KEY, "selfie_image": selfie})).status_code for _ in range(65)
    }
    assert statuses == {201}


async def test_limit_counts_accepted_requests_and_sends_retry_after(engine, media_bytes):
    client = CheckedClient(make_app(engine, facia_rate_limit_per_minute=2))
    for _ in range(3):  # refused as malformed: not counted
        r = await client.post("/liveness", json={"hash_id": KEY})
        assert r.status_code == 400 and await r.get_json() == MISSING_IMAGE
    selfie = encode_image_with_mime("x.jpg", jpeg(np.full((96, 96, 3), 128, np.uint8)))
    for _ in range(2):
        assert (await client.post("/liveness", json={"hash_id": KEY, "selfie_image": selfie})).status_code == 201
    r = await client.post("/liveness", json={"hash_id": KEY, "selfie_image": selfie})
    assert r.status_code == 429 and await r.get_json() == LIMIT_REACHED
    assert 1 <= int(r.headers["Retry-After"]) <= 60


async def test_valid_photo_over_16_megapixels_is_downscaled_not_refused(client, media_bytes):
    """A 17 MP JPEG (image_T1 scaled 7.5x, as a phone camera would store it) is a valid photo: 201, live."""
    big = cv2.resize(read_rgb(media_bytes("images/image_T1.jpg")), (3600, 4800), interpolation=cv2.INTER_CUBIC)
    assert big.shape[0] * big.shape[1] > 4096 * 4096
    r = await client.post(
        "/liveness", json={"hash_id": KEY, "selfie_image": encode_image_with_mime("big.jpg", jpeg(big, 85))}
    )
    assert r.status_code == 201, await r.get_data(as_text=True)
    assert (await r.get_json())["liveness_result"]["is_live"] == 1
