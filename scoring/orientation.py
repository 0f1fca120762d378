"""Finding the upright orientation of a photo stored sideways or upside down (`auto_rotate` of photo uploads).

EXIF orientation is applied by the decoder itself (OpenCV honours the tag on every decode). What is left is a photo
whose pixels are turned without a tag. Measured on the shared identity photos and d0 frames: the landmarker still
finds a face in a photo turned 90/180/270 degrees, but only a face turned +-90 degrees gets a correct mesh (roll
reads +-90); an upside-down face gets an upright mesh fitted onto it (roll reads ~0) whose embedding matches the same
person at cosine ~0.15. So the roll read at one more quarter turn tells upright from upside down: an upright face
turned 90 degrees clockwise reads roll ~ -90, an upside-down one ~ +90. Two or three detector passes on one still.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

QUARTER_TURNS: tuple[int, ...] = (0, 90, 180, 270)  # clockwise degrees
SIDEWAYS_DEG = 45.0  # |roll| above this: the face lies on its side
_CV2_ROTATION = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def rotate(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """The image turned clockwise by a multiple of 90 degrees (the same array for 0)."""
    degrees %= 360
    if degrees == 0:
        return rgb
    if degrees not in _CV2_ROTATION:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {degrees}")
    return cv2.rotate(rgb, _CV2_ROTATION[degrees])


def turn_for_roll(roll_deg: float) -> int:
    """The clockwise quarter turn that brings a face with this roll upright (roll -90 -> 270, +90 -> 90)."""
    return round(roll_deg / 90.0) * 90 % 360


def upright_turn(roll_at: Callable[[int], float | None]) -> int | None:
    """The clockwise quarter turn (0/90/180/270) under which the photo's face is upright, or None without a face.

    `roll_at(turn)` detects the face in the photo turned by `turn` degrees and returns its roll (None: no face).
    """
    base, roll = 0, roll_at(0)
    if roll is None:
        for base in QUARTER_TURNS[1:]:
            roll = roll_at(base)
            if roll is not None:
                break
        else:
            return None
    if abs(roll) > SIDEWAYS_DEG:
        return (base + turn_for_roll(roll)) % 360
    next_roll = roll_at((base + 90) % 360)  # upright turned clockwise reads ~ -90, upside down ~ +90
    if next_roll is not None and next_roll > SIDEWAYS_DEG:
        return (base + 180) % 360
    return base
