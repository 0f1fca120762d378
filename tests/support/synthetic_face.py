"""A synthetic face for the light measure's unit tests: a disc of skin, its light regions' landmarks where a
frontal face has them, and how much of a screen's light a head or a plane receives."""

from __future__ import annotations

import numpy as np

from scoring.mesh import LIGHT_REGIONS

SIZE = 240  # synthetic frames are SIZE x SIZE, the face a disc of radius RADIUS in the middle
RADIUS = 90.0
FPS_MS = 66  # frames analyzed at 15 fps, as a live check does


def fake_landmarks() -> np.ndarray:
    """478 points over the face disc, each light region's points where a frontal face has them."""
    rng = np.random.default_rng(0)
    points = np.zeros((478, 3))
    angles = rng.uniform(0, 2 * np.pi, 478)
    points[:, 0] = SIZE / 2 + RADIUS * np.cos(angles)
    points[:, 1] = SIZE / 2 + RADIUS * np.sin(angles)
    where = {"forehead": (0, -0.55), "left_cheek": (-0.5, 0.15), "right_cheek": (0.5, 0.15), "nose": (0, 0.05)}
    where["chin"] = (0, 0.7)
    for name, (u, v) in where.items():
        for index in LIGHT_REGIONS[name]:
            points[index, :2] = SIZE / 2 + RADIUS * u, SIZE / 2 + RADIUS * v
    return points


LANDMARKS = fake_landmarks()


def shading(flat: bool) -> np.ndarray:
    """How much of the screen's light each pixel receives: a sphere-like face (its centre faces the screen, the
    sides turn away), or a plane (the same everywhere)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    u, v = (xx - SIZE / 2) / RADIUS, (yy - SIZE / 2) / RADIUS
    if flat:
        return np.ones((SIZE, SIZE))
    return np.clip(1 - 0.9 * u**2 - 0.5 * v**2, 0.05, 1)


def base_frame(level: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    skin = np.stack([0.85 * level + 0.05 * np.sin(xx / 9), 0.65 * level + 0.0 * yy, 0.55 * level + 0.0 * yy], -1)
    return np.clip(skin * 255, 0, 255)
