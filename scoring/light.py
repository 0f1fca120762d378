"""The light challenge (issue 20): a colour sequence the server draws and shows full screen, and whether the face
reflected it - at the time it was shown, and as a 3D surface does.

Pure numpy, no web imports. The live check (realtime/light_phase.py) draws a sequence (`draw_sequence`), stamps
when it sent each colour on the server's clock, samples the skin regions of every analyzed frame
(`sample_regions`: five slice means on the frame already decoded) and measures once the sequence is over
(`measure`).

What the measure relies on: a skin pixel is albedo x irradiance, and the screen adds irradiance in its own colour.
So each region's relative change per channel (value / its mean over the sequence - 1) follows the colours shown,
whatever the skin's albedo, `lag` later (display + camera + network, the same for every channel). On a plane
(paper, a screen held up, a picture tinted in software) every region faces the light the same way and changes by
the same fraction; on a face the nose points at the screen and the cheeks turn away from it, so the nose changes
by a larger fraction than the cheeks, and on a turned head the cheek toward the camera joins the nose (`relief`,
weighted by the head's yaw: `facing_contrast`; `region_spread` reports the regions' range). A face lit so strongly
by ambient light that the screen adds nothing measurable shows no response at all: that is `too_bright` (move to
shade), not a spoof.

The region gains are what a moving head leaves of that: each region's slow drift over the sequence (the head turning,
an expression, the clip's own light: 3.4 s of it) is fitted as a quadratic in time and removed before the gain is
fitted and before the response is correlated with the colours (`correlation`); a channel at the sensor's top in
any region (it cannot show light added) is left out of the gains. A relief below `min_relief` by less than twice
its standard error is inconclusive rather than a plane: the phase shows a fresh sequence (realtime/light_phase.py),
and only the last attempt's inconclusive relief is a mismatch.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from scoring.mesh import LIGHT_REGION_FACING, LIGHT_REGIONS
from scoring.reasons import Reason


class LightColor(StrEnum):
    """The colours a sequence is drawn from (the eight corners of the RGB cube)."""

    BLACK = "black"
    WHITE = "white"
    RED = "red"
    YELLOW = "yellow"
    LIME = "lime"
    CYAN = "cyan"
    BLUE = "blue"
    MAGENTA = "magenta"


# Each colour's (R, G, B) on the screen, 0 or 1.
COLOR_RGB: dict[LightColor, tuple[int, int, int]] = {
    LightColor.BLACK: (0, 0, 0),
    LightColor.WHITE: (1, 1, 1),
    LightColor.RED: (1, 0, 0),
    LightColor.YELLOW: (1, 1, 0),
    LightColor.LIME: (0, 1, 0),
    LightColor.CYAN: (0, 1, 1),
    LightColor.BLUE: (0, 0, 1),
    LightColor.MAGENTA: (1, 0, 1),
}
REGION_NAMES: tuple[str, ...] = tuple(LIGHT_REGIONS)


class LightOutcome(StrEnum):
    """What the light challenge concluded (the result's `light.outcome`)."""

    PASSED = "passed"
    MISMATCH = "light_mismatch"  # the face did not reflect the sequence in time, or reflected it as a plane
    TOO_BRIGHT = "too_bright"  # no response under strong ambient light: not a spoof verdict, move to shade
    DECLINED = "declined"  # the user chose to continue without lights (photosensitivity): lower assurance


@dataclass(frozen=True)
class LightLimits:
    """The sequence's shape and the measure's thresholds (docs/verdict.md "Light challenge")."""

    min_colors: int = 6
    max_colors: int = 8
    min_step_ms: int = 400  # each colour is shown 400-550 ms: at most 2.5 changes per second (the cap is 3)
    max_step_ms: int = 550
    min_lag_ms: int = 50  # display + camera + network latency searched for, the same for every channel
    max_lag_ms: int = 400
    lag_step_ms: int = 10
    min_frames: int = 12  # analyzed frames with a face inside the lagged sequence
    # Both cuts midway between the sides measured by evaluation/light_runs.py over every shared live clip (docs/
    # verdict.md "Light challenge", with each source held out): the pooled correlation of the face's drift-free
    # response with the colours shown, reflecting cameras >= 0.658, the others <= 0.614; the relief (the gains'
    # contrast by the light each region faces, over the mean gain: a plane's is 0), faces >= 0.158, stills <= 0.063.
    min_correlation: float = 0.64
    min_relief: float = 0.11
    plane_sigmas: float = 2.0  # a relief under min_relief is a plane only when it is this many standard errors under
    drift_order: int = 2  # each region's slow drift over the sequence, fitted as a polynomial in time and removed
    clipped: float = 0.96  # a channel whose region mean reaches this in any region is at the sensor's top: not used
    bright_luma: float = 0.85  # no response on a face this bright (near the sensor's top): too_bright, not a mismatch


@dataclass(frozen=True)
class LightStep:
    """One colour of a sequence and when it was sent (ms on the server's clock)."""

    color: LightColor
    start_ms: int


def draw_sequence(
    limits: LightLimits = LightLimits(), rng: secrets.SystemRandom | None = None
) -> tuple[tuple[LightColor, int], ...]:
    """`min_colors`..`max_colors` colours with their durations (ms), drawn with a cryptographic RNG: never the same
    colour twice in a row, and every channel both on and off at least once (so each channel's response can be
    measured)."""
    rng = rng or secrets.SystemRandom()
    colors = tuple(LightColor)
    while True:
        count = rng.randint(limits.min_colors, limits.max_colors)
        out: list[LightColor] = []
        for _ in range(count):
            out.append(rng.choice([c for c in colors if not out or c != out[-1]]))
        rgb = np.array([COLOR_RGB[c] for c in out])
        if (rgb.max(axis=0) == 1).all() and (rgb.min(axis=0) == 0).all():
            return tuple((c, rng.randint(limits.min_step_ms, limits.max_step_ms)) for c in out)


def sample_regions(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The mean colour (0..1) of a small square around each skin region's centre, shape (regions, 3); NaN where
    the square falls outside the frame. A few slice means: the per-frame cost is tiny (bench/frame_pipeline.py)."""
    height, width = rgb.shape[:2]
    xs = landmarks[:, 0]
    half = max(2, int(0.04 * float(xs.max() - xs.min())))
    out = np.full((len(LIGHT_REGIONS), 3), np.nan, dtype=np.float64)
    for i, points in enumerate(LIGHT_REGIONS.values()):
        cx, cy = landmarks[list(points), :2].mean(axis=0)
        x0, y0 = int(cx) - half, int(cy) - half
        x1, y1 = x0 + 2 * half + 1, y0 + 2 * half + 1
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            continue
        out[i] = rgb[y0:y1, x0:x1].reshape(-1, rgb.shape[2])[:, :3].mean(axis=0) / 255.0
    return out


@dataclass
class LightTrace:
    """The region samples of the frames seen during a sequence, with their arrival times (server clock, ms)."""

    times_ms: list[int] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)
    poses: list[tuple[float, float]] = field(default_factory=list)  # the head's (yaw, pitch) in each frame

    def add(self, now_ms: int, sample: np.ndarray, pose: tuple[float, float] = (0.0, 0.0)) -> None:
        self.times_ms.append(now_ms)
        self.samples.append(sample)
        self.poses.append(pose)

    def __len__(self) -> int:
        return len(self.times_ms)


@dataclass(frozen=True)
class LightReport:
    """What was measured. `correlation` and `region_spread` are at the best lag; gains are relative changes of
    each region per unit of screen colour."""

    outcome: LightOutcome
    colors: tuple[LightColor, ...]
    frames: int = 0
    lag_ms: int | None = None
    correlation: float | None = None
    region_gains: dict[str, float] = field(default_factory=dict)
    region_spread: float | None = None
    relief: float | None = None
    luma: float | None = None
    relief_se: float | None = None  # the relief's standard error (from the regions' residuals)
    inconclusive: bool = False  # relief under the threshold but within plane_sigmas standard errors of it

    @property
    def reason(self) -> str | None:
        """The failure reason this outcome gives the check, None when it passed or was declined."""
        if self.outcome is LightOutcome.MISMATCH:
            return Reason.LIGHT_MISMATCH
        if self.outcome is LightOutcome.TOO_BRIGHT:
            return Reason.TOO_BRIGHT
        return None

    def to_dict(self) -> dict[str, object]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "outcome": self.outcome.value,
            "colors": [c.value for c in self.colors],
            "frames": self.frames,
            "lag_ms": self.lag_ms,
            "correlation": r(self.correlation),
            "region_gains": {k: round(v, 4) for k, v in self.region_gains.items()},
            "region_spread": r(self.region_spread),
            "relief": r(self.relief),
            "luma": r(self.luma),
        }


def declined(colors: Sequence[LightColor] = ()) -> LightReport:
    return LightReport(LightOutcome.DECLINED, tuple(colors))


def _pooled_correlation(response: np.ndarray, expected: np.ndarray) -> float:
    """Correlation of (frames, 3) with (frames, 3), each channel centred on its own mean, pooled over channels:
    a channel the sequence did not change contributes its noise and nothing else."""
    y = response - response.mean(axis=0)
    e = expected - expected.mean(axis=0)
    denominator = float(np.sqrt((y * y).sum() * (e * e).sum()))
    return float((y * e).sum() / denominator) if denominator > 0 else 0.0


def measure(
    steps: Sequence[LightStep],
    end_ms: int,
    times_ms: Sequence[int],
    samples: Sequence[np.ndarray],
    limits: LightLimits = LightLimits(),
    poses: Sequence[tuple[float, float]] | None = None,
) -> LightReport:
    """Aligns the regions' response with the colours shown (`steps`, the last one shown until `end_ms`) at every lag
    in `min_lag_ms`..`max_lag_ms` and judges the best one. `poses`: the head's (yaw, pitch) per sample (frontal
    when not given), which says which regions face the screen most."""
    colors = tuple(s.color for s in steps)
    if not steps or not len(times_ms):
        return LightReport(LightOutcome.MISMATCH, colors)
    times = np.asarray(times_ms, dtype=np.float64)
    values = np.stack([np.asarray(s, dtype=np.float64) for s in samples])  # (frames, regions, 3)
    best, frames = _best_alignment(steps, end_ms, times, values, limits)
    if best is None:
        return LightReport(LightOutcome.MISMATCH, colors, frames=frames)
    inside = best.inside
    yaw = float(np.median(np.asarray(poses, dtype=np.float64)[inside, 0])) if poses else 0.0
    contrast = facing_contrast(yaw)
    by_name, spread, relief, relief_se = _relief(best, times[inside], values[inside], contrast, limits)
    rgb = values[inside].mean(axis=(0, 1))
    luma = float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
    outcome, inconclusive = _outcome(best.correlation, relief, relief_se, luma, limits)
    return LightReport(
        outcome,
        colors,
        frames=int(inside.sum()),
        lag_ms=best.lag,
        correlation=best.correlation,
        region_gains=by_name,
        region_spread=spread,
        relief=relief,
        luma=luma,
        relief_se=relief_se,
        inconclusive=inconclusive,
    )


class _Alignment(NamedTuple):
    """The face's response at one lag: its pooled correlation with the colours shown, the frames inside the lagged
    sequence (a mask over all frames), their regions' relative changes (frames, regions, 3) and the colour shown at
    each of them (frames, 3)."""

    correlation: float
    lag: int
    inside: np.ndarray
    relative: np.ndarray
    expected: np.ndarray


def _best_alignment(
    steps: Sequence[LightStep], end_ms: int, times: np.ndarray, values: np.ndarray, limits: LightLimits
) -> tuple[_Alignment | None, int]:
    """The lag whose response correlates best with the sequence (display, camera and network delay are unknown but
    the same for every channel), and the most frames any lag had inside the sequence (reported when none had
    `min_frames`)."""
    valid = np.isfinite(values).all(axis=(1, 2))
    starts = np.array([s.start_ms for s in steps], dtype=np.float64)
    shown = np.array([COLOR_RGB[s.color] for s in steps], dtype=np.float64)
    best: _Alignment | None = None
    frames = 0
    for lag in range(limits.min_lag_ms, limits.max_lag_ms + 1, limits.lag_step_ms):
        at = times - lag
        inside = valid & (at >= starts[0]) & (at < end_ms)
        count = int(inside.sum())
        frames = max(frames, count)
        if count < limits.min_frames:
            continue
        expected = shown[np.searchsorted(starts, at[inside], side="right") - 1]
        window = values[inside]
        mean = window.mean(axis=0)
        relative = window / np.where(mean > 1e-3, mean, np.nan) - 1.0  # (frames, regions, 3)
        relative = np.nan_to_num(relative)
        drift_free = _drift_remover(times[inside], limits.drift_order)
        correlation = _pooled_correlation(drift_free @ relative.mean(axis=1), drift_free @ expected)
        if best is None or correlation > best.correlation:
            best = _Alignment(correlation, lag, inside, relative, expected)
    return best, frames


def facing_contrast(yaw: float) -> np.ndarray:
    """Weights over the regions (summing to 0, the positive ones to 1) for the nose and cheeks, by how much more of
    a screen's light each takes than the others on a face at this yaw: the cosine between its skin's direction and
    the camera's axis (scoring/mesh.py LIGHT_REGION_FACING). Frontal: the nose +1, each cheek -0.5; turned, the
    cheek toward the camera joins the nose and the other cheek takes the minus. A plane's regions all face one way:
    any such weights give it ~0. Forehead and chin are not weighed (their pitch is no clearer sign of a face)."""
    weights = np.zeros(len(REGION_NAMES))
    rows = [REGION_NAMES.index(name) for name in LIGHT_REGION_FACING]
    light = np.clip(np.cos(np.radians(np.array(list(LIGHT_REGION_FACING.values())) + yaw)), 0.0, None)
    weights[rows] = light - light.mean()
    return weights / max(1e-9, float(weights[weights > 0].sum()))


def _relief(
    best: _Alignment, times: np.ndarray, values: np.ndarray, contrast: np.ndarray, limits: LightLimits
) -> tuple[dict[str, float], float, float, float]:
    """The regions' gains by name, their spread, and the relief (the `contrast` of the gains, regions facing the
    screen against those facing away, over the mean gain) with its standard error: a plane's regions change by the
    same fraction, a face's by more where its skin faces the screen."""
    gains, contrast_se = _region_gains(best.relative, best.expected, times, values, contrast, limits)
    mean_gain = float(gains.mean())
    spread = float((gains.max() - gains.min()) / mean_gain) if mean_gain > 0 else 0.0
    by_name = dict(zip(REGION_NAMES, (float(g) for g in gains), strict=True))
    relief = float(contrast @ gains) / mean_gain if mean_gain > 0 else 0.0
    relief_se = contrast_se / mean_gain if mean_gain > 0 else float("inf")
    return by_name, spread, relief, relief_se


def _outcome(
    correlation: float, relief: float, relief_se: float, luma: float, limits: LightLimits
) -> tuple[LightOutcome, bool]:
    """The outcome and whether it is inconclusive. No response is too_bright on a bright face (move to shade, not a
    spoof verdict); a response as a plane (relief under `min_relief`) is a mismatch, inconclusive when the relief is
    within `plane_sigmas` standard errors of `min_relief`."""
    if correlation < limits.min_correlation:
        return (LightOutcome.TOO_BRIGHT if luma >= limits.bright_luma else LightOutcome.MISMATCH), False
    if relief < limits.min_relief:
        # it followed the colours, but as a plane (or too noisily to tell)
        return LightOutcome.MISMATCH, relief + limits.plane_sigmas * relief_se >= limits.min_relief
    return LightOutcome.PASSED, False


def _region_gains(
    relative: np.ndarray,
    expected: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    contrast: np.ndarray,
    limits: LightLimits,
) -> tuple[np.ndarray, float]:
    """Each region's gain (its relative change per unit of screen colour, one for all channels), and the standard
    error of the `contrast` of the gains (weights per region) from that contrast's own residuals, so that an error
    all regions share (a frame's colour misjudged at a transition) cancels as it does in the contrast. The regions'
    slow drift (a polynomial of `drift_order` in time) is projected out of both the response and the colours shown,
    over the channels that no region has at the sensor's top (all channels when every one is)."""
    residual_of = _drift_remover(times, limits.drift_order)
    usable = values.max(axis=(0, 1)) < limits.clipped
    channels = usable if usable.any() else np.ones(3, dtype=bool)
    e = residual_of @ expected[:, channels]
    energy = float((e * e).sum())
    dof = max(1, e.size - (limits.drift_order + 1) * int(channels.sum()) - 1)
    if energy <= 0:
        return np.zeros(relative.shape[1]), float("inf")
    y = np.einsum("ij,jrc->irc", residual_of, relative[:, :, channels])  # (frames, regions, channels)
    gains = np.einsum("irc,ic->r", y, e) / energy
    rest = np.einsum("irc,r->ic", y - gains[None, :, None] * e[:, None, :], contrast)
    return gains, float(np.sqrt((rest * rest).sum() / dof / energy))


def _drift_remover(times: np.ndarray, order: int) -> np.ndarray:
    """(frames, frames): applied to a series over `times`, removes its best-fitting polynomial of `order` in time,
    the slow drift a moving head or the room's own light puts under the screen's colours."""
    x = (times - times.mean()) / max(1.0, float(times.std()))
    basis = np.stack([x**k for k in range(order + 1)], axis=1)
    return np.eye(len(x)) - basis @ np.linalg.pinv(basis)
