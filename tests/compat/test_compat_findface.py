"""FindFace drop-in: the document's own example (findface-video-liveness.rst) sent as an unmodified client sends it,
its configuration file read as it is, and its limits (video-fps 30, 1920/1080 on the long/short side)."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.api_support import AUTH, CheckedClient, make_app, make_config
from tests.support.mediagen import decode_frames, encode_video, read_rgb
from tests.support.paths import MODELS_DIR, ROOT
from webapp.app import create_app
from webapp.config import load_config

# The document's request: no credentials, three flags, a raw video body.
DOC_URL = "/v1/video-liveness?return_detection=true&return_normalized=true&return_photo=true"
DOC_HEADERS = {"Content-Type": "video/mp4"}
# The document's /etc/findface-liveness-api.ini, verbatim (from the .rst source).
DOC_INI = """listen: :18301
liveness-threshold: 0.95
fullframe-jpeg-quality: 75
max-decoded-frames: 30
min-selected-frames: 10
mf-selector: reject
extraction-api:
  request-batch-size: 16
  timeouts:
    connect: 5s
    response_header: 30s
    overall: 35s
    idle_connection: 10s
  extraction-api: http://127.0.0.1:18666
sf-api:
  timeouts:
    connect: 5s
    response_header: 30s
    overall: 35s
    idle_connection: 10s
  sf-api: http://127.0.0.1:18411
limits:
  video-size: 10485760
  video-length-sec: 60
  video-fps: 30
  video-width-px: 1920
  video-height-px: 1080
"""


@pytest.fixture(scope="module")
def keyless(engine):
    config = make_config()
    from dataclasses import replace

    from webapp.config import KeylessSettings

    return create_app(replace(config, findface=KeylessSettings(require_key=False)), engine=engine)


async def test_document_example_without_credentials(keyless, media_bytes):
    """The example's fields, on the portrait phone clip: photo is the whole frame at source resolution and bbox is
    in its pixels; detection_id can be fetched back."""
    client = CheckedClient(keyless)
    r = await client.post(DOC_URL, data=media_bytes("videos/mt_yongen.mp4"), headers=DOC_HEADERS)
    assert r.status_code == 200, await r.get_data(as_text=True)
    body = await r.get_json()
    assert set(body) == {"alive", "average_liveness", "best_face"}
    face = body["best_face"]
    assert set(face) == {"liveness", "quality", "bbox", "detection_id", "photo", "normalized", "frame_no", "frame_ts"}
    assert set(face["bbox"]) == {"left", "top", "right", "bottom"}
    photo = read_rgb(base64.b64decode(face["photo"]))
    assert photo.shape[:2] == (1216, 704)  # the full frame, portrait, at source resolution
    b = face["bbox"]
    assert 0 <= b["left"] < b["right"] <= 704 and 0 <= b["top"] < b["bottom"] <= 1216
    # bbox is in the photo's pixels: the box drawn on the photo is the face the source frame has there.
    frames, _ = decode_frames(media_bytes("videos/mt_yongen.mp4"), 0.0, face["frame_ts"] + 0.01)
    source = frames[face["frame_no"]]
    region = (slice(b["top"], b["bottom"]), slice(b["left"], b["right"]))
    assert np.abs(photo[region].astype(int) - source[region].astype(int)).mean() < 6
    assert base64.b64decode(face["normalized"])[:8] == b"\x89PNG\r\n\x1a\n"
    got = await client.get(f"/v1/detections/{face['detection_id']}")
    assert got.status_code == 200 and (await got.get_json())["bbox"] == b


async def test_keys_required_by_default(client, media_bytes):
    r = await client.post(DOC_URL, data=media_bytes("videos/d18.mp4"), headers=DOC_HEADERS)
    assert r.status_code == 401 and set(await r.get_json()) == {"code", "desc"}


async def test_keyless_still_refuses_a_wrong_key(keyless, media_bytes):
    r = await CheckedClient(keyless).post(DOC_URL, data=b"x", headers={**DOC_HEADERS, "Authorization": "Bearer nope"})
    assert r.status_code == 401 and (await r.get_json())["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_wrong_method_answers_in_findface_shape(client, method):
    r = await client.open("/v1/video-liveness", method)
    assert r.status_code == 405
    body = await r.get_json()
    assert set(body) == {"code", "desc"} and body["code"] == "METHOD_NOT_ALLOWED" and r.headers["Allow"] == "POST"


async def test_document_limits_portrait_passes_and_fps_over_30_refused(client, media_bytes):
    """limits -> video-width-px 1920 / video-height-px 1080 (long/short side), video-fps 30."""
    portrait = encode_video([np.full((1920, 1080, 3), 90, np.uint8)] * 3, fps=25.0)  # 1080x1920
    r = await client.post(
        "/v1/video-liveness", data=portrait, headers={**DOC_HEADERS, "Authorization": "Bearer test-key-1"}
    )
    assert r.status_code == 200  # analyzed (no face: not alive), not RESOLUTION_TOO_HIGH
    frames, _ = decode_frames(media_bytes("videos/d18.mp4"), 0.0, 2.0)
    fast = encode_video([f for f in frames for _ in range(2)], fps=50.0)
    r = await client.post(
        "/v1/video-liveness", data=fast, headers={**DOC_HEADERS, "Authorization": "Bearer test-key-1"}
    )
    assert r.status_code == 422 and (await r.get_json())["code"] == "FPS_TOO_HIGH"


@pytest.mark.unit
def test_document_ini_is_read_as_is(tmp_path, caplog):
    path = tmp_path / "findface-liveness-api.ini"
    path.write_text(DOC_INI)
    with caplog.at_level(logging.WARNING, logger="livecheck.config"):
        config = load_config(path, {})
    engine = config.engine
    assert config.listen == "0.0.0.0:18301"  # ":18301" = every interface, as in FindFace
    assert (engine.liveness_threshold, engine.fullframe_jpeg_quality, engine.max_decoded_frames) == (0.95, 75, 30)
    assert (engine.min_selected_frames, engine.mf_selector, engine.request_batch_size) == (10, "reject", 16)
    limits = engine.limits
    assert (limits.video_size, limits.video_length_sec, limits.video_fps) == (10485760, 60, 30)
    assert (limits.video_width_px, limits.video_height_px) == (1920, 1080)
    warned = [r.getMessage() for r in caplog.records]
    for key in ("extraction-api.timeouts", "extraction-api.extraction-api", "sf-api", "liveness-threshold"):
        assert sum(f": {key}:" in w for w in warned) == 1, (key, warned)


@pytest.mark.unit
def test_ini_with_an_unknown_key_is_still_an_error(tmp_path):
    path = tmp_path / "findface-liveness-api.ini"
    path.write_text(DOC_INI + "no-such-key: 1\n")
    with pytest.raises(Exception, match="no-such-key"):
        load_config(path, {})


@pytest.mark.unit
def test_require_key_from_env():
    assert load_config(None, {}).findface.require_key is True
    assert load_config(None, {"LIVECHECK_FINDFACE__REQUIRE_KEY": "false"}).findface.require_key is False
    assert load_config(None, {"LIVECHECK_SILENT__REQUIRE_KEY": "false"}).silent.require_key is False


def _start_up_line(env_extra: dict[str, str], store: Path) -> str:
    """The line `livecheck serve` prints once it is ready; the server is stopped right after."""
    env = {
        **os.environ,
        "LIVECHECK_MODELS": str(MODELS_DIR),
        "LIVECHECK_API_KEYS": "k",
        "GLOG_minloglevel": "2",
        "LIVECHECK_STORE__URL": f"sqlite:///{store}",
        **env_extra,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "serve", "--listen", "127.0.0.1:0"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stderr.readline() if process.stderr else ""
            if "serving on" in line:
                return line
            if not line and process.poll() is not None:
                break
        raise AssertionError("livecheck serve printed no start-up line")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_start_up_line_says_when_an_api_takes_calls_without_a_key(tmp_path):
    default = _start_up_line({}, tmp_path / "a.db")
    # Every keyless surface is named with the setting that turns it off; by default no API is one of them.
    assert "findface ([findface] require-key = false)" not in default, default
    assert "silent ([silent] require-key = false)" not in default, default
    line = _start_up_line(
        {"LIVECHECK_FINDFACE__REQUIRE_KEY": "false", "LIVECHECK_SILENT__REQUIRE_KEY": "false"}, tmp_path / "b.db"
    )
    assert "findface ([findface] require-key = false); silent ([silent] require-key = false)" in line, line


async def test_detection_id_lives_for_detection_ttl_s(engine, media_bytes):
    """docs/api.md: a detection can be fetched for server.detection-ttl-s after the request, then 404."""
    client = CheckedClient(make_app(engine, detection_ttl_s=1.5))
    r = await client.post(
        "/v1/video-liveness?return_detection=true",
        data=media_bytes("videos/d0.mp4"),
        headers={**AUTH, "Content-Type": "video/mp4"},
    )
    detection_id = (await r.get_json())["best_face"]["detection_id"]
    assert (await client.get(f"/v1/detections/{detection_id}", headers=AUTH)).status_code == 200
    await asyncio.sleep(2.0)
    gone = await client.get(f"/v1/detections/{detection_id}", headers=AUTH)
    assert gone.status_code == 404 and (await gone.get_json())["code"] == "NOT_FOUND"
