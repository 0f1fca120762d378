"""SFace face embeddings: 5 points from the landmarks, similarity-aligned to the 112x112 template."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx

from scoring import mesh
from scoring.onnx_session import create_session

TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def five_points(landmarks_px: np.ndarray) -> np.ndarray:
    """(5, 2) pixels: eye, eye, nose, mouth corner, mouth corner; image-left first within each pair."""
    eyes = sorted((landmarks_px[i, :2] for i in mesh.IRIS_CENTRES), key=lambda p: p[0])
    mouth = sorted((landmarks_px[i, :2] for i in mesh.MOUTH_CORNERS), key=lambda p: p[0])
    return np.array([eyes[0], eyes[1], landmarks_px[mesh.NOSE_TIP, :2], mouth[0], mouth[1]], dtype=np.float64)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama) mapping src points onto dst; a 2x3 matrix for cv2.warpAffine."""
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1
    rotation = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / src_c.var(axis=0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_face(rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """112x112 RGB aligned face (also what the APIs return as the 'normalized' face image)."""
    matrix = similarity_transform(five_points(landmarks_px), TEMPLATE)
    return cv2.warpAffine(rgb, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _strip_unused_inputs(path: Path) -> bytes:
    """The file declares 29 graph inputs no node reads; onnxruntime would demand feeds for them."""
    model = onnx.load(str(path))
    consumed = {name for node in model.graph.node for name in node.input}
    keep = [i for i in model.graph.input if i.name in consumed]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model.SerializeToString()


class FaceEmbedder:
    def __init__(self, model_path: Path, threads: int = 1) -> None:
        self._session = create_session(_strip_unused_inputs(model_path), threads)
        self._input = self._session.get_inputs()[0].name

    def embed_aligned(self, aligned_rgb: np.ndarray) -> np.ndarray:
        blob = aligned_rgb.transpose(2, 0, 1)[None].astype(np.float32)
        vector = self._session.run(None, {self._input: blob})[0][0].astype(np.float32)
        return vector / (np.linalg.norm(vector) + 1e-12)

    def embed(self, rgb: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
        return self.embed_aligned(align_face(rgb, landmarks_px))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))
