"""Video uploads: opening (whitelisted demuxers and codecs only), probing the header against the limits, and
decoding sampled frames within them. Every limit that a header can tell is checked before any frame is decoded;
the decoder then re-checks what headers can lie about (duration, frame count, frame rate).

Frame rate: a container that indexes its frames (MP4/MOV) gives a real average (frames / duration). A streamed
container (WebM/Matroska from a browser's MediaRecorder) has no frame count, and its header rate is often the time
base's tick rate (1000 "fps" for a 1 kHz time base) rather than how often frames come; there the header rate is
only a hint and the decoder measures the rate from the decoded timestamps instead."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import numpy as np

from scoring import errors
from scoring.errors import InputError
from scoring.formats import DEMUXERS, NO_PROTOCOLS, VIDEO_CODECS, video_format
from scoring.image_header import image_format
from scoring.settings import MediaLimits

FPS_TOLERANCE = 1.01  # 30000/1001 and rounding in container headers


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int | None
    container: str
    codec: str
    fps_trusted: bool = True  # False: `fps` is a streamed container's nominal rate, checked while decoding instead


@dataclass(frozen=True)
class DecodedFrame:
    frame_no: int  # index in the decoded stream
    timestamp_ms: int  # from the container's presentation time, never from a client clock
    rgb: np.ndarray  # upright (display rotation applied), at analysis size
    scale: float  # analyzed pixels / original pixels
    source: av.VideoFrame | None = field(default=None, compare=False, repr=False)  # for full_rgb(), on demand
    quarter_turns: int = 0  # counter-clockwise quarter turns that make the coded picture upright

    def full_rgb(self) -> np.ndarray:
        """The upright frame at source resolution (converted only for the frame a caller returns)."""
        if self.source is None:
            return self.rgb
        return upright(self.source.to_ndarray(format="rgb24"), self.quarter_turns)


def quarter_turns(rotation_deg: float) -> int:
    """Counter-clockwise quarter turns for a display matrix's rotation (PyAV `frame.rotation`, degrees CCW).
    Phones record the sensor's landscape picture and tag it (-)90: without the turn the face lies on its side."""
    return int(round(rotation_deg / 90)) % 4


def upright(rgb: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _open(data: bytes) -> av.container.InputContainer:
    if not data:
        raise InputError(errors.EMPTY_INPUT, "The upload is empty (0 bytes).")
    if image_format(data) is not None:
        raise InputError(errors.EXPECTED_VIDEO, "Expected a video but received a still image.")
    demuxer = video_format(data)
    if demuxer is None:
        raise InputError(errors.UNSUPPORTED_MEDIA, "The upload is not a video in a supported format.")
    try:
        container = av.open(io.BytesIO(data), mode="r", format=demuxer, options=NO_PROTOCOLS)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InputError(errors.CORRUPT_MEDIA, f"The video is truncated or corrupt: {exc}.") from None
    if container.format.name.split(",")[0] not in DEMUXERS or not container.streams.video:
        container.close()
        raise InputError(errors.UNSUPPORTED_MEDIA, "The upload contains no video stream.")
    ctx = container.streams.video[0].codec_context
    if ctx is None or ctx.name not in VIDEO_CODECS:
        container.close()
        codec = ctx.name if ctx is not None else "an unknown codec"
        raise InputError(errors.UNSUPPORTED_MEDIA, f"The video uses {codec}, which is not a supported video codec.")
    return container


def probe(container: av.container.InputContainer, limits: MediaLimits) -> VideoInfo:
    stream = container.streams.video[0]
    ctx = stream.codec_context
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if container.duration:
        duration = container.duration / 1_000_000
    elif stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif stream.frames and fps:
        duration = stream.frames / fps
    else:
        duration = 0.0
    if stream.frames and duration > 0 and not stream.average_rate:
        fps = stream.frames / duration
    # Without a frame count the rate is nominal: trusted only when it is within the limit (no conflict to settle).
    trusted = bool(stream.frames) or fps <= limits.video_fps * FPS_TOLERANCE
    info = VideoInfo(
        duration, fps, ctx.width, ctx.height, stream.frames or None, container.format.name, ctx.name, trusted
    )
    check_limits(info, limits)
    return info


def check_frame_size(width: int, height: int, limits: MediaLimits) -> None:
    """The resolution rule, applied to the header and again to every decoded frame (a stream can change size).
    The limits bound the long and the short side (1920 and 1080 by default), so a portrait phone video
    (1080x1920) passes as its landscape twin does, and a rotation tag never changes the verdict."""
    if width <= 0 or height <= 0:
        raise InputError(errors.CORRUPT_MEDIA, "The video has no valid frame size.")
    long_limit, short_limit = (
        max(limits.video_width_px, limits.video_height_px),
        min(limits.video_width_px, limits.video_height_px),
    )
    if max(width, height) > long_limit or min(width, height) > short_limit:
        raise InputError(
            errors.RESOLUTION_TOO_HIGH,
            f"Video is {width}x{height}; the limit is {long_limit} px on the long side and {short_limit} px on the short side.",
        )


def max_frame_pixels(limits: MediaLimits) -> int:
    """The most pixels a frame within the resolution rule can have: the decoder refuses to allocate more. FFmpeg
    counts the width rounded up to its stride alignment (up to 64), so a portrait 1080x1920 frame is checked as
    1088x1920: the short side gets that headroom (check_frame_size still applies the exact rule to every frame)."""
    long_side = max(limits.video_width_px, limits.video_height_px)
    short_side = min(limits.video_width_px, limits.video_height_px)
    return long_side * (short_side + 64)


def check_limits(info: VideoInfo, limits: MediaLimits) -> None:
    check_frame_size(info.width, info.height, limits)
    if info.fps_trusted and info.fps > limits.video_fps * FPS_TOLERANCE:
        raise InputError(errors.FPS_TOO_HIGH, f"Video runs at {info.fps:.2f} fps; the limit is {limits.video_fps:g}.")
    if info.duration_s > limits.video_length_sec:
        raise InputError(
            errors.VIDEO_TOO_LONG, f"Video lasts {info.duration_s:.1f} s; the limit is {limits.video_length_sec:g} s."
        )
    if 0 < info.duration_s < limits.video_min_length_sec:
        raise InputError(
            errors.VIDEO_TOO_SHORT,
            f"Video lasts {info.duration_s:.2f} s; the minimum is {limits.video_min_length_sec:g} s.",
        )


def check_decoded_rate(frames: int, span_ms: float, limits: MediaLimits) -> None:
    """Refuses a stream whose decoded timestamps really come faster than the limit. One frame of slack absorbs
    the jitter of variable-rate recordings; below 1 s of span the count is judged as if it spanned 1 s, so a
    burst of hundreds of frames in a few milliseconds is refused after ~limit frames, not after the whole clip."""
    if frames < 3:
        return
    span_s = max(span_ms / 1000, 1.0)
    if frames - 2 > limits.video_fps * FPS_TOLERANCE * span_s:
        rate = (frames - 1) / max(span_ms / 1000, 1e-3)
        raise InputError(
            errors.FPS_TOO_HIGH, f"Video frames arrive at {rate:.1f} fps; the limit is {limits.video_fps:g}."
        )


def analysis_size(width: int, height: int, max_side: int) -> tuple[int, int, float]:
    scale = min(1.0, max_side / max(width, height))
    w, h = int(round(width * scale)) // 2 * 2, int(round(height * scale)) // 2 * 2
    return max(2, w), max(2, h), scale


class VideoReader:
    """Opens and probes on construction (cheap, header only); `frames()` decodes and samples."""

    def __init__(self, data: bytes, limits: MediaLimits) -> None:
        if len(data) > limits.video_size:
            raise InputError(errors.INPUT_TOO_LARGE, f"Video is {len(data)} bytes; the limit is {limits.video_size}.")
        self._limits = limits
        self.first_ms: float | None = None  # presentation times of the first and last decoded frames
        self.last_ms: float | None = None
        self.decoded = 0  # frames decoded so far
        self._container = _open(data)
        try:
            self.info = probe(self._container, limits)
        except BaseException:
            self._container.close()
            raise

    def frames(self, sample_fps: float, max_side: int) -> Iterator[DecodedFrame]:
        """Frames at most `sample_fps` apart, scaled so the longer side is at most `max_side`."""
        stream = self._container.streams.video[0]
        # The decoder itself refuses a frame larger than the rule allows (it would allocate it before we see it).
        stream.codec_context.options = {
            **stream.codec_context.options,
            "max_pixels": str(max_frame_pixels(self._limits)),
        }
        width, height, scale = analysis_size(self.info.width, self.info.height, max_side)
        step_ms = 1000.0 / sample_fps if sample_fps > 0 else 0.0
        next_ms = 0.0
        max_ms = self._limits.video_length_sec * 1000 + 1000
        frame_cap = int(self._limits.video_length_sec * self._limits.video_fps * FPS_TOLERANCE) + 2
        fallback_fps = (self.info.fps if self.info.fps_trusted else 0.0) or 25.0
        decoded = 0
        emitted = 0
        try:
            for frame in self._container.decode(stream):
                check_frame_size(frame.width, frame.height, self._limits)  # headers can change mid-stream
                index = decoded
                decoded += 1
                if decoded > frame_cap:
                    raise InputError(
                        errors.VIDEO_TOO_LONG, "Video has more frames than its length and fps limits allow."
                    )
                ts_ms = frame.time * 1000 if frame.time is not None else index * 1000 / fallback_fps
                self.first_ms = ts_ms if self.first_ms is None else min(self.first_ms, ts_ms)
                self.last_ms = ts_ms if self.last_ms is None else max(self.last_ms, ts_ms)
                self.decoded = decoded
                if ts_ms > max_ms:
                    raise InputError(errors.VIDEO_TOO_LONG, "Video runs past the length limit.")
                check_decoded_rate(decoded, self.last_ms - self.first_ms, self._limits)
                if ts_ms + 0.5 < next_ms:
                    continue
                next_ms = max(next_ms + step_ms, ts_ms + step_ms * 0.5)
                if frame.width != self.info.width or frame.height != self.info.height:
                    width, height, scale = analysis_size(frame.width, frame.height, max_side)
                turns = quarter_turns(frame.rotation)
                rgb = upright(frame.to_ndarray(format="rgb24", width=width, height=height), turns)
                emitted += 1
                yield DecodedFrame(index, int(round(ts_ms)), rgb, scale, frame, turns)
        except av.FFmpegError as exc:
            ctx = stream.codec_context  # a frame refused for its size fails as a decoding error: say which
            if ctx.width > 0 and ctx.height > 0:
                check_frame_size(ctx.width, ctx.height, self._limits)
            if emitted == 0:
                raise InputError(errors.CORRUPT_MEDIA, f"The video could not be decoded: {exc}.") from None
            # A stream cut short after some good frames is analyzed as far as it goes.
        if emitted == 0:
            raise InputError(errors.CORRUPT_MEDIA, "The video contains no decodable frames.")

    @property
    def decoded_seconds(self) -> float:
        """How long the decoded frames last (first to last presentation time plus one frame). Headers can
        claim any duration; this is what the stream really held, so short_time is judged on it."""
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        span_s = (self.last_ms - self.first_ms) / 1000
        if self.decoded >= 2 and span_s > 0:
            return span_s + span_s / (self.decoded - 1)  # plus one mean frame interval
        return span_s + 1 / ((self.info.fps if self.info.fps_trusted else 0.0) or 25.0)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
