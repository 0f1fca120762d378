"""MediaPipe FaceLandmarker behind a small interface: RGB frame in, raw faces out.

A VIDEO-mode instance tracks: each frame's landmarks start from the previous frame's, whatever gap the timestamps
leave, so an instance that had seen one clip answered the next clip differently (mt_yongen 0.709586 alone,
0.71031 right after mt_sun). A liveness answer must be a function of its input, so a VIDEO instance serves one
stream and is then closed (`LandmarkerPool` never lends it again); creating one costs ~15-50 ms against seconds of
analysis (bench/landmarker_cost.py). IMAGE-mode instances hold nothing between calls and are reused.
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - its exit hook must be registered before ours (see below)
import math
import queue
import threading
import time
import weakref
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


_CLOSING: queue.SimpleQueue[object] = queue.SimpleQueue()
_closer_lock = threading.Lock()
_closer: threading.Thread | None = None
_UNCLOSED: set[object] = set()  # every MediaPipe instance not yet closed, closed at interpreter exit
_closing_lock = threading.Lock()  # one close at a time: the closer thread's and the exit hook's


def _close_in_background(landmarker: object) -> None:
    """Closes a MediaPipe landmarker on one daemon thread of its own, never inline. Why: MediaPipe's close waits on
    its task dispatcher, and run from a garbage collection that the event loop thread triggered (a landmarker
    dropped without close) it deadlocked the whole process (seen in the WebRTC tests: the loop blocked in
    FaceLandmarker.__del__). On this thread a close that never returns blocks only later closes."""
    global _closer
    _CLOSING.put(landmarker)
    with _closer_lock:
        if _closer is None or not _closer.is_alive():
            _closer = threading.Thread(target=_close_queued, name="landmarker-closer", daemon=True)
            _closer.start()


def _close_queued() -> None:
    while True:
        landmarker = _CLOSING.get()
        with _closing_lock:
            _close_now(landmarker)
        del landmarker  # its __del__ (a second, no-op close) runs here too


def _close_now(landmarker: object) -> None:
    try:
        landmarker.close()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a landmarker that fails to close is dropped all the same
        pass
    _UNCLOSED.discard(landmarker)


def _close_all_at_exit() -> None:
    """Closes what is still open before concurrent.futures shuts its executors down. Why: MediaPipe's close submits
    to an executor, and a landmarker left to the interpreter's teardown printed "Exception ignored in
    FaceLandmarker.__del__ ... cannot schedule new futures after interpreter shutdown" on every CLI exit.
    Hooks registered with threading run last-registered first, so this one runs before concurrent.futures' own:
    concurrent.futures.thread is imported at the top of this module for that (it is otherwise imported lazily, by
    the first executor, and its hook then ran first: an unclosed landmarker failed at exit)."""
    if not _closing_lock.acquire(timeout=5.0):  # a close stuck on the closer thread must not hang the exit
        return
    try:
        for landmarker in list(_UNCLOSED):
            _close_now(landmarker)
    finally:
        _closing_lock.release()


threading._register_atexit(_close_all_at_exit)  # type: ignore[attr-defined]  # noqa: SLF001 - see above


class StreamLandmarker:
    """One MediaPipe instance. In VIDEO mode it serves a single stream: `begin_stream()` once, then frames.
    Closed explicitly or, if dropped without, by a finalizer: either way on the closer thread."""

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
        _UNCLOSED.add(self._landmarker)
        self._finalizer = weakref.finalize(self, _close_in_background, self._landmarker)
        self._finalizer.atexit = False  # at exit the interpreter tears MediaPipe down itself
        self._last_ts = -1
        self._offset = 0
        self._streams = 0

    @property
    def used(self) -> bool:
        """A VIDEO instance that has begun a stream carries that stream's tracking state."""
        return self.video and self._streams > 0

    def begin_stream(self) -> None:
        if self.used:
            raise RuntimeError("a VIDEO landmarker tracks across frames: it serves one stream only")
        self._streams += 1
        # The first timestamp a fresh instance has always seen (kept so results stay what they were).
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
        self._finalizer()  # once: hands the instance to the closer thread


class LandmarkerPool:
    """Lends landmarkers (VIDEO mode for streams, IMAGE mode for stills); at most `max_size` exist at once, then
    callers wait for one to be given back. A VIDEO landmarker given back is closed, never lent again: each stream
    gets a fresh one (a prewarmed spare or a new one)."""

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
            spent = self._closed or item.used
            if spent:
                self._created -= 1  # its place is free for a fresh instance
            else:
                self._idle.append(item)
            self._cond.notify()
        if spent:
            item.close()

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
