"""Clips for the attack generators: frames in memory at a frame rate, read from live media and written as H.264
MP4 (the same encoding every generated attack gets)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MAX_SIDE = 640  # stills are scaled to this before they become clips
STILL_SECONDS = 3.0  # length of clips made from one frame
STILL_FPS = 25.0


@dataclass
class Clip:
    frames: list[np.ndarray]  # RGB uint8, all the same size (even width and height)
    fps: float

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h


# -- media in and out ---------------------------------------------------------------------------------------


def _even(rgb: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    nw, nh = int(w * scale) // 2 * 2, int(h * scale) // 2 * 2
    return cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA) if (nw, nh) != (w, h) else rgb


def read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path}: not a readable image")
    return _even(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def read_video(path: Path, max_seconds: float = 10.0) -> Clip:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        frames = []
        for frame in container.decode(stream):
            frames.append(_even(frame.to_ndarray(format="rgb24")))
            if len(frames) >= max_seconds * fps:
                break
    if not frames:
        raise ValueError(f"{path}: no frames")
    return Clip(frames, fps)


def read_frame(path: Path, at_s: float | None) -> np.ndarray:
    """A still, or the frame of a video at `at_s` seconds (default: the middle)."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path)
    clip = read_video(path, max_seconds=60.0)
    index = len(clip.frames) // 2 if at_s is None else int(at_s * clip.fps)
    return clip.frames[min(max(index, 0), len(clip.frames) - 1)]


def _yuv_frame(rgb: np.ndarray) -> av.VideoFrame:
    """A yuv420p frame with its row padding zeroed (OpenCV's colour conversion, not swscale's)."""
    h, w = rgb.shape[:2]
    i420 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
    planes = (
        i420[:h].reshape(h, w),
        i420[h : h + h // 4].reshape(h // 2, w // 2),
        i420[h + h // 4 :].reshape(h // 2, w // 2),
    )
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, planes):
        padded = np.zeros((data.shape[0], plane.line_size), dtype=np.uint8)
        padded[:, : data.shape[1]] = data
        plane.update(padded.tobytes())
    return frame


def encoded_size(width: int, height: int) -> tuple[int, int]:
    """The size a clip is written at: width scaled to the nearest multiple of 128 (height in proportion).
    x264 (PyAV 18, single-threaded) reads a little past the end of each row of an input plane whose width is not
    a multiple of 64, so clips 480 or 448 wide came out with different bytes depending on what the process had
    allocated before (measured: 3 different encodes of one 480-wide clip in 4 writes; 384/512/640 always one)."""
    target = max(128, int(round(width / 128)) * 128)
    return target, max(4, int(round(height * target / width / 4)) * 4)  # OpenCV's I420 planes need height % 4 == 0


def write_video(path: Path, clip: Clip) -> None:
    """H.264 MP4, yuv420p, at the clip's frame rate, byte-for-byte repeatable: frames whose width is not a
    multiple of 128 are scaled uniformly to one that is (`encoded_size`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = encoded_size(*clip.size)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(clip.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.thread_count = 1
        stream.options = {"crf": "20", "preset": "veryfast", "threads": "1"}
        for index, rgb in enumerate(clip.frames):
            if rgb.shape[:2] != (h, w):
                rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if w < rgb.shape[1] else cv2.INTER_LINEAR)
            frame = _yuv_frame(rgb)
            frame.pts = index
            frame.time_base = Fraction(1) / stream.codec_context.framerate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
