"""Decoding uploaded media within limits. Every limit that a header can tell is checked before any frame
is decoded; the decoder then re-checks what headers can lie about (duration, frame count, frame rate).

Frame rate: a container that indexes its frames (MP4/MOV) gives a real average (frames / duration). A streamed
container (WebM/Matroska from a browser's MediaRecorder) has no frame count, and its header rate is often the time
base's tick rate (1000 "fps" for a 1 kHz time base) rather than how often frames come; there the header rate is
only a hint and the decoder measures the rate from the decoded timestamps instead."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterator

import av
import cv2
import numpy as np

from scoring import errors
from scoring.errors import InputError
from scoring.settings import MediaLimits

FPS_TOLERANCE = 1.01  # 30000/1001 and rounding in container headers
VIDEO_MAGIC = (
    (4, b"ftyp"),  # MP4 / MOV / 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"FLV"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF / WMV
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
    (0, b"\x47"),  # MPEG-TS sync byte (checked again at 188)
)
IMAGE_MAGIC = ((0, b"\xff\xd8\xff"), (0, b"\x89PNG\r\n\x1a\n"), (0, b"BM"))


def sniff(data: bytes) -> str | None:
    """'video', 'image' or None, from magic bytes only."""
    if data[:4] == b"RIFF":
        return "video" if data[8:12] == b"AVI " else ("image" if data[8:12] == b"WEBP" else None)
    if data[:4] == b"YUV4":
        return "video"
    for offset, magic in IMAGE_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return "image"
    for offset, magic in VIDEO_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if magic == b"\x47" and data[188:189] != b"\x47":
                continue
            return "video"
    return None


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
    rgb: np.ndarray
    scale: float  # analyzed pixels / original pixels


def _open(data: bytes) -> av.container.InputContainer:
    if not data:
        raise InputError(errors.EMPTY_INPUT, "The upload is empty (0 bytes).")
    kind = sniff(data)
    if kind == "image":
        raise InputError(errors.EXPECTED_VIDEO, "Expected a video but received a still image.")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        if kind == "video":
            raise InputError(errors.CORRUPT_MEDIA, f"The video is truncated or corrupt: {exc}.") from None
        raise InputError(errors.UNSUPPORTED_MEDIA, "The upload is not a video in a supported format.") from None
    if not container.streams.video:
        container.close()
        raise InputError(errors.UNSUPPORTED_MEDIA, "The upload contains no video stream.")
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
    info = VideoInfo(duration, fps, ctx.width, ctx.height, stream.frames or None, container.format.name, ctx.name, trusted)
    check_limits(info, limits)
    return info


def check_limits(info: VideoInfo, limits: MediaLimits) -> None:
    if info.width <= 0 or info.height <= 0:
        raise InputError(errors.CORRUPT_MEDIA, "The video has no valid frame size.")
    if info.width > limits.video_width_px or info.height > limits.video_height_px:
        raise InputError(
            errors.RESOLUTION_TOO_HIGH,
            f"Video is {info.width}x{info.height}; the limit is {limits.video_width_px}x{limits.video_height_px}.",
        )
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
                index = decoded
                decoded += 1
                if decoded > frame_cap:
                    raise InputError(errors.VIDEO_TOO_LONG, "Video has more frames than its length and fps limits allow.")
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
                rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
                emitted += 1
                yield DecodedFrame(index, int(round(ts_ms)), rgb, scale)
        except av.FFmpegError as exc:
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

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_image(data: bytes, limits: MediaLimits) -> np.ndarray:
    """RGB pixels of a JPEG/PNG/BMP/WebP still. Pixel limits are checked from the header before decoding."""
    if not data:
        raise InputError(errors.EMPTY_INPUT, "The image is empty (0 bytes).")
    if len(data) > limits.image_size:
        raise InputError(errors.INPUT_TOO_LARGE, f"Image is {len(data)} bytes; the limit is {limits.image_size}.")
    kind = sniff(data)
    if kind == "video":
        raise InputError(errors.EXPECTED_IMAGE, "Expected a still image but received a video.")
    if kind != "image":
        raise InputError(errors.UNSUPPORTED_MEDIA, "The upload is not a JPEG, PNG, BMP or WebP image.")
    size = image_header_size(data)
    if size is not None and size[0] * size[1] > limits.image_pixels:
        raise InputError(errors.RESOLUTION_TOO_HIGH, f"Image is {size[0]}x{size[1]} pixels; the limit is {limits.image_pixels} pixels.")
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(errors.CORRUPT_MEDIA, "The image is truncated or corrupt.")
    if bgr.shape[0] * bgr.shape[1] > limits.image_pixels:
        raise InputError(errors.RESOLUTION_TOO_HIGH, "Image has too many pixels.")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header without decoding; None when it cannot tell."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
    return None


def preflight(data: bytes, limits: MediaLimits) -> str:
    """'video' or 'image' when the upload passes every check that needs no model (size, format, headers);
    otherwise the same InputError the engine would raise. Lets a caller fail fast before loading models."""
    if not data:
        raise InputError(errors.EMPTY_INPUT, "The upload is empty (0 bytes).")
    if sniff(data) == "image":
        decode_image(data, limits)
        return "image"
    with VideoReader(data, limits):
        return "video"
