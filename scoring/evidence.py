"""Evidence across frames: what a sequence of faces says that no single frame can. One module for recorded clips
(scoring.engine) and live checks (realtime.challenge) alike. It *measures*; scoring.score weighs the measures into
one calibrated score and scoring.decision decides. The only verdicts it gives itself are *findings*, things the
pixels prove (issue 18: flatness is a finding, not a default):

- **Frozen** (`static_video`): most pairs of frames >= `repeat_ms` apart repeat inside one face window (a virtual
  camera showing a picture). Both frames of a pair are cut by the earlier one's box: the landmark model jitters
  with every change of compression, and a box that moves by a pixel reads as a change the pixels never made.
- **Plane** (`flat_face`): a flat picture, however it is shaken, tilted or slightly bent, moves in the image by a
  homography; a real head that turns shows parallax no homography explains. Landmarks cannot measure this (the
  landmark model's 3D face prior "sees" a tilted picture as a turned head); pixels can: corner features tracked
  (pyramidal Lucas-Kanade) on the face between two frames 1/3-1 s apart whose pose differs by at least
  `parallax_pose_deg` (6 degrees: on 3-degree steps heads and planes look alike) fit a homography to sub-pixel
  accuracy on a picture and not on a head. The median residual (face widths) over such pairs is the `parallax`;
  with at least `min_parallax_pairs` pairs and a parallax under `flat_max` the face is a plane. A still person, a
  small turn or a face too small to track measure nothing here, and nothing is refused for it.
- **Loop** (`looped_video`): a recording played over and over returns to the same pixels at one lag.

Measured for the score: the parallax (when measured), the **expression** (the largest of six channels' smoothed
ranges, each over the range that pictures moved it: blink, jaw and smile blendshapes, and lip gap, eye opening and
mouth width as landmark ratios, which a picture's perspective barely changes), and the **travel** (how far the face
region moved: a picture in a hand travels, a still does not; it names the reason when the score refuses).

Every limit is fitted leave-one-source-out by `python -m evaluation.calibrate` (docs/verdict.md). What evidence
cannot stop: a recording of a live person or an animated photo injected as a camera has real motion and
expressions; only a challenge the server times (actions, light) can.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from scoring import mesh
from scoring.observation import FaceObservation
from scoring.reasons import Reason

FACE_OVAL = np.array(mesh.FACE_OVAL)


def face_thumbnail(rgb: np.ndarray, face: FaceObservation) -> np.ndarray:
    """32x32 grey float32 patch of the face box: what the repeat and loop checks compare."""
    b = face.bbox
    patch = rgb[b.top : b.bottom, b.left : b.right]
    if patch.size == 0:
        return np.zeros((32, 32), dtype=np.float32)
    return cv2.cvtColor(cv2.resize(patch, (32, 32), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY).astype(
        np.float32
    )


EXPRESSION_CHANNELS = ("blink", "jaw", "smile", "lip_gap", "eyelids", "mouth_width")


@dataclass(frozen=True)
class ExpressionCeilings:
    """Each channel's smoothed range over the largest range a picture moved it (perspective, codec noise, warps of a
    held sheet), fitted by evaluation.calibrate on every generated picture the findings do not already refuse: an
    expression of 1.0 moved one channel as far as the worst picture did."""

    blink: float = 0.301
    jaw: float = 0.2255
    smile: float = 0.4079
    lip_gap: float = 0.0382
    eyelids: float = 0.1548
    mouth_width: float = 0.0315

    def as_dict(self) -> dict[str, float]:
        return {c: float(getattr(self, c)) for c in EXPRESSION_CHANNELS}


@dataclass(frozen=True)
class EvidenceLimits:
    """Limits (docs/verdict.md "Evidence across frames"; fitted by evaluation.calibrate)."""

    parallax_lag_ms: int = 333  # pixel tracks compare a face with one kept at least this long before ...
    parallax_window_ms: int = 1000  # ... and at most this long before
    parallax_pose_deg: float = 6.0  # ... when their yaw or pitch differ by this much
    flat_max: float = 0.00746  # a median track residual (face widths) under this over turned pairs: a plane
    track_ms: int = 150  # pixel tracks are computed at most this often (they cost ~2-5 ms each)
    min_parallax_pairs: int = 3  # turned pairs needed before flatness is judged
    track_side_px: int = 480  # frames are tracked at this long side (grey)
    min_track_face_px: int = 64  # a narrower face cannot show parallax reliably: its turns count as unproven
    travel_min: float = 0.01  # p90 image shift of the face region per parallax_lag_ms / face width: it "travelled"
    expression_ceilings: ExpressionCeilings = field(default_factory=ExpressionCeilings)
    smooth_frames: int = 5  # median filter over this many traced faces before expression ranges are taken
    repeat_ms: int = 90  # the frozen check compares frames at least this far apart (a live check analyzes ~10 fps)
    repeat_pixel_diff: float = 0.6  # face windows closer than this (mean abs 0..255 of 32x32 grey) repeat ...
    repeat_share: float = 0.73  # ... and this share of compared pairs repeating is a frozen picture
    min_frames: int = 10  # fewer traced faces than this: no opinion
    # Faces closer in time than this are not sampled again (expression, pose range). An upload at 24-60 fps is
    # sampled every ~100-125 ms; a live check analyzes 10 fps by the arrival clock, whose jitter puts half its
    # frames a few ms under 100: at 100 it sampled only every other one, and a blink fell between samples.
    sample_ms: int = 85
    loop_window: int = 450  # face thumbnails kept for the loop check (the newest; 30 s at 15 fps)
    # Loop: at one lag of at least loop_min_lag_ms most face thumbnails match an earlier one more closely than
    # consecutive frames match each other. RMS differences (0..255) of 32x32 grey thumbnails.
    loop_min_lag_ms: float = 500.0
    loop_min_frames: int = 10
    loop_min_share: float = 0.5  # ... and the repeat covers at least this share of the frames (a camera test file
    # that wraps around once at the end of a long check is not a looped recording; 1 s repeated for 3 s is)
    loop_max_rms: float = 2.3
    loop_max_adjacent_ratio: float = 0.95

    def expression(self, channels: dict[str, float]) -> float:
        """The largest channel range over its ceiling (0 without channels)."""
        ceilings = self.expression_ceilings.as_dict()
        return max((channels[c] / ceilings[c] for c in channels if ceilings.get(c, 0) > 0), default=0.0)


def expression_channels(face: FaceObservation) -> tuple[float, ...]:
    """The six expression channels of one face (EXPRESSION_CHANNELS order): three blendshapes and three landmark
    ratios measured within one part of the face, so a picture's tilt scales numerator and denominator alike."""
    e = face.expression
    pts = face.landmarks[:, :2].astype(np.float64)

    def dist(a: int, b: int) -> float:
        return float(np.linalg.norm(pts[a] - pts[b]))

    height = max(1e-6, dist(mesh.FOREHEAD, mesh.CHIN))
    width = max(1e-6, dist(*mesh.CHEEKS))
    left, right = mesh.LEFT_EYE, mesh.RIGHT_EYE
    eyelids = (
        dist(left[2], left[3]) / max(1e-6, dist(left[0], left[1]))
        + dist(right[2], right[3]) / max(1e-6, dist(right[0], right[1]))
    ) / 2
    lip_gap = dist(*mesh.LIPS_CENTRE) / height
    mouth_width = dist(*mesh.MOUTH_CORNERS) / width
    return (e.blink, e.mouth_open, e.smile, lip_gap, eyelids, mouth_width)


@dataclass(frozen=True)
class EvidenceReport:
    """The measures and the findings. `reasons` are what the pixels proved (static_video, flat_face, looped_video);
    whether the measures show a live face is scoring.score's call."""

    frames: int
    parallax: float | None  # median pixel-track residual over turned pairs; None with fewer than min pairs
    parallax_pairs: int
    unproven_turns: int  # turned pairs whose face was too small or too bare to track
    travel: float  # p90 image shift of the face region per parallax_lag_ms / face width (phase correlation)
    expression: float  # the largest channel range over its ceiling (EvidenceLimits.expression)
    pose_range_deg: float
    repeated_share: float  # share of consecutive thumbnails that repeat exactly (codec noise aside)
    loop_lag_s: float | None
    reasons: tuple[Reason, ...]
    channels: dict[str, float] = field(default_factory=dict)  # each expression channel's smoothed range
    moved: bool = False  # the face region travelled (travel >= travel_min)

    @property
    def measured(self) -> bool:
        """Enough faces for an opinion (min_frames)."""
        return self.frames > 0 and bool(self.channels)

    def to_dict(self) -> dict[str, object]:
        return {
            "frames": self.frames,
            "parallax": None if self.parallax is None else round(self.parallax, 5),
            "parallax_pairs": self.parallax_pairs,
            "unproven_turns": self.unproven_turns,
            "travel": round(self.travel, 5),
            "moved": self.moved,
            "expression": round(self.expression, 4),
            "channels": {k: round(v, 4) for k, v in self.channels.items()},
            "pose_range_deg": round(self.pose_range_deg, 2),
            "repeated_share": round(self.repeated_share, 4),
            "loop_lag_s": self.loop_lag_s,
            "reasons": [str(r) for r in self.reasons],
        }


@dataclass
class _Frame:
    """A traced frame kept briefly for pixel tracking: grey at track scale, the face outline at that scale."""

    t_ms: int
    grey: np.ndarray
    outline: np.ndarray  # (N, 2) face-oval landmarks, pixels at track scale
    width: float  # face width at track scale
    pose: tuple[float, float]


class EvidenceTracker:
    """Collects a few numbers per face (never whole frames beyond the last `parallax_window_ms`) and reports the
    evidence. Not thread-safe: one tracker per clip or session."""

    def __init__(self, limits: EvidenceLimits = EvidenceLimits()) -> None:
        self.limits = limits
        self._samples = 0  # faces sampled (at most one per sample_ms)
        self._pose_min = np.full(2, np.inf)
        self._pose_max = np.full(2, -np.inf)
        self._recent: deque[_Frame] = deque()
        self._parallax: list[float] = []  # track residuals of turned pairs
        self._unproven_turns = 0  # turned pairs whose face was too small (or too bare) to track
        self._shifts: list[float] = []  # how far the face region moved in the image between tracked frames
        self._thumbs: deque[np.ndarray] = deque(maxlen=limits.loop_window)
        self._thumb_ms: deque[int] = deque(maxlen=limits.loop_window)
        self._repeats = 0
        self._thumb_pairs = 0
        self._repeat_ref: tuple[FaceObservation, np.ndarray, int] | None = None  # the last frame the check compared
        self._smoothing: deque[tuple[float, ...]] = deque(maxlen=limits.smooth_frames)
        n = len(EXPRESSION_CHANNELS)
        self._smoothed_min = np.full(n, np.inf)
        self._smoothed_max = np.full(n, -np.inf)
        self._last_ms: int | None = None
        self._last_track_ms: int | None = None

    def __len__(self) -> int:
        return self._samples

    def add(self, face: FaceObservation, t_ms: int, rgb: np.ndarray | None = None) -> None:
        """One analyzed face at `t_ms` (the media's or the server's clock) in the frame `rgb` it was found in
        (without the frame only expression and pose are kept: no repeat, loop, travel or parallax check)."""
        if rgb is not None:
            thumb = face_thumbnail(rgb, face)
            self._repeat_pair(rgb, face, thumb, t_ms)
            self._thumbs.append(thumb)
            self._thumb_ms.append(t_ms)
            if self._last_track_ms is None or t_ms - self._last_track_ms >= self.limits.track_ms:
                self._last_track_ms = t_ms
                self._track(rgb, face, t_ms)
        if self._last_ms is not None and t_ms - self._last_ms < self.limits.sample_ms:
            return
        self._last_ms = t_ms
        self._samples += 1
        pose = np.array([face.pose.yaw, face.pose.pitch])
        self._pose_min, self._pose_max = np.minimum(self._pose_min, pose), np.maximum(self._pose_max, pose)
        self._smoothing.append(expression_channels(face))
        if len(self._smoothing) == self._smoothing.maxlen:
            level = np.median(np.array(self._smoothing), axis=0)
            self._smoothed_min = np.minimum(self._smoothed_min, level)
            self._smoothed_max = np.maximum(self._smoothed_max, level)

    def _repeat_pair(self, rgb: np.ndarray, face: FaceObservation, thumb: np.ndarray, t_ms: int) -> None:
        """One pair for the frozen check: this frame against the last one compared, at least repeat_ms before (so
        a 30 fps upload and a live check analyzing 10 fps compare frames as far apart), both cut by that frame's
        box: the landmarks' own jitter moves a box by a pixel or two, which alone reads as a change, so only
        pixels inside one fixed window count."""
        if self._repeat_ref is not None:
            ref_face, ref_thumb, ref_ms = self._repeat_ref
            if t_ms - ref_ms < self.limits.repeat_ms:
                return
            self._thumb_pairs += 1
            same_box = face_thumbnail(rgb, ref_face)
            if float(np.abs(same_box - ref_thumb).mean()) < self.limits.repeat_pixel_diff:
                self._repeats += 1
        self._repeat_ref = (face, thumb, t_ms)

    def _track(self, rgb: np.ndarray, face: FaceObservation, t_ms: int) -> None:
        """Pixel parallax against the kept frame 1/3-1 s old whose pose differs most, when it differs enough."""
        lim = self.limits
        height, width = rgb.shape[:2]
        scale = min(1.0, lim.track_side_px / max(height, width))
        pose = (face.pose.yaw, face.pose.pitch)
        frame = _Frame(t_ms, _grey(rgb, scale), face.landmarks[FACE_OVAL, :2] * scale, face.bbox.width * scale, pose)
        while self._recent and t_ms - self._recent[0].t_ms > lim.parallax_window_ms:
            self._recent.popleft()
        aged = [f for f in self._recent if t_ms - f.t_ms >= lim.parallax_lag_ms]
        self._recent.append(frame)
        if not aged:
            return
        self._shifts.append(image_shift(aged[-1].grey, frame.grey, aged[-1].outline, aged[-1].width))

        def turn(f: _Frame) -> float:
            return max(abs(f.pose[0] - pose[0]), abs(f.pose[1] - pose[1]))

        old = max(aged, key=turn)
        if turn(old) < lim.parallax_pose_deg:
            return
        residual = (
            track_residual(old.grey, frame.grey, old.outline, old.width) if old.width >= lim.min_track_face_px else None
        )
        if residual is None:
            self._unproven_turns += 1
        else:
            self._parallax.append(residual)

    def report(self) -> EvidenceReport:
        lim = self.limits
        n = self._samples
        repeated = self._repeats / self._thumb_pairs if self._thumb_pairs else 0.0
        channels = (
            dict(zip(EXPRESSION_CHANNELS, (float(v) for v in self._smoothed_max - self._smoothed_min), strict=True))
            if np.isfinite(self._smoothed_max).all()
            else {}
        )
        loop = loop_lag_seconds(list(self._thumbs), list(self._thumb_ms), lim)
        pairs = len(self._parallax)
        parallax = float(np.median(self._parallax)) if pairs >= lim.min_parallax_pairs else None
        travel = float(np.percentile(self._shifts, 90)) if self._shifts else 0.0
        pose_range = float(np.max(self._pose_max - self._pose_min)) if n else 0.0
        frozen = self._thumb_pairs >= 3 and repeated >= lim.repeat_share
        found = findings(frozen, parallax, loop, lim)
        if n < lim.min_frames:
            channels = {}  # too few faces for an opinion on expression
        return EvidenceReport(
            frames=n,
            parallax=parallax,
            parallax_pairs=pairs,
            unproven_turns=self._unproven_turns,
            travel=travel,
            expression=lim.expression(channels),
            pose_range_deg=pose_range,
            repeated_share=repeated,
            loop_lag_s=loop,
            reasons=found,
            channels=channels,
            moved=travel >= lim.travel_min,
        )


def findings(frozen: bool, parallax: float | None, loop_s: float | None, limits: EvidenceLimits) -> tuple[Reason, ...]:
    """What the pixels prove, and nothing else: frozen pixels; a face that turned while its pixels moved as one
    plane; a clip that repeats itself (a frozen one is not also "looped")."""
    if frozen:
        return (Reason.STATIC_VIDEO,)
    found: list[Reason] = []
    if parallax is not None and parallax < limits.flat_max:
        found.append(Reason.FLAT_FACE)
    if loop_s is not None:
        found.append(Reason.LOOPED_VIDEO)
    return tuple(found)


def _grey(rgb: np.ndarray, scale: float) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


def image_shift(before: np.ndarray, after: np.ndarray, outline: np.ndarray, face_width: float) -> float:
    """How far the face region moved between two grey frames (face widths): phase correlation of the same window
    around the face in both, so sensor noise and exposure flicker (which do not move) read as ~0."""
    h, w = before.shape[:2]
    x0, y0 = (max(0, int(v)) for v in outline.min(axis=0))
    x1, y1 = min(w, int(outline[:, 0].max())), min(h, int(outline[:, 1].max()))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return 0.0
    a = before[y0:y1, x0:x1].astype(np.float32)
    b = after[y0:y1, x0:x1].astype(np.float32)
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(a - a.mean(), b - b.mean(), window)
    return float(np.hypot(dx, dy) / max(1.0, face_width))


def track_residual(
    before: np.ndarray, after: np.ndarray, outline: np.ndarray, face_width: float, max_points: int = 150
) -> float | None:
    """Median distance (face widths) between corner features inside the face outline tracked from `before` to
    `after` (forward-backward checked) and where the best least-squares homography puts them; None with too few
    tracks. A plane's tracks fit a homography to sub-pixel accuracy; a turning head's do not (parallax: the
    outline moves against the nose, the far cheek is foreshortened)."""
    # Only the face's neighbourhood is searched and tracked (a quarter of a face width around its outline).
    h, w = before.shape[:2]
    pad = face_width * 0.25
    x0, y0 = (max(0, int(v - pad)) for v in outline.min(axis=0))
    x1, y1 = min(w, int(outline[:, 0].max() + pad)), min(h, int(outline[:, 1].max() + pad))
    before, after = before[y0:y1, x0:x1], after[y0:y1, x0:x1]
    if before.size == 0:
        return None
    mask = np.zeros(before.shape[:2], dtype=np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(outline - (x0, y0)).astype(np.int32)), 255)
    corners = cv2.goodFeaturesToTrack(before, max_points, 0.01, max(2, int(face_width) // 50), mask=mask)
    if corners is None or len(corners) < 20:
        return None
    window = (15, 15)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(before, after, corners, None, winSize=window, maxLevel=3)  # type: ignore[call-overload]
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(after, before, moved, None, winSize=window, maxLevel=3)  # type: ignore[call-overload]
    good = (status.ravel() == 1) & (status_back.ravel() == 1) & (np.linalg.norm(back - corners, axis=2).ravel() < 0.5)
    src, dst = corners[good].reshape(-1, 2), moved[good].reshape(-1, 2)
    if len(src) < 20:
        return None
    homography, _ = cv2.findHomography(src, dst, 0)
    if homography is None:
        return None
    mapped = cv2.perspectiveTransform(src[None].astype(np.float64), homography)[0]
    return float(np.median(np.linalg.norm(mapped - dst, axis=1)) / max(1.0, face_width))


def loop_lag_seconds(
    thumbs: Sequence[np.ndarray], times_ms: Sequence[float], limits: EvidenceLimits = EvidenceLimits()
) -> float | None:
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
    longest = n - max(limits.loop_min_frames, int(np.ceil(limits.loop_min_share * n)))
    for lag in range(max(2, int(np.ceil(limits.loop_min_lag_ms / step_ms))), longest):
        count = n - lag - 1
        best = np.minimum(
            np.minimum(np.diag(dist, lag - 1)[:count], np.diag(dist, lag)[:count]), np.diag(dist, lag + 1)[:count]
        )
        if float(np.median(best)) <= limit:
            return float(times_ms[lag] - times_ms[0]) / 1000
    return None
