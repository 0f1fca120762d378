"""Huawei FRS-compatible POST /v2/{project_id}/live-detect: actions, limits, every documented error code."""

from __future__ import annotations

import base64
import http.server
import os
import threading
from dataclasses import replace
from typing import Any

import numpy as np

from tests.support.api_support import KEY, CheckedClient, make_app, make_config
from tests.support.mediagen import cut_clip, encode_video, read_rgb, repeated_frame_clip
from webapp.app import create_app

URL = "/v2/project-1/live-detect"
TOKEN = {"X-Auth-Token": KEY}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def error_of(response) -> str:  # type: ignore[no-untyped-def]
    body = await response.get_json()
    assert set(body) == {"error_code", "error_msg"} and body["error_msg"]
    return body["error_code"]


def make_huawei_app(engine, **huawei: Any):  # type: ignore[no-untyped-def]
    config = make_config()
    return create_app(replace(config, huawei=replace(config.huawei, **huawei)), engine=engine)


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


# Huawei's public FRS error table, written out here (not read from the code): status and error_msg per case.
NOT_JSON = (400, "FRS.0014", "The input is not in JSON format.")
PARSE = (400, "FRS.0701", "Parse video data failed.")
TIME = (400, "FRS.0706", "Video time is not in [1, 15] s.")
SIZE = (400, "FRS.0013", "The face image size is too large or too small.")


def wrong_format(name: str) -> tuple[int, str, str]:
    return 400, "FRS.0012", f"The request param has wrong format, {name}"


def missing(name: str) -> tuple[int, str, str]:
    return 400, "FRS.0011", f"Lack the request parameter, or the request parameter {name} is empty."


async def reply_of(response) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    body = await response.get_json()
    assert set(body) == {"error_code", "error_msg"}, body
    return response.status_code, body["error_code"], body["error_msg"]


async def test_documented_errors(client, media_bytes):
    video = b64(media_bytes("videos/d0.mp4"))
    cases: list[tuple[dict[str, Any], tuple[int, str, str]]] = [
        ({"video_base64": video}, missing("actions")),
        ({"video_base64": video, "actions": "1,9"}, (400, "FRS.0702", "Do not support action 9.")),
        ({"video_base64": video, "actions": "1,x"}, wrong_format("actions")),
        (
            {"video_base64": video, "actions": ",".join(["4"] * 11)},
            (400, "FRS.0704", "The number of action exceed 10."),
        ),
        ({"video_base64": video, "actions": "1", "nod_threshold": 120}, wrong_format("nod_threshold")),
        ({"video_base64": video, "actions": "1,2", "action_time": "1000-3000"}, wrong_format("action_time")),
        ({"actions": "1"}, missing("video_base64/video_file/video_url")),
        ({"video_base64": "%%%not base64", "actions": "1"}, PARSE),
        ({"video_base64": b64(os.urandom(20000)), "actions": "1"}, PARSE),
        ({"video_base64": b64(media_bytes("images/image_T1.jpg")), "actions": "1"}, PARSE),
        ({"video_url": "http://example.com/v.mp4", "actions": "1"}, wrong_format("video_url")),  # off by default
    ]
    for body, expected in cases:
        r = await client.post(URL, json=body, headers=TOKEN)
        assert await reply_of(r) == expected, body.keys()
        assert r.headers.get("X-Livecheck-Detail"), "the detail goes to a header, not into error_msg"
    r = await client.post(URL, data="actions=1", headers={**TOKEN, "Content-Type": "text/plain"})
    assert await reply_of(r) == wrong_format("Content-Type")
    r = await client.post(URL, data="{not json", headers={**TOKEN, "Content-Type": "application/json"})
    assert await reply_of(r) == NOT_JSON
    r = await client.post(URL, data="[1, 2]", headers={**TOKEN, "Content-Type": "application/json"})
    assert await reply_of(r) == NOT_JSON
    r = await client.post(URL, data=b"{}", headers=TOKEN)  # no Content-Type at all
    assert await reply_of(r) == (400, "FRS.0010", "Lack Header or Header Content-Type is empty.")


async def test_limits_8mb_and_1_to_15_seconds(client, media_bytes):
    r = await client.post(
        URL, json={"video_base64": b64(os.urandom(8 * 1024 * 1024 + 10)), "actions": "1"}, headers=TOKEN
    )
    assert await reply_of(r) == SIZE
    long_clip = encode_video([np.full((64, 64, 3), 100, np.uint8)] * 16, fps=1.0)  # 16 s
    r = await client.post(URL, json={"video_base64": b64(long_clip), "actions": "1"}, headers=TOKEN)
    assert await reply_of(r) == TIME
    short_clip = cut_clip(media_bytes("videos/d0.mp4"), 0.0, 0.6)
    r = await client.post(URL, json={"video_base64": b64(short_clip), "actions": "4"}, headers=TOKEN)
    assert await reply_of(r) == TIME
    assert "0.6" in r.headers["X-Livecheck-Detail"]  # the measured duration, outside error_msg
    # The document sets no resolution limit; past the decoding bound (4K UHD) the size code remains.
    huge = encode_video([np.zeros((2176, 3904, 3), np.uint8)] * 2, fps=25.0)
    r = await client.post(URL, json={"video_base64": b64(huge), "actions": "1"}, headers=TOKEN)
    assert await reply_of(r) == SIZE


async def test_missing_token_is_frs_0010_and_a_wrong_one_frs_0002_with_403(client):
    r = await client.post(URL, json={"actions": "1"})
    assert await reply_of(r) == (400, "FRS.0010", "Lack Header or Header X-Auth-Token is empty.")
    for headers in ({"X-Auth-Token": "wrong"}, {"Authorization": "Bearer wrong"}):
        r = await client.post(URL, json={"actions": "1"}, headers=headers)
        assert await reply_of(r) == (403, "FRS.0002", "The authentication token is abnormal.")


async def test_auth_none_ignores_any_token(engine, media_bytes):
    """`[huawei] auth = "none"`: an IAM token (which livecheck cannot verify) or none at all is let through."""
    client = CheckedClient(make_huawei_app(engine, auth="none"))
    for headers in ({}, {"X-Auth-Token": "MIINRwYJKoZIhvcNAQcCoIINODCCDTQCAQExDT..."}):
        r = await client.post(URL, json={"actions": "4"}, headers=headers)
        assert await reply_of(r) == missing("video_base64/video_file/video_url")  # past auth: the video is missing


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
            assert r.status_code == 400 and await error_of(r) in ("FRS.0012", "FRS.0701"), url
    finally:
        server.shutdown()
