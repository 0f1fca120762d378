"""Turns one RGB frame into a FrameObservation: landmarks, pose, expression, quality, and on request
anti-spoof P(real) and an embedding. One analyzer per stream, because the landmarker tracks across frames."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from scoring.antispoof import AntiSpoofModel
from scoring.embedding import FaceEmbedder
from scoring.landmarks import RawFace, StreamLandmarker, pose_from_matrix
from scoring.observation import BBox, Expression, FaceObservation, FrameObservation, HeadPose, Quality
from scoring.reasons import Reason
from scoring.settings import FaceSelector


@dataclass
class StageTimer:
    """Accumulated seconds per stage, for the verdict's timings and the benchmark."""

    seconds: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    keep_samples: bool = False

    def add(self, stage: str, elapsed: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed
        if self.keep_samples:
            self.samples.setdefault(stage, []).append(elapsed)


def face_bbox(landmarks_norm: np.ndarray, width: int, height: int) -> BBox:
    xs = landmarks_norm[:, 0] * width
    ys = landmarks_norm[:, 1] * height
    return BBox(
        max(0, int(xs.min())),
        max(0, int(ys.min())),
        min(width, int(np.ceil(xs.max()))),
        min(height, int(np.ceil(ys.max()))),
    )


def measure_quality(rgb: np.ndarray, bbox: BBox, landmarks_norm: np.ndarray, pose: HeadPose) -> Quality:
    height, width = rgb.shape[:2]
    inside = bool(
        landmarks_norm[:, 0].min() >= 0.0
        and landmarks_norm[:, 0].max() <= 1.0
        and landmarks_norm[:, 1].min() >= 0.0
        and landmarks_norm[:, 1].max() <= 1.0
    )
    face_ratio = bbox.width / max(1, width)
    patch = rgb[bbox.top : bbox.bottom, bbox.left : bbox.right]
    if patch.size == 0:
        return Quality(face_ratio, 0.0, 0.0, False, 0.0)
    gray = cv2.cvtColor(cv2.resize(patch, (64, 64), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    brightness = float(gray.mean()) / 255.0
    lap_var = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    sharpness = lap_var / (lap_var + 100.0)
    size_score = min(1.0, face_ratio / 0.35)
    light_score = max(0.0, 1.0 - abs(brightness - 0.5) / 0.5)
    frontal = max(0.0, 1.0 - (abs(pose.yaw) + abs(pose.pitch)) / 60.0)
    score = (size_score * 0.3 + sharpness * 0.3 + light_score * 0.2 + frontal * 0.2) * (1.0 if inside else 0.5)
    return Quality(face_ratio, sharpness, brightness, inside, float(score))


def choose_face(faces: list[RawFace], policy: str) -> tuple[RawFace | None, str | None]:
    if not faces:
        return None, Reason.NO_FACE
    if len(faces) > 1:
        if policy == FaceSelector.REJECT:
            return None, Reason.MULTIPLE_FACES
        return max(faces, key=lambda f: np.ptp(f.landmarks[:, 0]) * np.ptp(f.landmarks[:, 1])), None
    return faces[0], None


class FrameAnalyzer:
    """Per-stream analyzer. Not thread-safe: feed it frames from one thread at a time, in time order."""

    def __init__(
        self,
        landmarker: StreamLandmarker,
        antispoof: AntiSpoofModel,
        embedder: FaceEmbedder,
        *,
        mf_selector: str = FaceSelector.REJECT,
        timer: StageTimer | None = None,
    ) -> None:
        self.landmarker = landmarker
        self.antispoof = antispoof
        self.embedder = embedder
        self.mf_selector = mf_selector
        self.timer = timer or StageTimer()

    def analyze(
        self, rgb: np.ndarray, timestamp_ms: int, frame_no: int = 0, *, liveness: bool = True, embed: bool = False
    ) -> FrameObservation:
        height, width = rgb.shape[:2]
        start = time.perf_counter()
        faces = self.landmarker.detect(rgb, timestamp_ms)
        self.timer.add("landmarks", time.perf_counter() - start)
        raw, rejected = choose_face(faces, self.mf_selector)
        if raw is None:
            return FrameObservation(timestamp_ms, frame_no, width, height, len(faces), None, rejected)
        face = self.describe(rgb, raw)
        if liveness:
            face = self.add_liveness(rgb, face)
        if embed:
            face = self.add_embedding(rgb, face)
        return FrameObservation(timestamp_ms, frame_no, width, height, len(faces), face)

    def describe(self, rgb: np.ndarray, raw: RawFace) -> FaceObservation:
        start = time.perf_counter()
        height, width = rgb.shape[:2]
        bbox = face_bbox(raw.landmarks, width, height)
        pose = HeadPose(*pose_from_matrix(raw.matrix))
        b = raw.blendshapes
        expression = Expression(
            blink=(b.get("eyeBlinkLeft", 0.0) + b.get("eyeBlinkRight", 0.0)) / 2,
            mouth_open=b.get("jawOpen", 0.0),
            smile=(b.get("mouthSmileLeft", 0.0) + b.get("mouthSmileRight", 0.0)) / 2,
        )
        points = raw.landmarks * np.array([width, height, width], dtype=np.float32)
        quality = measure_quality(rgb, bbox, raw.landmarks, pose)
        self.timer.add("describe", time.perf_counter() - start)
        return FaceObservation(bbox, points, pose, expression, quality)

    def add_liveness(self, rgb: np.ndarray, face: FaceObservation) -> FaceObservation:
        start = time.perf_counter()
        score = self.antispoof.predict(rgb, face.bbox)
        self.timer.add("antispoof", time.perf_counter() - start)
        return replace(face, liveness=score)

    def add_embedding(self, rgb: np.ndarray, face: FaceObservation) -> FaceObservation:
        start = time.perf_counter()
        vector = self.embedder.embed(rgb, face.landmarks)
        self.timer.add("embedding", time.perf_counter() - start)
        return replace(face, embedding=vector)
