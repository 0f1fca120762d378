"""The loaded models the engine shares across streams: created once, used from any worker thread.

Live checks and REST uploads draw face landmarkers from separate pools, so however many live sessions are
open (each holds one landmarker for its whole check), an integrator's upload never waits behind them, and the
other way round."""

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
    landmarkers: LandmarkerPool  # VIDEO mode, one per uploaded video being analyzed (REST)
    still_landmarkers: LandmarkerPool  # IMAGE mode, for photos
    live_landmarkers: LandmarkerPool  # VIDEO mode, one per live check for its whole duration

    @classmethod
    def load(
        cls, store: ModelStore, *, threads: int = 1, landmarkers: int = 8, live_landmarkers: int = 8, prewarm: int = 1
    ) -> ModelSet:
        path = store.path("landmarker")
        pool = LandmarkerPool(path, max_size=landmarkers, name="upload")
        stills = LandmarkerPool(path, max_size=landmarkers, video=False, name="still")
        live = LandmarkerPool(path, max_size=max(1, live_landmarkers), name="live")
        for each in (pool, stills, live):
            each.prewarm(prewarm)
        return cls(
            store=store,
            antispoof=AntiSpoofModel(store.path("antispoof_v2"), store.path("antispoof_v1se"), threads),
            embedder=FaceEmbedder(store.path("sface"), threads),
            landmarkers=pool,
            still_landmarkers=stills,
            live_landmarkers=live,
        )

    def close(self) -> None:
        self.landmarkers.close()
        self.still_landmarkers.close()
        self.live_landmarkers.close()
