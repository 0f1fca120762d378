"""Portrait and rotated phone video: the long/short side rule, the display matrix honoured so the face is upright,
and the portrait clip mt_yongen (704x1216) through `livecheck analyze`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from scoring import errors
from scoring.errors import InputError
from scoring.settings import EngineSettings, MediaLimits
from scoring.video import VideoReader, check_frame_size
from tests.support.api_support import AUTH, CheckedClient
from tests.support.mediagen import decode_frames
from tests.support.paths import MEDIA_DIR, MODELS_DIR, ROOT
from tests.support.session_support import FallbackClient, ShiftedClock
from webapp.app import create_app
from webapp.config import load_config
from webapp.sessions import registry

# A phone stores the sensor's picture and a display matrix; PyAV's set_display_rotation takes the turn counter-
# clockwise that makes it upright. The stored picture is the upright one turned the other way (np.rot90 by -k).
TURNS = {90: 1, -90: 3, 180: 2}


def rotated_clip(frames: list[np.ndarray], fps: float, degrees: int) -> bytes:
    """H.264 MP4 whose coded frames are turned and whose display matrix turns them back upright."""
    stored = [np.ascontiguousarray(np.rot90(f, -TURNS[degrees])) for f in frames]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = stored[0].shape[1], stored[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        stream.set_display_rotation(degrees)
        for rgb in stored:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def yongen(media_bytes) -> bytes:
    return media_bytes("videos/mt_yongen.mp4")


@pytest.fixture(scope="module")
def yongen_sideways(yongen) -> tuple[bytes, list[np.ndarray]]:
    """The first 4 s of mt_yongen as a phone stores a portrait recording: landscape 1216x704 tagged -90."""
    frames, fps = decode_frames(yongen, 0.0, 4.0)
    return rotated_clip(frames, fps, -90), frames


@pytest.mark.unit
@pytest.mark.parametrize(
    "width, height, ok",
    [
        (1920, 1080, True),
        (1080, 1920, True),
        (704, 1216, True),
        (1080, 1080, True),
        (1920, 1200, False),
        (1200, 1920, False),
        (2048, 1000, False),
        (1000, 2048, False),
    ],
)
def test_limits_apply_to_long_and_short_side(width, height, ok):
    limits = MediaLimits()  # 1920 and 1080 by default (FindFace video-width-px / video-height-px)
    if ok:
        check_frame_size(width, height, limits)
    else:
        with pytest.raises(InputError) as raised:
            check_frame_size(width, height, limits)
        assert raised.value.code == errors.RESOLUTION_TOO_HIGH


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotated_clip_is_decoded_upright(media_bytes, degrees):
    """d12 stored turned with a display matrix decodes to the same pixels as d12 itself (to encoding noise)."""
    frames, fps = decode_frames(media_bytes("videos/d12.mp4"), 0.0, 1.0)
    clip = rotated_clip(frames, fps, degrees)
    with VideoReader(clip, MediaLimits()) as reader:
        decoded = list(reader.frames(fps, 4096))
    assert len(decoded) == len(frames)
    for got, want in zip(decoded, frames):
        upright_error = np.abs(got.rgb.astype(int) - want.astype(int)).mean()
        sideways_error = np.abs(np.rot90(got.rgb, TURNS[degrees]).astype(int) - want.astype(int)).mean()
        assert upright_error < 4 < sideways_error, (upright_error, sideways_error)


def test_sideways_portrait_is_analyzed_upright_with_bbox_in_its_pixels(engine, yongen_sideways):
    clip, frames = yongen_sideways
    with VideoReader(clip, engine.settings.limits) as reader:
        assert (reader.info.width, reader.info.height) == (1216, 704)  # as stored
    verdict = engine.analyze_video(clip)
    assert verdict.frames_with_face == verdict.frames_analyzed > 0
    best = verdict.best_face
    assert best is not None and best.frame_rgb.shape == (1216, 704, 3)  # upright, source resolution
    b = best.bbox
    assert 0 <= b.left < b.right <= 704 and 0 <= b.top < b.bottom <= 1216
    # The box holds the face: the same region of the upright source frame, not of a sideways one.
    want = frames[best.frame_no]
    assert np.abs(best.frame_rgb.astype(int) - want.astype(int)).mean() < 4


def test_portrait_clip_passes_livecheck_analyze():
    """mt_yongen.mp4 is 704x1216: under the long/short rule it is analyzed, not refused as resolution_too_high."""
    env = {**os.environ, "LIVECHECK_MODELS": str(MODELS_DIR), "GLOG_minloglevel": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "analyze", "--json", str(MEDIA_DIR / "videos" / "mt_yongen.mp4")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 0 alive, 1 not alive; never an input error
    verdict = json.loads(done.stdout)
    assert verdict["frames"]["with_face"] > 0 and "resolution_too_high" not in done.stdout
    assert verdict["best_face"]["bbox"]["bottom"] <= 1216 and verdict["best_face"]["bbox"]["right"] <= 704


@pytest.mark.unit
def test_default_limits_are_1920_and_1080():
    limits = EngineSettings().limits
    assert (limits.video_width_px, limits.video_height_px) == (1920, 1080)


async def test_portrait_clip_passes_the_native_endpoint(client, yongen):
    """The other video endpoints are covered in test_compat_findface/huawei/silent; here livecheck's own."""
    r = await client.post("/v1/analyze", data=yongen, headers={**AUTH, "Content-Type": "video/mp4"})
    assert r.status_code == 200, await r.get_data(as_text=True)
    body = await r.get_json()
    assert body["frames"]["with_face"] > 0 and body["best_face"]["bbox"]["bottom"] <= 1216


@pytest.fixture
async def sessions_client(engine):
    """As in test_sessions_api: the app running (session registry), with a clock the test moves."""
    config = load_config(None, {}, api_keys="k")
    app = create_app(config, engine=engine)
    async with app.test_app() as test_app:
        checked = CheckedClient(app)
        checked.client = test_app.test_client()
        checked.clock = ShiftedClock()
        registry(app).clock = checked.clock
        yield checked


async def test_portrait_clip_passes_the_recording_fallback(sessions_client, yongen):
    """The session recording endpoint (the last video endpoint) analyzes the portrait clip too."""
    created = await sessions_client.post(
        "/v1/sessions", json={"action_count": 0, "recording_fallback": True}, headers={"Authorization": "Bearer k"}
    )
    assert created.status_code == 201
    fallback = FallbackClient(sessions_client, await created.get_json(), sessions_client.clock)
    await fallback.follow()
    sessions_client.clock.advance(1.0)
    done = await fallback.upload(yongen)
    assert done.status_code == 200, await done.get_data(as_text=True)
    read = await sessions_client.get(
        f"/v1/sessions/{(await created.get_json())['session_id']}", headers={"Authorization": "Bearer k"}
    )
    result = (await read.get_json())["result"]
    # Analyzed (the 10.7 s clip does not fit the session's prompt schedule, so it is judged recording_timeline).
    assert result["frames_analyzed"] > 0 and result["best_face"]["bbox"]["bottom"] <= 1216, result
    assert "resolution_too_high" not in json.dumps(result)
