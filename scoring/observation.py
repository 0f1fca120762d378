"""What one analyzed frame says about the face in it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class BBox:
    """Pixel box in the analyzed frame; right/bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def scaled(self, factor: float) -> BBox:
        return BBox(*(int(round(v * factor)) for v in (self.left, self.top, self.right, self.bottom)))

    def to_dict(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom}


@dataclass(frozen=True)
class HeadPose:
    """Degrees. yaw > 0: the user turned to their own left; pitch > 0: chin up; roll > 0: head tilted to
    the user's own left shoulder... as seen by an unmirrored camera (tests pin the yaw sign on real media)."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class Expression:
    """0..1 blendshape scores."""

    blink: float
    mouth_open: float
    smile: float


@dataclass(frozen=True)
class Quality:
    face_ratio: float  # face width / frame width
    sharpness: float  # 0..1, from the Laplacian variance of the face
    brightness: float  # 0..1, mean luma of the face
    inside: bool  # the whole face lies inside the frame
    score: float  # 0..1 overall, used to pick the best face

    def to_dict(self) -> dict[str, float | bool]:
        return {
            "score": round(self.score, 4),
            "face_ratio": round(self.face_ratio, 4),
            "sharpness": round(self.sharpness, 4),
            "brightness": round(self.brightness, 4),
            "inside": self.inside,
        }


@dataclass(frozen=True)
class FaceObservation:
    bbox: BBox
    landmarks: np.ndarray = field(repr=False)  # (478, 3) in pixels (x, y) and mediapipe's relative z
    pose: HeadPose
    expression: Expression
    quality: Quality
    liveness: float | None = None  # anti-spoof ensemble P(real), when it ran on this frame
    embedding: np.ndarray | None = field(default=None, repr=False)  # L2-normalised 128-d, on demand


@dataclass(frozen=True)
class FrameObservation:
    """One frame: when it was taken, how many faces, and the face chosen by the multi-face policy."""

    timestamp_ms: int
    frame_no: int
    width: int
    height: int
    face_count: int
    face: FaceObservation | None
    rejected: str | None = None  # why no face was chosen: no_face | multiple_faces

    @property
    def usable(self) -> bool:
        return self.face is not None
