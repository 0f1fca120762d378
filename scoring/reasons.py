"""The stable reason codes of a verdict (docs/verdict.md), defined once. StrEnum members compare equal to their
string values, so JSON bodies and older callers that compare with plain strings keep working."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    SHORT_TIME = "short_time"
    STATIC_VIDEO = "static_video"  # no movement a live face makes: a still, or a still with noise
    FLAT_FACE = "flat_face"  # the face moved as a flat picture moves: no parallax where a head shows it
    FACE_CHANGED = "face_changed"
    LOW_LIVENESS = "low_liveness"
    ACTIONS_FAILED = "actions_failed"
    TOO_FEW_FRAMES = "too_few_frames"
    REFERENCE_NO_FACE = "reference_no_face"
    FACE_MISMATCH = "face_mismatch"  # a session's face is not the one on its reference photo
    LOOPED_VIDEO = "looped_video"
    LIGHT_MISMATCH = (
        "light_mismatch"  # live, light challenge: the face did not reflect the colours in time, or as a plane
    )
    TOO_BRIGHT = "too_bright"  # live, light challenge: ambient light too strong for any response (not a spoof)
