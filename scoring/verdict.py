"""The verdict on a clip or a still, and the cross-frame checks a single-frame model cannot make."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from scoring.actions import ActionResult
from scoring.match import MatchResult
from scoring.observation import BBox, FrameObservation, Quality

# Stable reason codes (docs/verdict.md).
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
SHORT_TIME = "short_time"
STATIC_VIDEO = "static_video"
FACE_CHANGED = "face_changed"
LOW_LIVENESS = "low_liveness"
ACTIONS_FAILED = "actions_failed"
TOO_FEW_FRAMES = "too_few_frames"
REFERENCE_NO_FACE = "reference_no_face"
LOOPED_VIDEO = "looped_video"

# A live face moves: these are fractions of the face width between consecutive analyzed frames.
STATIC_PIXEL_DIFF = 0.6  # mean abs difference (0..255) of 32x32 face thumbnails below which frames repeat
STATIC_REPEAT_SHARE = 0.9  # share of repeated consecutive frames that makes a clip static
STATIC_LANDMARK_SPREAD = 0.004  # std of landmark positions over the clip / face width

# A looped recording: at one lag, most face thumbnails match an earlier one more closely than the next frame.
# RMS differences (0..255) of 32x32 grey thumbnails, measured on ../shared/media (bench note in docs/verdict.md):
# at their best lag >= 0.5 s the live clips d0/d12/d18/d19 stay at >= 3.9 RMS and >= 1.39x their adjacent-frame
# difference; the 1 s loops made from them at <= 1.4 RMS and <= 0.65x.
LOOP_MIN_LAG_MS = 500.0  # shorter repeats are ordinary stillness, not a loop
LOOP_MIN_FRAMES = 10  # frames that must repeat at the lag (~0.7 s at the 15 fps analysis rate)
LOOP_MAX_RMS = 2.3  # median difference at the lag: near-identical, only codec noise
LOOP_MAX_ADJACENT_RATIO = 0.95  # ... and closer than consecutive frames are to each other


@dataclass(frozen=True)
class BestFace:
    frame_no: int
    timestamp_s: float
    bbox: BBox  # in the original media's pixels
    quality: Quality
    liveness: float
    frame_rgb: np.ndarray = field(repr=False)  # the whole frame, upright; recorded video: at source resolution, bbox in its pixels
    face_rgb: np.ndarray = field(repr=False)  # 112x112 aligned face

    def to_dict(self) -> dict[str, object]:
        return {
            "frame_no": self.frame_no,
            "timestamp_s": round(self.timestamp_s, 3),
            "bbox": self.bbox.to_dict(),
            "quality": self.quality.to_dict(),
            "liveness": round(self.liveness, 4),
        }


@dataclass
class Verdict:
    kind: str  # video | image
    alive: bool
    average_liveness: float
    reasons: list[str]
    best_face: BestFace | None
    actions: list[ActionResult]
    match: MatchResult | None
    frames_decoded: int
    frames_analyzed: int
    frames_with_face: int
    liveness_frames: int
    duration_s: float
    identity_min_cosine: float | None
    timings_ms: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    @property
    def actions_passed(self) -> bool:
        return all(a.passed for a in self.actions)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "alive": self.alive,
            "average_liveness": round(self.average_liveness, 4),
            "reasons": list(self.reasons),
            "best_face": self.best_face.to_dict() if self.best_face else None,
            "actions": [a.to_dict() for a in self.actions],
            "match": self.match.to_dict() if self.match else None,
            "frames": {
                "decoded": self.frames_decoded,
                "analyzed": self.frames_analyzed,
                "with_face": self.frames_with_face,
                "liveness": self.liveness_frames,
            },
            "duration_s": round(self.duration_s, 3),
            "identity_min_cosine": None if self.identity_min_cosine is None else round(self.identity_min_cosine, 4),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "warnings": list(self.warnings),
        }


def landmark_spread(observations: Sequence[FrameObservation]) -> float:
    """How much the face moves over the clip: std of nose/eye/mouth points normalised by face width."""
    points = [o.face.landmarks[[1, 33, 263, 61, 291, 152], :2] / max(1, o.face.bbox.width) for o in observations if o.face]
    if len(points) < 3:
        return 1.0
    return float(np.stack(points).std(axis=0).mean())


def is_static(thumb_diffs: Sequence[float], observations: Sequence[FrameObservation]) -> bool:
    """A still image turned into video, or a clip of repeated frames."""
    if len(thumb_diffs) >= 3:
        repeated = sum(1 for d in thumb_diffs if d < STATIC_PIXEL_DIFF) / len(thumb_diffs)
        if repeated >= STATIC_REPEAT_SHARE:
            return True
    return landmark_spread(observations) < STATIC_LANDMARK_SPREAD


def loop_lag_seconds(thumbs: Sequence[np.ndarray], times_ms: Sequence[float]) -> float | None:
    """The lag at which the clip repeats itself (a recording looped), or None. For each lag of at least
    LOOP_MIN_LAG_MS, every frame is compared with the frames that lag later (one sample either side, for sampling
    phase and variable frame rates); the lag repeats when the median of those best matches is near-identical
    both in absolute terms and relative to how much consecutive frames differ. A live face never returns to the
    same pixels for most of a clip at one fixed lag; its far-apart frames differ more than adjacent ones."""
    n = len(thumbs)
    if n < LOOP_MIN_FRAMES + 3:
        return None
    flat = np.stack([np.asarray(t, dtype=np.float64).ravel() for t in thumbs])
    squares = (flat * flat).sum(axis=1)
    dist = np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2 * flat @ flat.T, 0.0) / flat.shape[1])
    step_ms = float(np.median(np.diff(np.asarray(times_ms, dtype=np.float64))))
    if step_ms <= 0:
        return None
    adjacent = float(np.median(np.diag(dist, 1)))
    limit = min(LOOP_MAX_RMS, LOOP_MAX_ADJACENT_RATIO * adjacent)
    for lag in range(max(2, int(np.ceil(LOOP_MIN_LAG_MS / step_ms))), n - LOOP_MIN_FRAMES):
        count = n - lag - 1
        best = np.minimum(np.minimum(np.diag(dist, lag - 1)[:count], np.diag(dist, lag)[:count]), np.diag(dist, lag + 1)[:count])
        if float(np.median(best)) <= limit:
            return float(times_ms[lag] - times_ms[0]) / 1000
    return None
