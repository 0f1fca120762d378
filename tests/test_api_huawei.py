"""Huawei FRS-compatible POST /v2/{project_id}/live-detect: actions, limits, every documented error code."""

from __future__ import annotations

import base64
import http.server
import os
import threading
from typing import Any

import numpy as np
import pytest

from api_support import KEY, CheckedClient, make_app
from mediagen import cut_clip, encode_video, read_rgb, repeated_frame_clip

URL = "/v2/project-1/live-detect"
TOKEN = {"X-Auth-Token": KEY}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def error_of(response) -> str:  # type: ignore[no-untyped-def]
    body = await response.get_json()
    assert set(body) == {"error_code", "error_msg"} and body["error_msg"]
    return body["error_code"]


async def test_live_clip_with_actions_passes(client, media_bytes):
    """d12 turns left, then right, then opens the mouth (MEDIA.md)."""
    r = await client.post(
        URL, json={"video_base64": b64(media_bytes("videos/d12.mp4")), "actions": "1,2,4"}, headers=TOKEN
    )
    assert r.status_code == 200
    result = (await r.get_json())["video-result"]
    assert result["alive"] is True
    assert [a["action"] for a in result["actions"]] == [1, 2, 4]
    assert all(a["confidence"] > 0.5 for a in result["actions"])
    assert base64.b64decode(result["picture"])[:3] == b"\xff\xd8\xff"


async def test_multipart_video_file_and_action_missing_from_clip(client, media_bytes):
    """d18 is frontal: a demanded left turn (code 1) fails as actions_failed."""
    files = {
        "video_file": __import__("quart").datastructures.FileStorage(
            stream=__import__("io").BytesIO(media_bytes("videos/d18.mp4")), filename="v.mp4", content_type="video/mp4"
        )
    }
    r = await client.post(URL, form={"actions": "1"}, files=files, headers=TOKEN)
    assert r.status_code == 200
    body = await r.get_json()
    assert body["video-result"]["alive"] is False
    assert {"warningCode": 7, "warningMsg": "actions_failed"} in body["warning-list"]


async def test_printed_photo_clip_is_not_alive(client, media_bytes):
    clip = repeated_frame_clip(read_rgb(media_bytes("images/image_F1.jpg")), seconds=3.0)
    r = await client.post(URL, json={"video_base64": b64(clip), "actions": "4"}, headers=TOKEN)
    assert r.status_code == 200 and (await r.get_json())["video-result"]["alive"] is False


async def test_documented_errors(client, media_bytes):
    video = b64(media_bytes("videos/d0.mp4"))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"video_base64": video}, "FRS.0011"),  # actions missing
        ({"video_base64": video, "actions": "1,9"}, "FRS.0011"),
        ({"video_base64": video, "actions": "1", "nod_threshold": 120}, "FRS.0011"),
        (
            {"video_base64": video, "actions": "1,2", "action_time": "1000-3000"},
            "FRS.0011",
        ),  # one window for two actions
        ({"actions": "1"}, "FRS.0013"),
        ({"video_base64": "%%%not base64", "actions": "1"}, "FRS.0701"),
        ({"video_base64": b64(os.urandom(20000)), "actions": "1"}, "FRS.0701"),
        ({"video_base64": b64(media_bytes("images/image_T1.jpg")), "actions": "1"}, "FRS.0701"),
        ({"video_url": "http://example.com/v.mp4", "actions": "1"}, "FRS.0705"),  # video_url off by default
    ]
    for body, code in cases:
        r = await client.post(URL, json=body, headers=TOKEN)
        assert r.status_code == 400 and await error_of(r) == code, body.keys()
    r = await client.post(URL, data="actions=1", headers={**TOKEN, "Content-Type": "text/plain"})
    assert r.status_code == 400 and await error_of(r) == "FRS.0012"
    r = await client.post(URL, data="{not json", headers={**TOKEN, "Content-Type": "application/json"})
    assert r.status_code == 400 and await error_of(r) == "FRS.0010"


async def test_limits_8mb_and_1_to_15_seconds(client, media_bytes):
    r = await client.post(
        URL, json={"video_base64": b64(os.urandom(8 * 1024 * 1024 + 10)), "actions": "1"}, headers=TOKEN
    )
    assert r.status_code == 400 and await error_of(r) == "FRS.0702"
    long_clip = encode_video([np.full((64, 64, 3), 100, np.uint8)] * 16, fps=1.0)  # 16 s
    r = await client.post(URL, json={"video_base64": b64(long_clip), "actions": "1"}, headers=TOKEN)
    assert r.status_code == 400 and await error_of(r) == "FRS.0703"
    short_clip = cut_clip(media_bytes("videos/d0.mp4"), 0.0, 0.6)
    r = await client.post(URL, json={"video_base64": b64(short_clip), "actions": "4"}, headers=TOKEN)
    assert r.status_code == 400 and await error_of(r) == "FRS.0703"
    # The document sets no resolution limit; past the decoding bound (4K UHD) FRS.0704 remains.
    huge = encode_video([np.zeros((2176, 3904, 3), np.uint8)] * 2, fps=25.0)
    r = await client.post(URL, json={"video_base64": b64(huge), "actions": "1"}, headers=TOKEN)
    assert r.status_code == 400 and await error_of(r) == "FRS.0704"


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "wrong"}, {"Authorization": "Bearer wrong"}])
async def test_missing_or_wrong_token(client, headers):
    r = await client.post(URL, json={"actions": "1"}, headers=headers)
    assert r.status_code == 401 and await error_of(r) == "FRS.0001"


class _OneFile(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self) -> None:  # noqa: N802
        if self.path != "/videos/d0.mp4":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args: object) -> None:
        pass


async def test_video_url_only_under_allowed_prefix(engine, media_bytes):
    handler = type("Handler", (_OneFile,), {"payload": media_bytes("videos/d0.mp4")})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        client = CheckedClient(make_app(engine, video_url_prefixes=(f"{base}/videos/",)))
        r = await client.post(URL, json={"video_url": f"{base}/videos/d0.mp4", "actions": "4"}, headers=TOKEN)
        assert r.status_code == 200 and len((await r.get_json())["video-result"]["actions"]) == 1
        for url in (
            f"{base}/secret/d0.mp4",
            f"{base}/videos/../secret",
            "file:///etc/passwd",
            f"{base}/videos/missing.mp4",
        ):
            r = await client.post(URL, json={"video_url": url, "actions": "1"}, headers=TOKEN)
            assert r.status_code == 400 and await error_of(r) in ("FRS.0705", "FRS.0706"), url
    finally:
        server.shutdown()
