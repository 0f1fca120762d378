"""Passive anti-spoof: the MiniFASNet V2 (scale 2.7) + V1SE (scale 4.0) ensemble, preprocessed exactly as
models/MANIFEST says: scaled box shifted inside the image, BGR 0..255 float CHW 80x80, softmax, index 1 = real."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from scoring.observation import BBox
from scoring.onnx_session import create_session

INPUT_SIZE = 80


@dataclass(frozen=True)
class _Member:
    scale: float
    session: ort.InferenceSession


def crop_box(bbox: BBox, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The MiniFASNet crop: the box scaled about its centre (scale capped to fit), shifted back inside."""
    w, h = max(1, bbox.width), max(1, bbox.height)
    scale = min((height - 1) / h, (width - 1) / w, scale)
    new_w, new_h = w * scale, h * scale
    cx, cy = bbox.left + w / 2, bbox.top + h / 2
    left, top = cx - new_w / 2, cy - new_h / 2
    right, bottom = cx + new_w / 2, cy + new_h / 2
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > width - 1:
        left -= right - width + 1
        right = width - 1
    if bottom > height - 1:
        top -= bottom - height + 1
        bottom = height - 1
    return int(left), int(top), int(right), int(bottom)


class AntiSpoofModel:
    """Thread-safe (onnxruntime sessions are); one instance serves every stream."""

    def __init__(self, v2_path: Path, v1se_path: Path, threads: int = 1) -> None:
        self._members = (
            _Member(2.7, create_session(str(v2_path), threads)),
            _Member(4.0, create_session(str(v1se_path), threads)),
        )

    def crops(self, rgb: np.ndarray, bbox: BBox) -> list[np.ndarray]:
        """One 3x80x80 float32 BGR crop per ensemble member."""
        height, width = rgb.shape[:2]
        out = []
        for member in self._members:
            left, top, right, bottom = crop_box(bbox, member.scale, width, height)
            patch = cv2.resize(rgb[top : bottom + 1, left : right + 1], (INPUT_SIZE, INPUT_SIZE))
            out.append(patch[:, :, ::-1].transpose(2, 0, 1).astype(np.float32))
        return out

    def predict_crops(self, crops: list[list[np.ndarray]]) -> np.ndarray:
        """P(real) for a batch of faces; `crops[i]` is what `crops()` returned for face i."""
        if not crops:
            return np.zeros((0,), dtype=np.float32)
        total = np.zeros((len(crops), 3), dtype=np.float64)
        for index, member in enumerate(self._members):
            batch = np.stack([c[index] for c in crops])
            logits = member.session.run(None, {"input": batch})[0].astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            total += probs / probs.sum(axis=1, keepdims=True)
        return (total[:, 1] / len(self._members)).astype(np.float32)

    def predict(self, rgb: np.ndarray, bbox: BBox) -> float:
        return float(self.predict_crops([self.crops(rgb, bbox)])[0])
