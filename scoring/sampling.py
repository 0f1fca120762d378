"""One pass over a clip: which frames are analyzed, which get an anti-spoof crop or an identity sample.

Anti-spoof crops and identity samples are spread evenly over the clip's duration (at most max_decoded_frames and
identity_samples of them), so a long clip is not judged on its first seconds. The models' batch inference over
what was gathered runs afterwards (scoring.engine), once the decoder is closed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from scoring.analyzer import FrameAnalyzer, StageTimer
from scoring.embedding import align_face
from scoring.evidence import EvidenceTracker
from scoring.observation import FrameObservation
from scoring.settings import EngineSettings
from scoring.video import DecodedFrame, VideoReader


@dataclass
class Collected:
    """What one pass over a clip gathers before the verdict."""

    evidence: EvidenceTracker  # cross-frame evidence: stillness, flatness, loop (scoring.evidence)
    observations: list[FrameObservation] = field(default_factory=list)
    liveness_obs: list[FrameObservation] = field(default_factory=list)  # one per anti-spoof crop, same order
    crops: list[list[np.ndarray]] = field(default_factory=list)
    aligned: list[np.ndarray] = field(default_factory=list)  # identity samples, 112x112 aligned faces
    best: tuple[FrameObservation, np.ndarray] | None = None  # the best-quality sampled face and its frame
    best_full_rgb: np.ndarray | None = None  # the best frame at source resolution (bbox is in its pixels)
    decoded: int = 0  # frames the decoder delivered
    analyzed: int = 0
    scale: float = 1.0  # analyzed frames' size / the source's


def collect(reader: VideoReader, analyzer: FrameAnalyzer, settings: EngineSettings, timer: StageTimer) -> Collected:
    info = reader.info
    duration_ms = info.duration_s * 1000
    slot_ms = duration_ms / settings.max_decoded_frames if duration_ms > 0 else 0.0
    id_slot_ms = duration_ms / settings.identity_samples if duration_ms > 0 else 0.0
    c = Collected(EvidenceTracker(settings.evidence))
    last_slot = last_id_slot = -1
    best_frame: DecodedFrame | None = None
    frames = reader.frames(settings.analysis_fps, settings.analysis_max_side)
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        timer.add("decode", time.perf_counter() - t0)
        if frame is None:
            break
        c.decoded = frame.frame_no + 1
        obs = analyzer.analyze(frame.rgb, frame.timestamp_ms, frame.frame_no, liveness=False)
        c.observations.append(obs)
        c.scale = frame.scale
        face = obs.face
        if face is None or face.quality.face_ratio < settings.min_face_ratio * 0.5:
            continue
        t1 = time.perf_counter()
        c.evidence.add(face, frame.timestamp_ms, frame.rgb)
        timer.add("evidence", time.perf_counter() - t1)
        slot = int(frame.timestamp_ms // slot_ms) if slot_ms else len(c.liveness_obs)
        if slot > last_slot and len(c.liveness_obs) < settings.max_decoded_frames:
            last_slot = slot
            t1 = time.perf_counter()
            c.crops.append(analyzer.antispoof.crops(frame.rgb, face.bbox))
            timer.add("antispoof", time.perf_counter() - t1)
            c.liveness_obs.append(obs)
            if c.best is None or face.quality.score > c.best[0].face.quality.score:  # type: ignore[union-attr]
                c.best = (obs, frame.rgb)
                best_frame = frame
        id_slot = int(frame.timestamp_ms // id_slot_ms) if id_slot_ms else len(c.aligned)
        if id_slot > last_id_slot and len(c.aligned) < settings.identity_samples:
            last_id_slot = id_slot
            t1 = time.perf_counter()
            c.aligned.append(align_face(frame.rgb, face.landmarks))
            timer.add("embedding", time.perf_counter() - t1)
    c.analyzed = len(c.observations)
    if best_frame is not None:
        c.best_full_rgb = best_frame.full_rgb()  # source resolution, upright; converted once, while the decoder is open
    return c
