"""What `check_quality` checks on a reference photo: the face is big enough to compare, and its eyes, nose and
mouth lie inside the picture.

Occlusion by an object (mask, hand, sunglasses) is not checked: measured on the shared photos, the landmarker keeps
fitting a full mesh onto a face whose mouth or eyes are painted over, and the texture of the patches under the
fitted eye/nose/mouth points overlaps between real faces (std 8..56 grey levels) and covered ones (0..67), so
there is no sound signal for it. A feature outside the frame is certainly not visible: that is reported as
occluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring import mesh
from scoring.observation import FaceObservation

# Eye corners and lids, nose tip, lip corners and centres: a face cut off by the border loses one of these.
KEY_LANDMARKS: dict[str, tuple[int, ...]] = {
    "left eye": mesh.LEFT_EYE,
    "right eye": mesh.RIGHT_EYE,
    "nose": (mesh.NOSE_TIP, mesh.NOSE_BRIDGE_LOW),
    "mouth": (*mesh.LIPS_CENTRE, *mesh.MOUTH_CORNERS),
}
MIN_FACE_PX = 80  # face width below this leaves too few pixels for the 112x112 aligned crop the matcher uses

FACE_CUT_OFF = "face_cut_off"
FACE_TOO_SMALL = "face_too_small"


@dataclass(frozen=True)
class PhotoProblem:
    code: str  # FACE_CUT_OFF | FACE_TOO_SMALL
    message: str


def photo_problem(
    face: FaceObservation, width: int, height: int, min_face_px: int = MIN_FACE_PX
) -> PhotoProblem | None:
    """The first reason the photo's face is unfit for comparison, or None. Landmarks are in pixels of a
    width x height picture (the mesh extends past the border when the face is cut off)."""
    points = np.asarray(face.landmarks)[:, :2]
    outside = [
        name
        for name, idx in KEY_LANDMARKS.items()
        if not (
            (points[list(idx), 0] >= 0)
            & (points[list(idx), 0] < width)
            & (points[list(idx), 1] >= 0)
            & (points[list(idx), 1] < height)
        ).all()
    ]
    if outside:
        return PhotoProblem(FACE_CUT_OFF, f"Part of the face lies outside the photo: {', '.join(outside)}.")
    face_px = float(np.ptp(points[:, 0]))
    if face_px < min_face_px:
        return PhotoProblem(FACE_TOO_SMALL, f"The face is {face_px:.0f} px wide; at least {min_face_px} px is needed.")
    return None
