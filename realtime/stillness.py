"""The static/replay check of a live stream: a still photo (or a frozen frame) fed to a virtual camera passes
anti-spoof frame by frame; only its lack of motion gives it away.

Per-frame thumbnail differences (what scoring.verdict uses for uploaded clips) do not work here: VP8 keeps
re-encoding a still picture, so consecutive frames differ by codec noise alone. Landmarks, pose and mouth
opening jitter far less under codec noise than on a live face, so the check looks at their spread over the whole
check. Thresholds were measured over WebRTC on loopback (docs/protocol.md, "Static check").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from scoring.observation import FaceObservation

STILLNESS_POINTS = [1, 33, 263, 61, 291, 152]  # nose tip, eye corners, mouth corners, chin (as scoring.verdict)
WINDOW = 300  # analyzed frames kept (20 s at 15 fps)


@dataclass(frozen=True)
class StillnessLimits:
    """A stream is static when every measure stays below its limit (a live face exceeds at least one)."""

    max_spread: float = 0.012  # std of landmark positions / face width
    max_mouth_range: float = 0.03  # max - min of jawOpen
    max_pose_std_deg: float = 0.6  # std of yaw and of pitch
    min_frames: int = 10  # fewer faces than this: no opinion


class StillnessCheck:
    """Collects a few numbers per analyzed face (not the frames) and tells whether the stream was static."""

    def __init__(self, limits: StillnessLimits = StillnessLimits()) -> None:
        self.limits = limits
        self._points: deque[np.ndarray] = deque(maxlen=WINDOW)
        self._pose: deque[tuple[float, float, float]] = deque(maxlen=WINDOW)

    def add(self, face: FaceObservation) -> None:
        self._points.append(face.landmarks[STILLNESS_POINTS, :2] / max(1, face.bbox.width))
        self._pose.append((face.pose.yaw, face.pose.pitch, face.expression.mouth_open))

    def __len__(self) -> int:
        return len(self._points)

    def measures(self) -> dict[str, float]:
        points = np.stack(list(self._points))
        pose = np.array(list(self._pose))
        return {
            "spread": float(points.std(axis=0).mean()),
            "mouth_range": float(np.ptp(pose[:, 2])),
            "yaw_std": float(pose[:, 0].std()),
            "pitch_std": float(pose[:, 1].std()),
        }

    def is_static(self) -> bool:
        if len(self) < self.limits.min_frames:
            return False
        m, lim = self.measures(), self.limits
        return (m["spread"] < lim.max_spread and m["mouth_range"] < lim.max_mouth_range
                and m["yaw_std"] < lim.max_pose_std_deg and m["pitch_std"] < lim.max_pose_std_deg)
