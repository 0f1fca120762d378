"""Huawei FRS LiveDetect drop-in: the document's example requests (huawei-frs-live-detect.txt) adapted to local
clips, its field table (action_time is a string; 8 MB "after Base64 encoding"; 1-15 s; no fps or resolution
limit), and the same answer for the same request whatever ran before or alongside it."""

from __future__ import annotations

import asyncio
import base64
import io
import os

import cv2
import numpy as np
import pytest
from quart.datastructures import FileStorage

from tests.support.api_support import KEY, CheckedClient, make_app
from tests.support.mediagen import decode_frames, encode_video, read_rgb

URL = "/v2/0b9e2a3d/live-detect"
TOKEN = {"X-Auth-Token": KEY}  # the document's header
# d12 (MEDIA.md): turns one way at ~1.5 s, the other at 3.0-3.5 s, opens the mouth at 4.5-5.0 s.
D12_ACTIONS, D12_TIMES = "1,2,4", "1000-2500,2500-4200,4200-6500"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def error_code(response) -> str:  # type: ignore[no-untyped-def]
    body = await response.get_json()
    assert set(body) == {"error_code", "error_msg"}, body
    return body["error_code"]


async def test_example_1_base64_with_action_time(client, media_bytes):
    """Method 1 of the document: JSON video_base64 + actions + action_time; the success example's shape."""
    body = {"video_base64": b64(media_bytes("videos/d12.mp4")), "actions": D12_ACTIONS, "action_time": D12_TIMES}
    r = await client.post(URL, json=body, headers={**TOKEN, "Content-Type": "application/json"})
    assert r.status_code == 200
    reply = await r.get_json()
    assert set(reply) == {"video-result", "warning-list"} and reply["warning-list"] == []
    result = reply["video-result"]
    assert set(result) == {"alive", "actions", "picture"} and result["alive"] is True
    assert [a["action"] for a in result["actions"]] == [1, 2, 4]
    assert all(set(a) == {"action", "confidence"} and 0 <= a["confidence"] <= 1 for a in result["actions"])


async def test_example_2_multipart_video_file_portrait(client, media_bytes):
    """Method 2 (multipart video_file) with a portrait phone clip: no resolution refusal, and picture is the whole frame at
    source resolution (704x1216)."""
    files = {
        "video_file": FileStorage(io.BytesIO(media_bytes("videos/mt_yongen.mp4")), "v.mp4", content_type="video/mp4")
    }
    r = await client.post(URL, form={"actions": "4"}, files=files, headers=TOKEN)
    assert r.status_code == 200, await r.get_data(as_text=True)
    picture = read_rgb(base64.b64decode((await r.get_json())["video-result"]["picture"]))
    assert picture.shape[:2] == (1216, 704)


async def test_no_fps_or_resolution_limit(client, media_bytes):
    """The document only recommends 10-30 fps and sets no resolution limit: 60 fps and 1080x1920 are analyzed."""
    frames, _ = decode_frames(media_bytes("videos/d18.mp4"), 0.0, 3.0)
    fast = encode_video([f for f in frames for _ in range(2)], fps=60.0)
    r = await client.post(URL, json={"video_base64": b64(fast), "actions": "4"}, headers=TOKEN)
    assert r.status_code == 200, await r.get_data(as_text=True)
    portrait = encode_video([np.full((1920, 1080, 3), 90, np.uint8)] * 30, fps=25.0)  # 1.2 s, no face
    r = await client.post(URL, json={"video_base64": b64(portrait), "actions": "4"}, headers=TOKEN)
    assert r.status_code == 200 and (await r.get_json())["video-result"]["alive"] is False


@pytest.mark.parametrize(
    "action_time",
    [
        ["1000-3000"],  # a JSON array: the document types it String
        [[1000, 3000]],
        1000,
        "1000-x",
        "1000",
        "3000-1000",
    ],
)
async def test_malformed_action_time_is_frs_0012(client, media_bytes, action_time):
    body = {"video_base64": b64(media_bytes("videos/d0.mp4")), "actions": "4", "action_time": action_time}
    r = await client.post(URL, json=body, headers=TOKEN)
    assert r.status_code == 400 and await error_code(r) == "FRS.0012"  # "The request param has wrong format"


async def test_8_mb_applies_to_the_base64_text(client):
    """ "The video size after Base64 encoding cannot exceed 8 MB": 6.1 MB of video is 8.1 MB of base64 (refused
    before decoding), while a 7 MB video_file is under its own 8 MB and gets as far as parsing."""
    r = await client.post(URL, json={"video_base64": b64(os.urandom(6_400_000)), "actions": "1"}, headers=TOKEN)
    assert r.status_code == 400 and await error_code(r) == "FRS.0013"  # Huawei's "size is too large or too small"
    files = {"video_file": FileStorage(io.BytesIO(os.urandom(7_000_000)), "v.mp4", content_type="video/mp4")}
    r = await client.post(URL, form={"actions": "1"}, files=files, headers=TOKEN)
    assert r.status_code == 400 and await error_code(r) == "FRS.0701"  # not a video, but not too large either


async def test_same_request_same_answer_concurrently_and_after_another_clip(engine, media_bytes):
    """One request sent alone, then after another clip, then 3x at once: byte-identical bodies (every clip against
    every other: tests/webapp/test_repeatable.py)."""
    client = CheckedClient(
        make_app(engine, workers=3, queue_wait_s=300.0, request_timeout_s=300.0, read_timeout_s=400.0)
    )
    body = {"video_base64": b64(media_bytes("videos/d12.mp4")), "actions": D12_ACTIONS, "action_time": D12_TIMES}
    first = await client.post(URL, json=body, headers=TOKEN)
    other = await client.post(
        URL, json={"video_base64": b64(media_bytes("videos/mt_yongen.mp4")), "actions": "1,4"}, headers=TOKEN
    )
    assert other.status_code == 200
    replies = await asyncio.gather(*(client.post(URL, json=body, headers=TOKEN) for _ in range(3)))
    bodies = [await r.get_data() for r in (first, *replies)]
    assert all(r.status_code == 200 for r in (first, *replies))
    assert len(set(bodies)) == 1, [b[:200] for b in bodies]


@pytest.mark.parametrize(
    "codec, container",
    [
        ("h261", "avi"),
        ("h263", "avi"),
        ("libx264", "flv"),
        ("libvpx", "webm"),
        ("libvpx-vp9", "webm"),
        ("wmv2", "asf"),
        ("libx264", "mov"),
        ("libx265", "mp4"),
    ],
)
async def test_documented_formats_and_codecs_are_parsed(client, media_bytes, codec, container):
    """ "The encapsulation format can be MP4, AVI, FLV, WEBM, ASF, or MOV. The video encoding format can be H.261,
    H.263, H.264, HEVC, VC-1, VP8, VP9, or WMV3." (VC-1/WMV3 have no encoder here; wmv2 stands for the ASF family.)"""
    frames, _ = decode_frames(media_bytes("videos/d18.mp4"), 0.0, 2.0)
    frames = [cv2.resize(f, (352, 288)) for f in frames]  # CIF: H.261/H.263 take only standard sizes
    try:
        clip = encode_video(frames, 25.0, codec=codec, container=container)
    except Exception as exc:  # noqa: BLE001 - an encoder this FFmpeg build lacks
        pytest.skip(f"no {codec} encoder: {exc}")
    r = await client.post(URL, json={"video_base64": b64(clip), "actions": "4"}, headers=TOKEN)
    assert r.status_code == 200, await r.get_data(as_text=True)
    assert base64.b64decode((await r.get_json())["video-result"]["picture"])[:3] == b"\xff\xd8\xff"  # a face was found
