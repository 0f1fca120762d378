"""MediaPipe FaceLandmarker behind a small interface: RGB frame in, raw faces out.

VIDEO mode needs strictly increasing timestamps per instance, and an instance costs ~0.6 s to create, so
`StreamLandmarker` re-bases each new stream's timestamps onto the instance's own monotonic clock and
`LandmarkerPool` lends instances out instead of creating one per request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions
from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

from scoring.errors import Overloaded

BLENDSHAPES = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthSmileRight")


@dataclass(frozen=True)
class RawFace:
    """Landmarks in normalised image coordinates (478, 3), chosen blendshapes, and the 4x4 pose matrix."""

    landmarks: np.ndarray
    blendshapes: dict[str, float]
    matrix: np.ndarray


def pose_from_matrix(matrix: np.ndarray) -> tuple[float, float, float]:
    """yaw, pitch, roll in degrees from MediaPipe's facial transformation matrix (see MANIFEST.md)."""
    r = matrix
    yaw = math.degrees(math.atan2(-r[2, 0], math.hypot(r[0, 0], r[1, 0])))
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return yaw, pitch, roll


class StreamLandmarker:
    """One MediaPipe instance. Use `begin_stream()` before each new stream of frames."""

    def __init__(self, model_path: Path, *, video: bool = True, max_faces: int = 2) -> None:
        options = FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=VisionTaskRunningMode.VIDEO if video else VisionTaskRunningMode.IMAGE,
            num_faces=max_faces,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self.video = video
        self._landmarker = FaceLandmarker.create_from_options(options)
        self._last_ts = -1
        self._offset = 0

    def begin_stream(self) -> None:
        # A gap of one second tells the tracker nothing carries over from the previous stream.
        self._offset = self._last_ts + 1000

    def detect(self, rgb: np.ndarray, timestamp_ms: int) -> list[RawFace]:
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.video:
            ts = max(self._offset + int(timestamp_ms), self._last_ts + 1)
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        else:
            result = self._landmarker.detect(image)
        faces = []
        for i, points in enumerate(result.face_landmarks):
            landmarks = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
            shapes = {}
            if result.face_blendshapes:
                shapes = {
                    c.category_name: c.score for c in result.face_blendshapes[i] if c.category_name in BLENDSHAPES
                }
            matrix = (
                np.asarray(result.facial_transformation_matrixes[i])
                if result.facial_transformation_matrixes
                else np.eye(4)
            )
            faces.append(RawFace(landmarks, shapes, matrix))
        return faces

    def close(self) -> None:
        self._landmarker.close()


class LandmarkerPool:
    """Lends landmarkers (VIDEO mode for streams, IMAGE mode for stills); creates new ones up to `max_size`, then callers wait for a free one."""

    def __init__(
        self, model_path: Path, max_size: int, *, video: bool = True, max_faces: int = 2, name: str = ""
    ) -> None:
        self.name = name or ("video" if video else "still")
        self._model_path = model_path
        self._video = video
        self._max_faces = max_faces
        self._idle: list[StreamLandmarker] = []
        self._created = 0
        self._max_size = max_size
        self._cond = threading.Condition()
        self._closed = False

    def prewarm(self, count: int) -> None:
        with self._cond:
            while self._created < min(count, self._max_size):
                self._idle.append(StreamLandmarker(self._model_path, video=self._video, max_faces=self._max_faces))
                self._created += 1

    def acquire(self, timeout: float | None = None) -> StreamLandmarker:
        """A free landmarker; waits at most `timeout` seconds in total (None: no limit) and then raises
        Overloaded, so a caller never waits behind other streams without bound."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._idle and self._created >= self._max_size and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Overloaded(
                        f"All {self._max_size} {self.name} face landmarkers stayed busy for {timeout:g} s.",
                        max(1, math.ceil(timeout or 1)),
                    )
                self._cond.wait(remaining)
            if self._closed:
                raise RuntimeError("landmarker pool is closed")
            if self._idle:
                item = self._idle.pop()
            else:
                self._created += 1
                item = None
        if item is None:
            try:
                item = StreamLandmarker(self._model_path, video=self._video, max_faces=self._max_faces)
            except BaseException:
                with self._cond:
                    self._created -= 1
                    self._cond.notify()
                raise
        item.begin_stream()
        return item

    def release(self, item: StreamLandmarker) -> None:
        with self._cond:
            if self._closed:
                item.close()
                return
            self._idle.append(item)
            self._cond.notify()

    @contextmanager
    def lend(self, timeout: float | None = None) -> Iterator[StreamLandmarker]:
        item = self.acquire(timeout)
        try:
            yield item
        finally:
            self.release(item)

    @property
    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"created": self._created, "idle": len(self._idle)}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()  # waiters give up instead of waiting for a release that never comes
        for item in idle:
            item.close()
