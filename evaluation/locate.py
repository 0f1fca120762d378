"""Where a frame's face is, for the attacks that warp or cut out part of it (talking_photo, live_background):
the engine's own landmarker on the frame as a photo. Generators without it fall back to FaceSpot.guess."""

from __future__ import annotations

import cv2
import numpy as np

from evaluation.attacks import FaceSpot, Locate
from scoring.engine import LivenessEngine


def face_locator(engine: LivenessEngine) -> Locate:
    def locate(frame: np.ndarray) -> FaceSpot | None:
        ok, data = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        found = engine.photo_face(data.tobytes()) if ok else None
        return FaceSpot.from_landmarks(found.face.landmarks) if found else None

    return locate
