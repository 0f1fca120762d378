"""Bad input gives one InputError with a stable code, before heavy work, and nothing else escapes."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from scoring import errors
from scoring.engine import AnalysisOptions, LivenessEngine
from scoring.errors import InputError
from scoring.reasons import Reason
from scoring.settings import MediaLimits
from scoring.video import VideoReader
from tests.support import mediagen


def _with_limits(engine: LivenessEngine, **limits: Any) -> LivenessEngine:
    """The same loaded models under other limits (no reload); `limits` are MediaLimits fields, int or float."""
    return LivenessEngine(replace(engine.settings, limits=replace(engine.settings.limits, **limits)), engine.models)


def _code(call) -> str:
    """The InputError code a call raises; any other exception fails the test as itself."""
    with pytest.raises(InputError) as info:
        call()
    assert info.value.message and isinstance(info.value.message, str)
    return info.value.code


@pytest.fixture(scope="module")
def short_clip(media_bytes) -> bytes:
    """A 3 s, 30 fps, 480x480 H.264 clip cut from a live video."""
    return mediagen.cut_clip(media_bytes("videos/d18.mp4"), 0.0, 3.0, size=(480, 480))


def test_zero_bytes(engine) -> None:
    assert _code(lambda: engine.analyze(b"")) == errors.EMPTY_INPUT
    assert _code(lambda: engine.analyze_video(b"")) == errors.EMPTY_INPUT
    assert _code(lambda: engine.analyze_image(b"")) == errors.EMPTY_INPUT


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_mp4(engine, media_bytes, keep: float) -> None:
    data = media_bytes("videos/d12.mp4")
    assert _code(lambda: engine.analyze(data[: int(len(data) * keep)])) == errors.CORRUPT_MEDIA


def test_truncated_fragmented_mp4_is_analyzed_or_corrupt(engine, short_clip) -> None:
    """With the index up front, a cut stream still has good frames: a verdict on what is there, judged on the
    duration really decoded (the header still claims the whole clip), or corrupt_media."""
    frames, _ = mediagen.decode_frames(short_clip)
    data = mediagen.encode_video(frames, 30.0, fragmented=True)
    try:
        verdict = engine.analyze(data[: len(data) // 3])
    except InputError as exc:
        assert exc.code == errors.CORRUPT_MEDIA
    else:
        assert verdict.frames_decoded < len(frames)
        assert verdict.duration_s < 2.0 and Reason.SHORT_TIME in verdict.reasons and not verdict.alive


def test_random_bytes(engine) -> None:
    noise = os.urandom(64 * 1024)
    noise = b"\x00" + noise[1:]  # no accidental magic
    assert _code(lambda: engine.analyze(noise)) == errors.UNSUPPORTED_MEDIA
    assert _code(lambda: engine.analyze_video(noise)) == errors.UNSUPPORTED_MEDIA
    assert _code(lambda: engine.analyze_image(noise)) == errors.UNSUPPORTED_MEDIA


def test_text_is_unsupported(engine) -> None:
    assert _code(lambda: engine.analyze(b"hello, this is not a video\n" * 100)) == errors.UNSUPPORTED_MEDIA


def test_jpeg_where_video_expected(engine, media_bytes) -> None:
    assert _code(lambda: engine.analyze_video(media_bytes("images/image_T1.jpg"))) == errors.EXPECTED_VIDEO


def test_video_where_image_expected(engine, short_clip) -> None:
    assert _code(lambda: engine.analyze_image(short_clip)) == errors.EXPECTED_IMAGE


def test_corrupt_jpeg(engine, media_bytes) -> None:
    data = media_bytes("images/image_T1.jpg")
    assert _code(lambda: engine.analyze(data[:300])) == errors.CORRUPT_MEDIA


def test_oversized_video(engine, short_clip) -> None:
    small = _with_limits(engine, video_size=len(short_clip) - 1)
    assert _code(lambda: small.analyze(short_clip)) == errors.INPUT_TOO_LARGE
    assert _with_limits(engine, video_size=len(short_clip)).analyze(short_clip).frames_decoded > 0


def test_oversized_image(engine, media_bytes) -> None:
    data = media_bytes("images/image_T1.jpg")
    assert _code(lambda: _with_limits(engine, image_size=len(data) - 1).analyze(data)) == errors.INPUT_TOO_LARGE
    # A baseline JPEG over image-pixels is decoded at 1/2, 1/4 or 1/8 scale (a valid phone photo); refused only
    # when even 1/8 is over the limit.
    assert (
        _code(lambda: _with_limits(engine, image_pixels=(480 // 8) * (640 // 8) - 1).analyze(data))
        == errors.RESOLUTION_TOO_HIGH
    )
    assert _with_limits(engine, image_pixels=480 * 640 - 1).analyze(data).frames_analyzed == 1  # at 1/2 scale


def test_over_long_video(engine, short_clip) -> None:
    assert _code(lambda: _with_limits(engine, video_length_sec=2.0).analyze(short_clip)) == errors.VIDEO_TOO_LONG


def test_over_resolution(engine, short_clip) -> None:
    assert _code(lambda: _with_limits(engine, video_width_px=320).analyze(short_clip)) == errors.RESOLUTION_TOO_HIGH
    assert _code(lambda: _with_limits(engine, video_height_px=320).analyze(short_clip)) == errors.RESOLUTION_TOO_HIGH


def test_fps_over_limit(engine, short_clip) -> None:
    assert _code(lambda: _with_limits(engine, video_fps=15.0).analyze(short_clip)) == errors.FPS_TOO_HIGH
    # 25 fps under the default 30 fps limit is accepted.
    assert engine.analyze(short_clip).frames_decoded > 0


def test_default_limits_reject_a_60fps_clip(engine, media_bytes) -> None:
    frames, _ = mediagen.decode_frames(media_bytes("videos/d18.mp4"), 0.0, 1.0)
    clip = mediagen.encode_video(frames, 60.0)
    assert MediaLimits().video_fps < 60
    assert _code(lambda: engine.analyze(clip)) == errors.FPS_TOO_HIGH


@pytest.mark.unit
@pytest.mark.parametrize(
    "options",
    [
        dict(actions=("jump",)),
        dict(actions=("turn_left", "open_mouth"), action_windows_ms=((0, 1000),)),
        dict(actions=("turn_left",), action_windows_ms=((2000, 1000),)),
        dict(nod_threshold_deg=0.5),
        dict(nod_threshold_deg=91),
    ],
)
def test_invalid_options(options: dict) -> None:
    assert _code(lambda: AnalysisOptions(**options)) == errors.INVALID_ACTIONS


def _vfr_intervals(count: int, low_ms: float, high_ms: float, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return rng.uniform(low_ms, high_ms, size=count).tolist()


def test_browser_webm_with_a_1khz_header_rate_is_judged_by_its_frames(engine, media_bytes) -> None:
    """MediaRecorder WebM: VP8, 1 kHz time base, irregular gaps averaging ~15 fps. The header claims 1000 fps;
    the decoded timestamps say ~15, so the clip is analyzed (d12's live head turns still pass)."""
    frames, _ = mediagen.decode_frames(media_bytes("videos/d12.mp4"), 0.0, 6.0)
    frames = frames[::2]  # 12.5 fps of content, shown at irregular times
    data = mediagen.encode_webm(frames, _vfr_intervals(len(frames), 45, 90))
    with VideoReader(data, MediaLimits()) as reader:
        assert reader.info.fps > MediaLimits().video_fps and not reader.info.fps_trusted
    verdict = engine.analyze(data, AnalysisOptions(actions=("turn_left", "turn_right")))
    assert verdict.frames_decoded == len(frames)
    assert 5.0 < verdict.duration_s < 6.5
    assert verdict.alive, verdict.reasons


def test_webm_really_above_the_fps_limit_is_refused_while_decoding(engine, media_bytes) -> None:
    """The same 1 kHz header, but frames really 16-17 ms apart (60 fps): refused from the decoded timestamps,
    after about a second's worth of frames, not after the whole clip."""
    frames, _ = mediagen.decode_frames(media_bytes("videos/d18.mp4"), 0.0, 3.0)
    data = mediagen.encode_webm(frames, _vfr_intervals(len(frames), 16, 17.5))
    assert _code(lambda: engine.analyze(data)) == errors.FPS_TOO_HIGH
    reader = VideoReader(data, MediaLimits())
    with pytest.raises(InputError):
        for _ in reader.frames(15.0, 720):
            pass
    assert reader.decoded <= 35
    reader.close()


def test_header_shorter_than_the_minimum_is_refused_before_decoding(engine, short_clip) -> None:
    """`video_min_length_sec` (Huawei's 1 s): refused from the header; 0 (the default) means no minimum."""
    short = mediagen.cut_clip(short_clip, 0.0, 0.6)
    strict = _with_limits(engine, video_min_length_sec=1.0)
    assert _code(lambda: strict.analyze(short)) == errors.VIDEO_TOO_SHORT
    assert _code(lambda: VideoReader(short, replace(MediaLimits(), video_min_length_sec=1.0))) == errors.VIDEO_TOO_SHORT
    assert strict.analyze(short_clip).frames_decoded > 0
    assert Reason.SHORT_TIME in engine.analyze(short).reasons
