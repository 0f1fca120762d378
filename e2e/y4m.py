"""Fake-camera files for Chromium (`--use-file-for-fake-video-capture=FILE.y4m`), generated from ../shared/media.

Chromium plays a .y4m file in a loop as the camera. Only 4:2:0 planar frames with even sizes are accepted, so
every source is converted to that here. Nothing generated is committed (.gitignore blocks *.y4m).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


@dataclass(frozen=True)
class Y4mInfo:
    """What was written: enough for a test to reason about timing (the fake camera loops the file)."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames: int

    @property
    def seconds(self) -> float:
        return float(self.frames / self.fps)


def _even(n: int) -> int:
    return n - (n % 2)


def _write(path: Path, frames: Iterable[av.VideoFrame], width: int, height: int, fps: Fraction) -> Y4mInfo:
    count = 0
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps.numerator}:{fps.denominator} Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            yuv = frame.reformat(width=width, height=height, format="yuv420p")
            out.write(b"FRAME\n")
            for plane_index, (w, h) in enumerate(
                ((width, height), (width // 2, height // 2), (width // 2, height // 2))
            ):
                plane = yuv.planes[plane_index]
                data = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(h, plane.line_size)[:, :w]
                out.write(data.tobytes())
            count += 1
    return Y4mInfo(path, width, height, fps, count)


def _held_then_played(frames: Iterator[av.VideoFrame], hold: int, until_s: float | None) -> Iterator[av.VideoFrame]:
    first = next(frames)
    for _ in range(hold):
        yield first
    yield first
    for frame in frames:
        if until_s is not None and frame.time is not None and frame.time >= until_s:
            return
        yield frame


def video_to_y4m(
    source: Path, target: Path, *, max_side: int | None = None, hold_first_s: float = 0.0, until_s: float | None = None
) -> Y4mInfo:
    """A recorded clip as the camera, at its own frame rate (so action timing matches the clip).

    hold_first_s: the first frame is shown this long first, like a person holding still in the oval as told
    before they move; until_s: the clip is cut there (the camera loops the file)."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate or 25).limit_denominator(1000)
        width, height = stream.codec_context.width, stream.codec_context.height
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = int(width * scale), int(height * scale)
        width, height = _even(width), _even(height)
        frames = _held_then_played(container.decode(stream), round(hold_first_s * fps), until_s)
        return _write(target, frames, width, height, fps)


def _repeat(image: av.VideoFrame, count: int) -> Iterator[av.VideoFrame]:
    for _ in range(count):
        yield image


def still_to_y4m(source: Path, target: Path, *, seconds: float = 1.0, fps: int = 15) -> Y4mInfo:
    """One photo repeated: a camera that sees a perfectly still picture (the classic photo attack)."""
    bgr = cv2.imread(str(source))  # applies the EXIF orientation, as a browser would
    if bgr is None:
        raise ValueError(f"cannot read image {source}")
    rgb = np.asarray(
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8
    )  # uint8 already: no copy, only the type PyAV asks for
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    width, height = _even(frame.width), _even(frame.height)
    return _write(target, _repeat(frame, max(1, int(seconds * fps))), width, height, Fraction(fps))


def generate_all(media: Path, out_dir: Path) -> dict[str, Y4mInfo]:
    """The cameras the e2e tests use, keyed by a short name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        # d12 turns left at ~1.5 s, right at ~3.2 s, opens the mouth at ~4.7 s; it opens it again at 6.5 s, which
        # is cut so the loop's still moment (the held first frame) is the one the server takes as the rest pose.
        "d12": video_to_y4m(media / "videos" / "d12.mp4", out_dir / "d12.y4m", hold_first_s=1.5, until_s=6.0),
        "live_still": still_to_y4m(media / "images" / "image_T1.jpg", out_dir / "live_still.y4m"),
        "printed_photo": still_to_y4m(media / "images" / "image_F1.jpg", out_dir / "printed_photo.y4m"),
    }


if __name__ == "__main__":
    import os

    media_dir = Path(os.environ.get("LIVECHECK_MEDIA", "../shared/media"))
    for name, info in generate_all(media_dir, Path(sys.argv[1] if len(sys.argv) > 1 else "artifacts/cameras")).items():
        print(
            f"{name}: {info.path} {info.width}x{info.height} @ {info.fps} fps, {info.frames} frames ({info.seconds:.1f} s)"
        )
