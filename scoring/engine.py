"""The one scoring call path every interface uses: bytes (video or still) in, Verdict out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from models import ModelStore
from scoring import errors
from scoring.actions import ActionResult, check_sequence, parse_actions
from scoring.analyzer import FrameAnalyzer, StageTimer
from scoring.embedding import align_face, cosine
from scoring.errors import InputError
from scoring.match import MatchResult
from scoring.media import DecodedFrame, VideoReader, decode_image, sniff
from scoring.modelset import ModelSet
from scoring.observation import FaceObservation, FrameObservation
from scoring.orientation import rotate, upright_turn
from scoring.settings import EngineSettings
from scoring.evidence import EvidenceTracker, IdentityTrack
from scoring.verdict import (
    ACTIONS_FAILED, FACE_CHANGED, LOW_LIVENESS, MULTIPLE_FACES, NO_FACE, REFERENCE_NO_FACE,
    SHORT_TIME, TOO_FEW_FRAMES, BestFace, Verdict,
)


@dataclass(frozen=True)
class AnalysisOptions:
    """What a caller asks for besides liveness."""

    actions: tuple[str, ...] = ()
    action_windows_ms: tuple[tuple[int, int], ...] | None = None  # one (start, end) per action
    nod_threshold_deg: float | None = None
    reference: bytes | None = None  # a photo to match the best face against
    mf_selector: str | None = None  # overrides the engine's reject | biggest
    min_seconds: float | None = None  # overrides the short_time limit (Huawei: 1 s)
    auto_rotate: bool = False  # the reference photo may be stored sideways: try quarter turns (scoring.orientation)
    # The reference's embedding when the caller already found its face (photo_face): it is not analyzed again.
    reference_embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            parse_actions(self.actions)
        except ValueError as exc:
            raise InputError(errors.INVALID_ACTIONS, str(exc)) from None
        if self.action_windows_ms is not None:
            if len(self.action_windows_ms) != len(self.actions):
                raise InputError(errors.INVALID_ACTIONS, "action_time must give one window per action.")
            for start, end in self.action_windows_ms:
                if start < 0 or end <= start:
                    raise InputError(errors.INVALID_ACTIONS, f"Invalid action window {start}-{end} ms.")
        if self.nod_threshold_deg is not None and not 1 <= self.nod_threshold_deg <= 90:
            raise InputError(errors.INVALID_ACTIONS, "nod_threshold must be within 1..90 degrees.")


@dataclass(frozen=True)
class PhotoFace:
    """The biggest face of a reference photo, with its embedding, and how the photo had to be turned to find it."""

    face: FaceObservation
    width: int  # of the (turned) photo the face coordinates refer to
    height: int
    rotation_deg: int  # clockwise quarter turn applied before the face was found (0 without auto_rotate)


class LivenessEngine:
    """Owns the loaded models. Thread-safe: each call borrows its own landmarker from the pool."""

    def __init__(self, settings: EngineSettings, models: ModelSet) -> None:
        self.settings = settings
        self.models = models

    @classmethod
    def load(cls, settings: EngineSettings, models_dir: str | None = None, *, landmarkers: int = 8,
             live_landmarkers: int = 8, prewarm: int = 1) -> LivenessEngine:
        store = ModelStore.open(models_dir)
        return cls(settings, ModelSet.load(store, threads=settings.inference_threads, landmarkers=landmarkers,
                                           live_landmarkers=live_landmarkers, prewarm=prewarm))

    def close(self) -> None:
        self.models.close()

    # -- entry points -------------------------------------------------------------------------------------

    def analyze(self, data: bytes, options: AnalysisOptions = AnalysisOptions()) -> Verdict:
        """Dispatches on the content (magic bytes), not on what a client claims it is."""
        if not data:
            raise InputError(errors.EMPTY_INPUT, "The upload is empty (0 bytes).")
        if sniff(data) == "image":
            return self.analyze_image(data, options)
        return self.analyze_video(data, options)

    def stream_analyzer(self, timer: StageTimer | None = None, mf_selector: str | None = None) -> tuple[FrameAnalyzer, object]:
        """A per-stream analyzer for live sessions; call `release(token)` with the second value when done."""
        landmarker = self.models.live_landmarkers.acquire(self.settings.landmarker_wait_s)  # live checks' own pool
        analyzer = FrameAnalyzer(
            landmarker, self.models.antispoof, self.models.embedder,
            mf_selector=mf_selector or self.settings.mf_selector, timer=timer,
        )
        return analyzer, landmarker

    def release(self, token: object) -> None:
        self.models.live_landmarkers.release(token)  # type: ignore[arg-type]

    def embed_photo(self, data: bytes, auto_rotate: bool = False) -> np.ndarray | None:
        """Embedding of the biggest face in a photo, or None when it has no face."""
        found = self.photo_face(data, auto_rotate)
        return found.face.embedding if found else None

    def photo_face(self, data: bytes, auto_rotate: bool = False) -> PhotoFace | None:
        """The biggest face of a photo (EXIF orientation applied by the decoder); with auto_rotate, found in the
        quarter turn that makes it upright (scoring.orientation). None when there is no face."""
        rgb = decode_image(data, self.settings.limits)
        found: dict[int, FaceObservation | None] = {}
        with self.models.still_landmarkers.lend(self.settings.landmarker_wait_s) as landmarker:
            analyzer = FrameAnalyzer(landmarker, self.models.antispoof, self.models.embedder, mf_selector="biggest")

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

    # -- stills -------------------------------------------------------------------------------------------

    def analyze_image(self, data: bytes, options: AnalysisOptions = AnalysisOptions()) -> Verdict:
        started = time.perf_counter()
        timer = StageTimer()
        t0 = time.perf_counter()
        rgb = decode_image(data, self.settings.limits)
        timer.add("decode", time.perf_counter() - t0)
        reference = self._reference_embedding(options, timer)
        policy = options.mf_selector or self.settings.mf_selector
        with self.models.still_landmarkers.lend(self.settings.landmarker_wait_s) as landmarker:
            analyzer = FrameAnalyzer(landmarker, self.models.antispoof, self.models.embedder, mf_selector=policy, timer=timer)
            obs = analyzer.analyze(rgb, 0, liveness=True, embed=reference is not None)
        reasons: list[str] = []
        best = None
        match = None
        liveness = 0.0
        if obs.face is None:
            reasons.append(obs.rejected or NO_FACE)
        else:
            face = obs.face
            liveness = float(face.liveness or 0.0)
            best = BestFace(0, 0.0, face.bbox, face.quality, liveness, rgb, align_face(rgb, face.landmarks))
            if liveness < self.settings.liveness_threshold:
                reasons.append(LOW_LIVENESS)
            if reference is not None and face.embedding is not None:
                match = MatchResult.from_cosine(cosine(reference, face.embedding), self.settings.match_threshold)
        if options.reference is not None and reference is None:
            reasons.append(REFERENCE_NO_FACE)
        actions = [ActionResult(a, False, 0.0) for a in options.actions]
        if actions:
            reasons.append(ACTIONS_FAILED)
        timer.add("total", time.perf_counter() - started)
        alive = obs.face is not None and not [r for r in reasons if r != REFERENCE_NO_FACE]
        return Verdict(
            kind="image", alive=alive, average_liveness=liveness, reasons=reasons, best_face=best, actions=actions,
            match=match, frames_decoded=1, frames_analyzed=1, frames_with_face=int(obs.face is not None),
            liveness_frames=int(obs.face is not None), duration_s=0.0, identity_min_cosine=None,
            timings_ms={k: v * 1000 for k, v in timer.seconds.items()},
        )

    # -- video --------------------------------------------------------------------------------------------

    def analyze_video(self, data: bytes, options: AnalysisOptions = AnalysisOptions()) -> Verdict:
        started = time.perf_counter()
        settings = self.settings
        if options.nod_threshold_deg is not None:
            settings = replace(settings, actions=replace(settings.actions, nod_threshold_deg=options.nod_threshold_deg))
        timer = StageTimer()
        t0 = time.perf_counter()
        reader = VideoReader(data, settings.limits)
        timer.add("probe", time.perf_counter() - t0)
        try:
            reference = self._reference_embedding(options, timer)
            policy = options.mf_selector or settings.mf_selector
            with self.models.landmarkers.lend(settings.landmarker_wait_s) as landmarker:
                analyzer = FrameAnalyzer(landmarker, self.models.antispoof, self.models.embedder, mf_selector=policy, timer=timer)
                collected = self._collect(reader, analyzer, settings, timer)
        finally:
            reader.close()
        return self._decide(collected, reader.decoded_seconds, settings, options, reference, timer, started)

    def _collect(self, reader: VideoReader, analyzer: FrameAnalyzer, settings: EngineSettings, timer: StageTimer) -> _Collected:
        info = reader.info
        duration_ms = info.duration_s * 1000
        slot_ms = duration_ms / settings.max_decoded_frames if duration_ms > 0 else 0.0
        id_slot_ms = duration_ms / settings.identity_samples if duration_ms > 0 else 0.0
        c = _Collected(EvidenceTracker(settings.evidence))
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

    def _decide(
        self, c: _Collected, decoded_seconds: float, settings: EngineSettings, options: AnalysisOptions,
        reference: np.ndarray | None, timer: StageTimer, started: float,
    ) -> Verdict:
        antispoof, embedder = self.models.antispoof, self.models.embedder
        t0 = time.perf_counter()
        scores: list[float] = []
        for i in range(0, len(c.crops), max(1, settings.request_batch_size)):
            scores.extend(float(s) for s in antispoof.predict_crops(c.crops[i : i + settings.request_batch_size]))
        timer.add("antispoof", time.perf_counter() - t0)
        t0 = time.perf_counter()
        embeddings = [embedder.embed_aligned(a) for a in c.aligned]
        timer.add("embedding", time.perf_counter() - t0)

        observations = c.observations
        with_face = [o for o in observations if o.face is not None]
        timestamps = [o.timestamp_ms for o in observations]
        duration_s = max(decoded_seconds, (timestamps[-1] - timestamps[0]) / 1000 if timestamps else 0.0)
        reasons: list[str] = []
        average = float(np.mean(scores)) if scores else 0.0
        min_selected = min(settings.min_selected_frames, max(1, len(observations)))
        if not with_face:
            multi = sum(1 for o in observations if o.rejected == MULTIPLE_FACES)
            reasons.append(MULTIPLE_FACES if multi > len(observations) / 2 else NO_FACE)
        elif len(scores) < min_selected:
            multi = sum(1 for o in observations if o.rejected == MULTIPLE_FACES)
            reasons.append(MULTIPLE_FACES if multi else TOO_FEW_FRAMES)
        min_seconds = settings.min_video_seconds if options.min_seconds is None else options.min_seconds
        if duration_s < min_seconds:
            reasons.append(SHORT_TIME)
        t0 = time.perf_counter()
        evidence = c.evidence.report() if with_face else None
        timer.add("evidence", time.perf_counter() - t0)
        if evidence is not None:
            reasons.extend(evidence.reasons)  # static_video, flat_face, looped_video (scoring.evidence)
        identity = IdentityTrack()
        for vector in embeddings:
            identity.add(vector)
        identity_min = identity.min_similarity
        if identity_min is not None and identity_min < settings.identity_threshold:
            reasons.append(FACE_CHANGED)
        if scores and average < settings.liveness_threshold:
            reasons.append(LOW_LIVENESS)
        windows = list(options.action_windows_ms) if options.action_windows_ms else None
        actions = check_sequence(observations, options.actions, settings.actions, windows) if options.actions else []
        if actions and not all(a.passed for a in actions):
            reasons.append(ACTIONS_FAILED)

        best = None
        match = None
        if c.best is not None:
            obs, rgb = c.best
            face = obs.face
            assert face is not None
            index = next(i for i, o in enumerate(c.liveness_obs) if o is obs)
            best = BestFace(
                frame_no=obs.frame_no, timestamp_s=obs.timestamp_ms / 1000, bbox=face.bbox.scaled(1 / c.scale),
                quality=face.quality, liveness=scores[index], frame_rgb=c.best_full_rgb if c.best_full_rgb is not None else rgb,
                face_rgb=align_face(rgb, face.landmarks),
            )
            if reference is not None:
                t0 = time.perf_counter()
                vector = embedder.embed_aligned(best.face_rgb)
                timer.add("embedding", time.perf_counter() - t0)
                match = MatchResult.from_cosine(cosine(reference, vector), settings.match_threshold)
        if options.reference is not None and reference is None:
            reasons.append(REFERENCE_NO_FACE)
        timer.add("total", time.perf_counter() - started)
        alive = not [r for r in reasons if r != REFERENCE_NO_FACE]
        return Verdict(
            kind="video", alive=alive, average_liveness=average, reasons=reasons, best_face=best, actions=actions,
            match=match, frames_decoded=c.decoded, frames_analyzed=c.analyzed, frames_with_face=len(with_face),
            liveness_frames=len(scores), duration_s=duration_s, identity_min_cosine=identity_min,
            timings_ms={k: v * 1000 for k, v in timer.seconds.items()}, evidence=evidence,
        )

    def _reference_embedding(self, options: AnalysisOptions, timer: StageTimer) -> np.ndarray | None:
        if options.reference is None:
            return None
        if options.reference_embedding is not None:
            return options.reference_embedding
        t0 = time.perf_counter()
        vector = self.embed_photo(options.reference, options.auto_rotate)
        timer.add("reference", time.perf_counter() - t0)
        return vector


class _Collected:
    """What one pass over a clip gathers before the verdict."""

    def __init__(self, evidence: EvidenceTracker) -> None:
        self.evidence = evidence  # cross-frame evidence: stillness, flatness, loop (scoring.evidence)
        self.observations: list[FrameObservation] = []
        self.liveness_obs: list[FrameObservation] = []
        self.crops: list[list[np.ndarray]] = []
        self.aligned: list[np.ndarray] = []
        self.best: tuple[FrameObservation, np.ndarray] | None = None
        self.best_full_rgb: np.ndarray | None = None  # the best frame at source resolution (bbox is in its pixels)
        self.decoded = 0
        self.analyzed = 0
        self.scale = 1.0

