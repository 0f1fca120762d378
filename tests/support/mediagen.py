"""Derived test media, generated at test time from the shared clips (never committed): decoded frame lists,
clips cut and spliced with PyAV, H.264 re-encodes, side-by-side stills, corrupt files."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from fractions import Fraction

import av
import cv2
import numpy as np


def decode_frames(data: bytes, start_s: float = 0.0, end_s: float | None = None) -> tuple[list[np.ndarray], float]:
    """RGB frames whose presentation time lies in [start_s, end_s), and the clip's frame rate."""
    frames: list[np.ndarray] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        for index, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else index / fps
            if t < start_s - 1e-6:
                continue
            if end_s is not None and t >= end_s - 1e-6:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
    return frames, fps


def resize_frames(frames: Iterable[np.ndarray], width: int, height: int) -> list[np.ndarray]:
    return [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]


def fit_frame(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scales to fit inside width x height and pads with black (keeps the face's proportions)."""
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = int(round(w * scale)), int(round(h * scale))
    out = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    out[top : top + nh, left : left + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def encode_video(
    frames: Sequence[np.ndarray],
    fps: float = 25.0,
    *,
    codec: str = "libx264",
    container: str = "mp4",
    crf: int = 20,
    fragmented: bool = False,
) -> bytes:
    """Encodes equally sized RGB frames (even width and height) into an in-memory clip. `fragmented` writes
    the index first (fragmented MP4), so a truncated copy still holds decodable frames."""
    if not frames:
        raise ValueError("no frames to encode")
    height, width = frames[0].shape[:2]
    buffer = io.BytesIO()
    options = {"movflags": "frag_keyframe+empty_moov"} if fragmented else {}
    with av.open(buffer, mode="w", format=container, options=options) as out:
        rate = Fraction(fps).limit_denominator(1001)
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, av.VideoStream), codec
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def cut_clip(data: bytes, start_s: float, end_s: float, size: tuple[int, int] | None = None) -> bytes:
    """A re-encoded H.264 piece [start_s, end_s) of a clip, optionally resized to (width, height)."""
    frames, fps = decode_frames(data, start_s, end_s)
    if size:
        frames = resize_frames(frames, *size)
    return encode_video(frames, fps)


def splice_clips(
    parts: Sequence[tuple[bytes, float, float]], size: tuple[int, int] = (480, 480), fps: float = 25.0
) -> bytes:
    """Pieces (data, start_s, end_s) of several clips, resized to one size and re-encoded as one H.264 clip.
    Each piece is resampled to `fps` so the joined clip keeps a constant frame rate."""
    frames: list[np.ndarray] = []
    for data, start, end in parts:
        piece, piece_fps = decode_frames(data, start, end)
        wanted = int(round((end - start) * fps))
        picks = [min(len(piece) - 1, int(i * piece_fps / fps)) for i in range(wanted)]
        frames.extend(resize_frames((piece[i] for i in picks), *size))
    return encode_video(frames, fps)


def repeated_frame_clip(rgb: np.ndarray, seconds: float = 3.0, fps: float = 25.0) -> bytes:
    """One frame held still: what a photo turned into a video looks like."""
    return encode_video([rgb] * int(round(seconds * fps)), fps)


def side_by_side(left: np.ndarray, right: np.ndarray, height: int = 480) -> np.ndarray:
    """Two RGB images scaled to one height and joined horizontally (width made even)."""
    parts = [
        cv2.resize(img, (int(round(img.shape[1] * height / img.shape[0])), height), interpolation=cv2.INTER_AREA)
        for img in (left, right)
    ]
    joined = np.concatenate(parts, axis=1)
    return joined[:, : joined.shape[1] // 2 * 2]


def read_rgb(data: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def flip_byte(data: bytes, offset: int) -> bytes:
    """Corrupts one byte (xor 0xFF) without changing the length."""
    out = bytearray(data)
    out[offset] ^= 0xFF
    return bytes(out)


def encode_webm(
    frames: Sequence[np.ndarray], intervals_ms: Sequence[float], *, nominal_rate: int = 1000, codec: str = "libvpx"
) -> bytes:
    """VP8/VP9 WebM with a 1 kHz time base and the given gaps between frames (len(frames) - 1 of them), as a
    browser's MediaRecorder writes it: variable frame rate, and a header rate (`nominal_rate`) that is the
    time base's tick rate, not how often frames come."""
    if len(intervals_ms) < len(frames) - 1:
        raise ValueError("one interval per gap between frames")
    height, width = frames[0].shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as out:
        stream = out.add_stream(codec, rate=nominal_rate)
        assert isinstance(stream, av.VideoStream), codec
        stream.width, stream.height = width // 2 * 2, height // 2 * 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        t = 0.0
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(rgb[: stream.height, : stream.width]), format="rgb24"
            )
            frame.pts, frame.time_base = int(round(t)), Fraction(1, 1000)
            if index < len(frames) - 1:
                t += intervals_ms[index]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def looped_clip(data: bytes, start_s: float = 0.0, loop_s: float = 1.0, seconds: float = 4.0) -> bytes:
    """A piece [start_s, start_s + loop_s) of a live clip played over and over for `seconds` (H.264): a replayed
    recording looped to fill the time asked for."""
    part, fps = decode_frames(data, start_s, start_s + loop_s)
    count = int(round(seconds * fps))
    return encode_video([part[i % len(part)] for i in range(count)], fps)
