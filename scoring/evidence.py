"""Evidence across frames: what a sequence of faces says that no single frame can. One module for recorded clips
(scoring.engine) and live checks (realtime.challenge) alike.

- **Flat or 3D.** Landmarks of a flat picture, however it is shaken, tilted or slightly bent, map from one frame
  to another by a homography; a real head that turns or nods shows parallax (nose tip, chin and face contour move
  relative to each other) that no homography explains. For pairs of frames whose pose differs by at least
  `parallax_pose_deg` the median landmark residual after the best homography (relative to the face width) is the
  parallax; a face that moved like that without it is `flat_face`.
- **Moved like a picture.** A face that travels across the image (planar motion) with no parallax, no expression
  and no deformation beyond what the landmarker's own noise under motion makes is `flat_face` too: a photo in a
  shaking hand.
- **Still.** A face held still shows micro-movement that is not planar (talking, breathing, the eyes) above the
  noise floor of a picture; a still, or a still with sensor noise and flicker, stays below it: `static_video`.
  Exactly repeated frames (a virtual camera showing one picture) are caught from face thumbnails as well.
- **Loop.** A recording played over and over returns to the same pixels at one lag: `looped_video`.
- **Expression.** A blink, an open mouth or a smile that changes the smoothed blendshape level by
  `expression_min` is evidence of a live face whatever else the clip shows.
- **Identity.** `IdentityTrack` keeps the lowest similarity between sampled embeddings: `face_changed`.

Every threshold was measured over all live clips in ../shared/media and every generated attack; the script
`evaluation/evidence_margins.py` prints them, docs/verdict.md gives the margins. What evidence cannot stop: a
recording of a live person injected as a camera has real 3D motion; only a challenge the server times can.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from scoring.observation import FaceObservation
from scoring.reasons import Reason

# A spread of landmarks at different depths: face contour, nose ridge and tip, eye corners and lids, lips.
TRACE_POINTS = np.array([
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149,
    150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,  # face oval
    1, 2, 4, 5, 6, 19, 94, 168, 197, 195,  # nose
    33, 133, 159, 145, 263, 362, 386, 374,  # eyes
    61, 291, 0, 17, 13, 14, 78, 308,  # lips
])


def face_thumbnail(rgb: np.ndarray, face: FaceObservation) -> np.ndarray:
    """32x32 grey float32 patch of the face box: what the repeat and loop checks compare."""
    b = face.bbox
    patch = rgb[b.top : b.bottom, b.left : b.right]
    if patch.size == 0:
        return np.zeros((32, 32), dtype=np.float32)
    return cv2.cvtColor(cv2.resize(patch, (32, 32), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY).astype(np.float32)


@dataclass(frozen=True)
class EvidenceLimits:
    """Thresholds (docs/verdict.md "Evidence across frames"; printed by evaluation/evidence_margins.py)."""

    parallax_pose_deg: float = 6.0  # pose difference of a pair at which a real head shows parallax
    parallax_min: float = 0.016  # median residual / face width over such pairs that a real head reaches
    min_parallax_pairs: int = 3
    motion_min: float = 0.045  # p90 planar motion / face width above which the face "travelled"
    moving_deformation_min: float = 0.009  # p90 residual a live face shows while it travels (lower: a moved picture)
    micro_min: float = 0.0028  # p90 residual / face width a live face held still exceeds (a still stays below)
    expression_min: float = 0.4  # change of the smoothed blink, jaw or smile level that proves an expression
    smooth_frames: int = 5  # median filter over this many samples before expression ranges are taken
    repeat_pixel_diff: float = 0.6  # thumbnails closer than this (mean abs 0..255) repeat ...
    repeat_share: float = 0.9  # ... and this share of consecutive repeats is a frozen picture
    min_frames: int = 10  # fewer traced faces than this: no opinion
    sample_ms: int = 100  # faces closer in time than this are not traced again (pairs are all against all)
    window: int = 80  # traced faces kept; when full, every other one is dropped and the interval doubles
    anchors: int = 10  # frames every traced face is compared with (pose extremes and evenly spread ones)
    loop_window: int = 450  # face thumbnails kept for the loop check (the newest; 30 s at 15 fps)
    # Loop: at one lag of at least loop_min_lag_ms most face thumbnails match an earlier one more closely than
    # consecutive frames match each other. RMS differences (0..255) of 32x32 grey thumbnails.
    loop_min_lag_ms: float = 500.0
    loop_min_frames: int = 10
    loop_max_rms: float = 2.3
    loop_max_adjacent_ratio: float = 0.95


@dataclass(frozen=True)
class EvidenceReport:
    """The measures and what they mean. `reasons` are verdict reasons; `evidence` says what showed a live face."""

    frames: int
    parallax: float | None  # median residual over pairs whose pose differs enough; None without such pairs
    parallax_pairs: int
    motion: float  # p90 planar motion / face width
    deformation: float  # p90 non-planar residual / face width
    expression: float  # largest smoothed change of blink, jaw or smile
    pose_range_deg: float
    repeated_share: float  # share of consecutive thumbnails that repeat exactly (codec noise aside)
    loop_lag_s: float | None
    evidence: tuple[str, ...]  # parallax | expression | micro_motion | moving_deformation
    reasons: tuple[Reason, ...]

    @property
    def has_evidence(self) -> bool:
        return bool(self.evidence) and not self.reasons

    def to_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "parallax": None if self.parallax is None else round(self.parallax, 5),
            "parallax_pairs": self.parallax_pairs,
            "motion": round(self.motion, 5),
            "deformation": round(self.deformation, 5),
            "expression": round(self.expression, 4),
            "pose_range_deg": round(self.pose_range_deg, 2),
            "repeated_share": round(self.repeated_share, 4),
            "loop_lag_s": self.loop_lag_s,
            "evidence": list(self.evidence),
            "reasons": [str(r) for r in self.reasons],
        }


@dataclass
class _Trace:
    t_ms: int
    points: np.ndarray  # (K, 2) float64, pixels / face width
    pose: tuple[float, float]  # yaw, pitch
    expression: tuple[float, float, float]  # blink, jaw, smile


class EvidenceTracker:
    """Collects a few numbers per face (never frames) and reports the evidence. Not thread-safe."""

    def __init__(self, limits: EvidenceLimits = EvidenceLimits()) -> None:
        self.limits = limits
        self._traces: list[_Trace] = []
        self._sample_ms = limits.sample_ms
        self._thumbs: deque[np.ndarray] = deque(maxlen=limits.loop_window)
        self._thumb_ms: deque[int] = deque(maxlen=self._thumbs.maxlen)
        self._repeats = 0
        self._thumb_pairs = 0
        self._expression_range = np.zeros(3)  # over everything seen, not just the window
        self._smoothing: deque[tuple[float, float, float]] = deque(maxlen=limits.smooth_frames)
        self._smoothed_min = np.full(3, np.inf)
        self._smoothed_max = np.full(3, -np.inf)
        self._last_ms: int | None = None

    def __len__(self) -> int:
        return len(self._traces)

    def add(self, face: FaceObservation, t_ms: int, thumb: np.ndarray | None = None) -> None:
        """One analyzed face at `t_ms` (the media's or the server's clock); `thumb` a 32x32 grey face patch."""
        if thumb is not None:
            if self._thumbs:
                self._thumb_pairs += 1
                if float(np.abs(thumb - self._thumbs[-1]).mean()) < self.limits.repeat_pixel_diff:
                    self._repeats += 1
            self._thumbs.append(thumb)
            self._thumb_ms.append(t_ms)
        if self._last_ms is not None and t_ms - self._last_ms < self._sample_ms:
            return
        self._last_ms = t_ms
        if len(self._traces) >= self.limits.window:
            # Thin out instead of forgetting: the whole clip or session stays covered at a bounded cost.
            self._traces = self._traces[::2]
            self._sample_ms *= 2
        width = max(1.0, float(face.bbox.width))
        points = face.landmarks[TRACE_POINTS, :2].astype(np.float64) / width
        e = face.expression
        self._traces.append(_Trace(t_ms, points, (face.pose.yaw, face.pose.pitch), (e.blink, e.mouth_open, e.smile)))
        self._smoothing.append((e.blink, e.mouth_open, e.smile))
        if len(self._smoothing) == self._smoothing.maxlen:
            level = np.median(np.array(self._smoothing), axis=0)
            self._smoothed_min = np.minimum(self._smoothed_min, level)
            self._smoothed_max = np.maximum(self._smoothed_max, level)

    def report(self) -> EvidenceReport:
        lim = self.limits
        traces = self._traces
        n = len(traces)
        repeated = self._repeats / self._thumb_pairs if self._thumb_pairs else 0.0
        expression = float(np.max(self._smoothed_max - self._smoothed_min)) if np.isfinite(self._smoothed_max).all() else 0.0
        loop = loop_lag_seconds(list(self._thumbs), list(self._thumb_ms), lim)
        if n < lim.min_frames:
            reasons: tuple[Reason, ...] = (Reason.STATIC_VIDEO,) if self._thumb_pairs >= 3 and repeated >= lim.repeat_share else ()
            return EvidenceReport(n, None, 0, 0.0, 0.0, expression, 0.0, repeated, loop, (), reasons)
        poses = np.array([t.pose for t in traces])
        i, j = anchor_pairs(poses, lim.anchors)
        residual, motion = pair_residuals(np.stack([t.points for t in traces]), i, j)
        pose_diff = np.abs(poses[i] - poses[j]).max(axis=1)
        pose_range = float(max(np.ptp(poses[:, 0]), np.ptp(poses[:, 1])))
        turned = pose_diff >= lim.parallax_pose_deg
        parallax = float(np.median(residual[turned])) if turned.sum() >= lim.min_parallax_pairs else None
        motion_p90 = float(np.percentile(motion, 90))
        deformation = float(np.percentile(residual, 90))

        evidence: list[str] = []
        if parallax is not None and parallax >= lim.parallax_min:
            evidence.append("parallax")
        if expression >= lim.expression_min:
            evidence.append("expression")
        travelled = motion_p90 >= lim.motion_min
        if travelled and deformation >= lim.moving_deformation_min:
            evidence.append("moving_deformation")
        if not travelled and deformation >= lim.micro_min:
            evidence.append("micro_motion")

        found: list[Reason] = []
        if repeated >= lim.repeat_share:
            found.append(Reason.STATIC_VIDEO)  # frozen pixels: nothing else matters
        elif parallax is not None and parallax < lim.parallax_min:
            found.append(Reason.FLAT_FACE)  # the pose changed and the shape did not: a picture turned
        elif not evidence:
            found.append(Reason.FLAT_FACE if travelled else Reason.STATIC_VIDEO)
        if loop is not None and Reason.STATIC_VIDEO not in found:
            found.append(Reason.LOOPED_VIDEO)
        return EvidenceReport(
            n, parallax, int(turned.sum()), motion_p90, deformation, expression, pose_range, repeated, loop,
            tuple(evidence), tuple(found),
        )


def _normalise(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hartley normalisation per frame: (F, K, 2) -> normalised homogeneous points and the (F, 3, 3) transforms."""
    centre = points.mean(axis=1, keepdims=True)
    spread = np.sqrt(((points - centre) ** 2).sum(axis=2)).mean(axis=1)
    scale = np.sqrt(2) / np.maximum(spread, 1e-9)
    t = np.zeros((len(points), 3, 3))
    t[:, 0, 0] = t[:, 1, 1] = scale
    t[:, 0, 2] = -scale * centre[:, 0, 0]
    t[:, 1, 2] = -scale * centre[:, 0, 1]
    t[:, 2, 2] = 1.0
    normalised = (points - centre) * scale[:, None, None]
    return normalised, t


def anchor_pairs(poses: np.ndarray, anchors: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i != j: every frame against a few anchor frames - the extremes of yaw and pitch (where
    parallax is largest) and frames evenly spread over the sequence. Bounded cost: anchors x frames pairs."""
    f = len(poses)
    chosen = {int(np.argmin(poses[:, 0])), int(np.argmax(poses[:, 0])), int(np.argmin(poses[:, 1])), int(np.argmax(poses[:, 1]))}
    chosen |= {int(round(x)) for x in np.linspace(0, f - 1, max(2, anchors - len(chosen)))}
    i, j = np.meshgrid(np.array(sorted(chosen)), np.arange(f), indexing="ij")
    keep = i != j
    return i[keep], j[keep]


def pair_residuals(points: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each pair (i, j) of frames of `points` (F, K, 2; in face widths): the median distance between frame
    j's points and frame i's mapped by the least-squares homography (DLT on Hartley-normalised points, all pairs
    at once through their 9x9 normal equations), and the median distance frame i's points travel under it."""
    k = points.shape[1]
    norm, t = _normalise(points)
    a, b = norm[i], norm[j]  # (P, K, 2)
    x, y, u, v = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows1 = np.stack([x, y, one, zero, zero, zero, -u * x, -u * y, -u], axis=2)
    rows2 = np.stack([zero, zero, zero, x, y, one, -v * x, -v * y, -v], axis=2)
    design = np.concatenate([rows1, rows2], axis=1)  # (P, 2K, 9)
    normal = np.matmul(design.transpose(0, 2, 1), design)
    _, vectors = np.linalg.eigh(normal)
    h_norm = vectors[:, :, 0].reshape(-1, 3, 3)  # eigenvector of the smallest eigenvalue
    h = np.linalg.inv(t[j]) @ h_norm @ t[i]  # back to the frames' own coordinates
    src = np.concatenate([points[i], np.ones((len(i), k, 1))], axis=2)
    mapped = src @ h.transpose(0, 2, 1)
    w = mapped[..., 2:3]
    mapped = mapped[..., :2] / np.where(np.abs(w) < 1e-12, 1e-12, w)
    residual = np.median(np.linalg.norm(mapped - points[j], axis=2), axis=1)
    motion = np.median(np.linalg.norm(mapped - points[i], axis=2), axis=1)
    return residual, motion


def loop_lag_seconds(thumbs: Sequence[np.ndarray], times_ms: Sequence[float], limits: EvidenceLimits = EvidenceLimits()) -> float | None:
    """The lag at which the clip repeats itself (a recording looped), or None. For each lag of at least
    loop_min_lag_ms, every frame is compared with the frames that lag later (one sample either side, for sampling
    phase and variable frame rates); the lag repeats when the median of those best matches is near-identical
    both in absolute terms and relative to how much consecutive frames differ. A live face never returns to the
    same pixels for most of a clip at one fixed lag; its far-apart frames differ more than adjacent ones."""
    n = len(thumbs)
    if n < limits.loop_min_frames + 3:
        return None
    flat = np.stack([np.asarray(th, dtype=np.float64).ravel() for th in thumbs])
    squares = (flat * flat).sum(axis=1)
    dist = np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2 * flat @ flat.T, 0.0) / flat.shape[1])
    step_ms = float(np.median(np.diff(np.asarray(times_ms, dtype=np.float64))))
    if step_ms <= 0:
        return None
    adjacent = float(np.median(np.diag(dist, 1)))
    limit = min(limits.loop_max_rms, limits.loop_max_adjacent_ratio * adjacent)
    for lag in range(max(2, int(np.ceil(limits.loop_min_lag_ms / step_ms))), n - limits.loop_min_frames):
        count = n - lag - 1
        best = np.minimum(np.minimum(np.diag(dist, lag - 1)[:count], np.diag(dist, lag)[:count]), np.diag(dist, lag + 1)[:count])
        if float(np.median(best)) <= limit:
            return float(times_ms[lag] - times_ms[0]) / 1000
    return None


@dataclass
class IdentityTrack:
    """The lowest cosine similarity between any two sampled embeddings of one clip or session."""

    embeddings: list[np.ndarray] = field(default_factory=list)
    min_similarity: float | None = None

    def add(self, vector: np.ndarray) -> float | None:
        """Adds an L2-normalised embedding; returns its lowest similarity to the earlier ones (None if first)."""
        lowest = min((float(np.dot(vector, e)) for e in self.embeddings), default=None)
        if lowest is not None:
            self.min_similarity = lowest if self.min_similarity is None else min(self.min_similarity, lowest)
        self.embeddings.append(vector)
        return lowest
