"""The reference photo a face is matched against: its biggest face, found upright, and that face's embedding."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from scoring.analyzer import FrameAnalyzer, StageTimer
from scoring.modelset import ModelSet
from scoring.observation import FaceObservation
from scoring.options import AnalysisOptions
from scoring.orientation import rotate, upright_turn
from scoring.settings import EngineSettings, FaceSelector
from scoring.still import decode_image


@dataclass(frozen=True)
class PhotoFace:
    """The biggest face of a reference photo, with its embedding, and how the photo had to be turned to find it."""

    face: FaceObservation
    width: int  # of the (turned) photo the face coordinates refer to
    height: int
    rotation_deg: int  # clockwise quarter turn applied before the face was found (0 without auto_rotate)


def photo_face(models: ModelSet, settings: EngineSettings, data: bytes, auto_rotate: bool = False) -> PhotoFace | None:
    """The biggest face of a photo (EXIF orientation applied by the decoder); with auto_rotate, found in the
    quarter turn that makes it upright (scoring.orientation). None when there is no face."""
    rgb = decode_image(data, settings.limits)
    found: dict[int, FaceObservation | None] = {}
    with models.still_landmarkers.lend(settings.landmarker_wait_s) as landmarker:
        analyzer = FrameAnalyzer(landmarker, models.antispoof, models.embedder, mf_selector=FaceSelector.BIGGEST)

        def face_at(turn: int) -> FaceObservation | None:
            if turn not in found:
                found[turn] = analyzer.analyze(rotate(rgb, turn), 0, liveness=False, embed=False).face
            return found[turn]

        def roll_at(turn: int) -> float | None:
            face = face_at(turn)
            return face.pose.roll if face else None

        turn = upright_turn(roll_at) if auto_rotate else 0
        face = face_at(turn) if turn is not None else None
        if face is None or turn is None:
            return None
        face = analyzer.add_embedding(rotate(rgb, turn), face)  # only for the chosen turn
    height, width = rgb.shape[:2]
    if turn in (90, 270):
        width, height = height, width
    return PhotoFace(face, width, height, turn)


def reference_embedding(
    models: ModelSet,
    settings: EngineSettings,
    options: AnalysisOptions,
    timer: StageTimer,
) -> np.ndarray | None:
    """The embedding the request's best face is matched against: None without a reference, or when the
    reference photo has no face (reference_no_face). A caller that already found it passes it in the options."""
    if options.reference is None:
        return None
    if options.reference_embedding is not None:
        return options.reference_embedding
    t0 = time.perf_counter()
    found = photo_face(models, settings, options.reference, options.auto_rotate)
    timer.add("reference", time.perf_counter() - t0)
    return found.face.embedding if found else None
