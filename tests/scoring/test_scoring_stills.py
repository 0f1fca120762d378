"""Stills on the real models: live vs printed / replayed photos, face match, the multi-face policy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from scoring.engine import AnalysisOptions
from scoring.reasons import Reason
from tests.support import mediagen


def test_live_selfie_is_alive(engine, media_bytes) -> None:
    verdict = engine.analyze(media_bytes("images/image_T1.jpg"))
    assert verdict.kind == "image"
    assert verdict.alive, verdict.to_dict()
    assert verdict.reasons == []
    assert verdict.average_liveness >= engine.settings.liveness_threshold
    best = verdict.best_face
    assert best is not None and best.face_rgb.shape == (112, 112, 3)
    assert 0 <= best.bbox.left < best.bbox.right <= 480 and 0 <= best.bbox.top < best.bbox.bottom <= 640
    assert best.quality.inside and 0.0 < best.quality.score <= 1.0


@pytest.mark.parametrize("name", ["image_F1.jpg", "image_F2.jpg"])
def test_presentation_attacks_are_not_alive(engine, media_bytes, name: str) -> None:
    verdict = engine.analyze(media_bytes(f"images/{name}"))
    assert not verdict.alive
    assert Reason.LOW_LIVENESS in verdict.reasons
    assert verdict.best_face is not None  # a face was found; it is the liveness that fails
    assert verdict.average_liveness < engine.settings.liveness_threshold


def test_same_person_matches(engine, media_bytes) -> None:
    verdict = engine.analyze(
        media_bytes("identity/obama.jpg"), AnalysisOptions(reference=media_bytes("identity/obama2.jpg"))
    )
    match = verdict.match
    assert match is not None
    assert match.same_person
    assert match.cosine >= engine.settings.match_threshold
    assert match.score > 0.7  # the documented mapping puts the threshold at 0.7


def test_different_people_do_not_match(engine, media_bytes) -> None:
    verdict = engine.analyze(
        media_bytes("identity/obama.jpg"), AnalysisOptions(reference=media_bytes("identity/biden.jpg"))
    )
    match = verdict.match
    assert match is not None
    assert not match.same_person
    assert match.cosine < engine.settings.match_threshold
    assert match.score < 0.7


def _two_faces(media_bytes) -> tuple[bytes, int]:
    """The live selfie at full size next to a 60 % copy of itself; returns the JPEG and the seam's x."""
    live = mediagen.read_rgb(media_bytes("images/image_T1.jpg"))
    small = cv2.resize(live, (live.shape[1] * 6 // 10, live.shape[0] * 6 // 10), interpolation=cv2.INTER_AREA)
    right = np.zeros_like(live)
    right[100 : 100 + small.shape[0], 40 : 40 + small.shape[1]] = small
    return mediagen.jpeg(mediagen.side_by_side(live, right)), live.shape[1]


def test_two_faces_rejected_under_reject(engine, media_bytes) -> None:
    data, _ = _two_faces(media_bytes)
    verdict = engine.analyze(data, AnalysisOptions(mf_selector="reject"))
    assert not verdict.alive
    assert Reason.MULTIPLE_FACES in verdict.reasons
    assert verdict.best_face is None


def test_two_faces_biggest_is_chosen_under_biggest(engine, media_bytes) -> None:
    data, seam = _two_faces(media_bytes)
    verdict = engine.analyze(data, AnalysisOptions(mf_selector="biggest"))
    assert Reason.MULTIPLE_FACES not in verdict.reasons
    assert verdict.alive, verdict.to_dict()
    best = verdict.best_face
    assert best is not None
    assert best.bbox.right <= seam  # the full-size face on the left, not the small copy
