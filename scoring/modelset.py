"""The loaded models the engine shares across streams: created once, used from any worker thread."""

from __future__ import annotations

from dataclasses import dataclass

from models import ModelStore
from scoring.antispoof import AntiSpoofModel
from scoring.embedding import FaceEmbedder
from scoring.landmarks import LandmarkerPool


@dataclass
class ModelSet:
    store: ModelStore
    antispoof: AntiSpoofModel
    embedder: FaceEmbedder
    landmarkers: LandmarkerPool  # VIDEO mode, one per stream
    still_landmarkers: LandmarkerPool  # IMAGE mode, for photos

    @classmethod
    def load(cls, store: ModelStore, *, threads: int = 1, landmarkers: int = 8, prewarm: int = 1) -> "ModelSet":
        pool = LandmarkerPool(store.path("landmarker"), max_size=landmarkers)
        pool.prewarm(prewarm)
        stills = LandmarkerPool(store.path("landmarker"), max_size=landmarkers, video=False)
        stills.prewarm(prewarm)
        return cls(
            store=store,
            antispoof=AntiSpoofModel(store.path("antispoof_v2"), store.path("antispoof_v1se"), threads),
            embedder=FaceEmbedder(store.path("sface"), threads),
            landmarkers=pool,
            still_landmarkers=stills,
        )

    def close(self) -> None:
        self.landmarkers.close()
        self.still_landmarkers.close()
