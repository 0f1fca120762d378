"""scoring.evidence on synthetic faces (no models): a 3D head turning shows parallax, a flat picture of it moved the
same way does not; a picture moved in the image plane travels; a still is static; exact repeats and loops are caught."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from scoring.evidence import EvidenceLimits, EvidenceTracker, IdentityTrack, loop_lag_seconds, track_residual
from scoring.observation import BBox, Expression, FaceObservation, HeadPose, Quality
from scoring.reasons import Reason

pytestmark = pytest.mark.unit
FACE_W = 200.0


def head_points(rng: np.random.Generator) -> np.ndarray:
    """478 points on a head-like surface (face widths): an ellipsoid cap, the nose standing out at the centre."""
    x = rng.uniform(-0.5, 0.5, 478)
    y = rng.uniform(-0.65, 0.65, 478)
    inside = np.clip(1 - (x / 0.5) ** 2 - (y / 0.65) ** 2, 0, 1)
    z = 0.45 * np.sqrt(inside) + 0.25 * np.exp(-((x / 0.1) ** 2 + (y / 0.15) ** 2))
    return np.stack([x, y, z], axis=1)


def rotate(points: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    return points @ (rx @ ry).T


def project(points: np.ndarray, distance: float = 3.0, focal: float = 600.0) -> np.ndarray:
    z = points[:, 2] + distance
    return np.stack(
        [focal * points[:, 0] / z * distance / 3 + 320, focal * points[:, 1] / z * distance / 3 + 240], axis=1
    )


def face(pixels: np.ndarray, yaw: float = 0.0, pitch: float = 0.0, blink: float = 0.1) -> FaceObservation:
    landmarks = np.c_[pixels, np.zeros(len(pixels))].astype(np.float32)
    x0, y0 = pixels.min(axis=0)
    x1, y1 = pixels.max(axis=0)
    return FaceObservation(
        bbox=BBox(int(x0), int(y0), int(x1), int(y1)),
        landmarks=landmarks,
        pose=HeadPose(yaw, pitch, 0.0),
        expression=Expression(blink, 0.05, 0.0),
        quality=Quality(0.3, 0.5, 0.5, True, 0.5),
    )


def render(pixels: np.ndarray, shades: np.ndarray) -> np.ndarray:
    """A 640x480 frame: each surface point a small disc of its own shade (texture that corner tracking can follow)."""
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    for (x, y), shade in zip(pixels, shades):
        cv2.circle(frame, (int(round(x)), int(round(y))), 3, (int(shade),) * 3, -1, lineType=cv2.LINE_AA)
    return frame


def turning(flat: bool, noise: float = 0.0008, seconds: float = 3.0, with_pixels: bool = True) -> EvidenceTracker:
    """A head (or a flat picture of it) turned +-15 degrees back and forth, 15 frames a second."""
    rng = np.random.default_rng(3)
    head = head_points(rng)
    if flat:
        head = head * np.array([1.0, 1.0, 0.0])
    shades = rng.uniform(140, 255, len(head))
    tracker = EvidenceTracker()
    for k in range(int(seconds * 15)):
        yaw = 15 * math.sin(2 * math.pi * 0.5 * k / 15)
        pitch = 6 * math.sin(2 * math.pi * 0.3 * k / 15)
        exact = project(rotate(head, yaw, pitch))
        pixels = exact + rng.normal(0, noise * FACE_W, (478, 2))
        rgb = render(exact, shades) if with_pixels else None
        tracker.add(face(pixels, yaw, pitch), int(k * 1000 / 15), rgb)  # the landmarker reads the same pose either way
    return tracker


def test_a_turning_head_shows_parallax_and_its_flat_picture_is_flat_face() -> None:
    live = turning(flat=False).report()
    assert "parallax" in live.evidence and not live.reasons, live
    flat = turning(flat=True).report()
    assert flat.reasons == (Reason.FLAT_FACE,), flat
    assert flat.parallax is not None and live.parallax is not None and flat.parallax * 3 < live.parallax
    assert flat.parallax_pairs >= EvidenceLimits().min_parallax_pairs


def hull_indices(points: np.ndarray) -> np.ndarray:
    return cv2.convexHull(points.astype(np.float32), returnPoints=False).ravel()


def test_track_residual_of_a_plane_is_tiny_and_of_a_head_is_not() -> None:
    rng = np.random.default_rng(11)
    head = head_points(rng)
    shades = rng.uniform(140, 255, len(head))
    for surface, low, high in ((head * np.array([1.0, 1.0, 0.0]), 0.0, 0.003), (head, 0.008, 1.0)):
        before, after = (render(project(rotate(surface, yaw, 0.0)), shades) for yaw in (0.0, 12.0))
        pixels = project(surface)
        outline = pixels[hull_indices(pixels)]
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (before, after)]
        residual = track_residual(grey[0], grey[1], outline, float(np.ptp(pixels[:, 0])))
        assert residual is not None and low <= residual < high, residual


def test_a_still_with_noise_is_static_and_exact_repeats_are_caught_by_thumbnails() -> None:
    rng = np.random.default_rng(5)
    pixels = project(head_points(rng)) * FACE_W / 600 * 3
    noisy = EvidenceTracker()
    for k in range(45):
        noisy.add(face(pixels + rng.normal(0, 0.0003 * FACE_W, pixels.shape)), k * 66)
    report = noisy.report()
    assert report.reasons == (Reason.STATIC_VIDEO,) and not report.evidence
    frozen = EvidenceTracker()
    picture = rng.uniform(0, 255, (480, 640, 3)).astype(np.uint8)
    for k in range(45):
        blink = 0.8 if 20 <= k < 28 else 0.1  # even an "expression" read off jittery landmarks
        frozen.add(face(pixels, blink=blink), k * 66, picture)
    assert frozen.report().reasons == (Reason.STATIC_VIDEO,)  # identical pixels outweigh any blendshape reading


def test_a_blink_is_evidence_even_when_nothing_else_moves() -> None:
    rng = np.random.default_rng(6)
    pixels = project(head_points(rng)) * FACE_W / 600 * 3
    tracker = EvidenceTracker()
    for k in range(45):
        blink = 0.8 if 20 <= k < 28 else 0.1
        tracker.add(face(pixels + rng.normal(0, 0.0003 * FACE_W, pixels.shape), blink=blink), k * 66)
    report = tracker.report()
    assert "expression" in report.evidence and not report.reasons, report


def test_a_loop_is_found_at_its_lag() -> None:
    rng = np.random.default_rng(7)
    period = [rng.uniform(0, 255, (32, 32)) for _ in range(15)]
    thumbs = [period[k % 15] + rng.normal(0, 0.5, (32, 32)) for k in range(60)]
    assert loop_lag_seconds(thumbs, [k * 66.7 for k in range(60)]) == pytest.approx(1.0, abs=0.1)
    walk = np.cumsum(rng.normal(0, 3, (60, 32, 32)), axis=0)
    assert loop_lag_seconds(list(walk), [k * 66.7 for k in range(60)]) is None


def test_a_picture_moved_in_the_image_plane_travels_and_is_flat_face() -> None:
    rng = np.random.default_rng(8)
    pixels = project(head_points(rng) * np.array([1.0, 1.0, 0.0]))
    shades = rng.uniform(140, 255, len(pixels))
    tracker = EvidenceTracker()
    for k in range(45):
        shift = np.array([25 * math.sin(2 * math.pi * 0.7 * k / 15), 10 * math.cos(2 * math.pi * 0.5 * k / 15)])
        tracker.add(face(pixels + shift), int(k * 1000 / 15), render(pixels + shift, shades))
    report = tracker.report()
    assert report.reasons == (Reason.FLAT_FACE,) and report.travel >= EvidenceLimits().travel_min, report


def test_identity_track_keeps_the_lowest_similarity() -> None:
    track = IdentityTrack()
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert track.add(a) is None
    assert track.add(a) == pytest.approx(1.0)
    assert track.add(b) == pytest.approx(0.0)
    assert track.min_similarity == pytest.approx(0.0)


def test_a_stream_that_wraps_around_once_at_the_end_is_not_a_loop() -> None:
    """A camera file played to its end and restarted for the last fifth of a check repeats only that fifth."""
    rng = np.random.default_rng(9)
    walk = list(np.cumsum(rng.normal(0, 3, (75, 32, 32)), axis=0))
    stream = walk + walk[:18]
    times = [k * 66.7 for k in range(len(stream))]
    assert loop_lag_seconds(stream, times) is None
    looped = walk[:15] * 4  # 1 s played four times
    assert loop_lag_seconds(looped, times[: len(looped)]) == pytest.approx(1.0, abs=0.1)
