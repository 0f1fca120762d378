"""The one scoring call path every interface uses: bytes (video or still) in, Verdict out.

The engine owns the models and orchestrates; the parts live in their own modules: request options
(scoring.options), the reference photo (scoring.reference), one pass over a clip (scoring.sampling) and the
decision rules shared with live checks (scoring.decision).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from models import ModelStore
from scoring import errors
from scoring.actions import ActionResult, check_sequence
from scoring.analyzer import FrameAnalyzer, StageTimer
from scoring.decision import Facts, Rules, decide, evidence_measures, evidence_score
from scoring.embedding import align_face, cosine
from scoring.errors import InputError
from scoring.evidence import EvidenceReport
from scoring.identity import IdentityTrack
from scoring.match import MatchResult
from scoring.media import VideoReader, decode_image, sniff
from scoring.modelset import ModelSet
from scoring.observation import FrameObservation
from scoring.options import AnalysisOptions
from scoring.reasons import Reason
from scoring.reference import PhotoFace, photo_face, reference_embedding
from scoring.sampling import Collected, collect
from scoring.settings import EngineSettings
from scoring.verdict import BestFace, Verdict

__all__ = ["AnalysisOptions", "LivenessEngine", "PhotoFace"]  # AnalysisOptions: callers import it from here


class LivenessEngine:
    """Owns the loaded models. Thread-safe: each call borrows its own landmarker from the pool."""

    def __init__(self, settings: EngineSettings, models: ModelSet) -> None:
        self.settings = settings
        self.models = models

    @classmethod
    def load(
        cls,
        settings: EngineSettings,
        models_dir: str | None = None,
        *,
        landmarkers: int = 8,
        live_landmarkers: int = 8,
        prewarm: int = 1,
    ) -> LivenessEngine:
        store = ModelStore.open(models_dir)
        return cls(
            settings,
            ModelSet.load(
                store,
                threads=settings.inference_threads,
                landmarkers=landmarkers,
                live_landmarkers=live_landmarkers,
                prewarm=prewarm,
            ),
        )

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

    def stream_analyzer(
        self, timer: StageTimer | None = None, mf_selector: str | None = None
    ) -> tuple[FrameAnalyzer, object]:
        """A per-stream analyzer for live sessions; call `release(token)` with the second value when done."""
        landmarker = self.models.live_landmarkers.acquire(self.settings.landmarker_wait_s)  # live checks' own pool
        analyzer = FrameAnalyzer(
            landmarker,
            self.models.antispoof,
            self.models.embedder,
            mf_selector=mf_selector or self.settings.mf_selector,
            timer=timer,
        )
        return analyzer, landmarker

    def release(self, token: object) -> None:
        self.models.live_landmarkers.release(token)  # type: ignore[arg-type]

    def embed_photo(self, data: bytes, auto_rotate: bool = False) -> np.ndarray | None:
        """Embedding of the biggest face in a photo, or None when it has no face."""
        found = self.photo_face(data, auto_rotate)
        return found.face.embedding if found else None

    def photo_face(self, data: bytes, auto_rotate: bool = False) -> PhotoFace | None:
        """The biggest face of a photo, found upright with auto_rotate (scoring.reference). None: no face."""
        return photo_face(self.models, self.settings, data, auto_rotate)

    # -- stills -------------------------------------------------------------------------------------------

    def analyze_image(self, data: bytes, options: AnalysisOptions = AnalysisOptions()) -> Verdict:
        started = time.perf_counter()
        timer = StageTimer()
        t0 = time.perf_counter()
        rgb = decode_image(data, self.settings.limits)
        timer.add("decode", time.perf_counter() - t0)
        reference = reference_embedding(self.models, self.settings, options, timer)
        policy = options.mf_selector or self.settings.mf_selector
        with self.models.still_landmarkers.lend(self.settings.landmarker_wait_s) as landmarker:
            analyzer = FrameAnalyzer(
                landmarker, self.models.antispoof, self.models.embedder, mf_selector=policy, timer=timer
            )
            obs = analyzer.analyze(rgb, 0, liveness=True, embed=reference is not None)
        face = obs.face
        best = None
        match = None
        liveness = 0.0
        if face is not None:
            liveness = float(face.liveness or 0.0)
            best = BestFace(0, 0.0, face.bbox, face.quality, liveness, rgb, align_face(rgb, face.landmarks))
            if reference is not None and face.embedding is not None:
                match = MatchResult.from_cosine(cosine(reference, face.embedding), self.settings.match_threshold)
        facts = Facts(
            frames=1,
            frames_with_face=int(face is not None),
            multiple_faces_frames=int(obs.rejected == Reason.MULTIPLE_FACES),
            liveness_frames=int(face is not None),
            average_liveness=liveness,
            identity_min=None,
            actions_asked=len(options.actions),
            actions_passed=0,  # a still cannot show an action
            reference_asked=options.reference is not None,
            reference_found=reference is not None,
        )
        decision = decide(facts, Rules.image(self.settings))
        timer.add("total", time.perf_counter() - started)
        return Verdict(
            kind="image",
            alive=decision.alive,
            average_liveness=liveness,
            reasons=list(decision.reasons),
            best_face=best,
            actions=[ActionResult(a, False, 0.0) for a in options.actions],
            match=match,
            frames_decoded=1,
            frames_analyzed=1,
            frames_with_face=facts.frames_with_face,
            liveness_frames=facts.liveness_frames,
            duration_s=0.0,
            identity_min_cosine=None,
            timings_ms={k: v * 1000 for k, v in timer.seconds.items()},
            facts=facts,
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
            reference = reference_embedding(self.models, settings, options, timer)
            policy = options.mf_selector or settings.mf_selector
            with self.models.landmarkers.lend(settings.landmarker_wait_s) as landmarker:
                analyzer = FrameAnalyzer(
                    landmarker, self.models.antispoof, self.models.embedder, mf_selector=policy, timer=timer
                )
                collected = collect(reader, analyzer, settings, timer)
        finally:
            reader.close()
        return self._video_verdict(collected, reader.decoded_seconds, settings, options, reference, timer, started)

    def _video_verdict(
        self,
        c: Collected,
        decoded_seconds: float,
        settings: EngineSettings,
        options: AnalysisOptions,
        reference: np.ndarray | None,
        timer: StageTimer,
        started: float,
    ) -> Verdict:
        """The models' batch inference over what the pass collected, then the facts, the decision, the verdict."""
        scores = self._batch_liveness(c.crops, settings, timer)
        identity = self._identity_track(c.aligned, timer)
        duration_s = _clip_seconds(c.observations, decoded_seconds)
        t0 = time.perf_counter()
        evidence = c.evidence.report() if any(o.face is not None for o in c.observations) else None
        timer.add("evidence", time.perf_counter() - t0)
        windows = list(options.action_windows_ms) if options.action_windows_ms else None
        actions = check_sequence(c.observations, options.actions, settings.actions, windows) if options.actions else []
        facts = _video_facts(c, scores, identity, evidence, actions, duration_s, options, reference)
        rules = Rules.video(settings, options.min_seconds)
        decision = decide(facts, rules)
        best, match = self._best_face(c, scores, settings, reference, timer)
        timer.add("total", time.perf_counter() - started)
        return Verdict(
            kind="video",
            alive=decision.alive,
            average_liveness=facts.average_liveness,
            reasons=list(decision.reasons),
            best_face=best,
            actions=actions,
            match=match,
            frames_decoded=c.decoded,
            frames_analyzed=c.analyzed,
            frames_with_face=facts.frames_with_face,
            liveness_frames=len(scores),
            duration_s=duration_s,
            identity_min_cosine=identity.min_similarity,
            timings_ms={k: v * 1000 for k, v in timer.seconds.items()},
            evidence=evidence,
            facts=facts,
            score=evidence_score(facts, rules),
        )

    def _batch_liveness(
        self, crops: list[list[np.ndarray]], settings: EngineSettings, timer: StageTimer
    ) -> list[float]:
        """Anti-spoof P(real) of every crop the pass collected, in batches of `request_batch_size`: the per-face
        cost is flat up to 16 faces and doubles above (EngineSettings)."""
        t0 = time.perf_counter()
        scores: list[float] = []
        for i in range(0, len(crops), max(1, settings.request_batch_size)):
            scores.extend(
                float(s) for s in self.models.antispoof.predict_crops(crops[i : i + settings.request_batch_size])
            )
        timer.add("antispoof", time.perf_counter() - t0)
        return scores

    def _identity_track(self, aligned: list[np.ndarray], timer: StageTimer) -> IdentityTrack:
        """The embeddings of the identity samples, so that a face swapped mid-clip shows as a low similarity."""
        t0 = time.perf_counter()
        identity = IdentityTrack()
        for face in aligned:
            identity.add(self.models.embedder.embed_aligned(face))
        timer.add("embedding", time.perf_counter() - t0)
        return identity

    def _best_face(
        self,
        c: Collected,
        scores: list[float],
        settings: EngineSettings,
        reference: np.ndarray | None,
        timer: StageTimer,
    ) -> tuple[BestFace | None, MatchResult | None]:
        """The best sampled face at source resolution, with its own anti-spoof score, and its match against the
        reference: the one face a caller sees and compares (None, None when no face was sampled)."""
        if c.best is None:
            return None, None
        obs, rgb = c.best
        face = obs.face
        assert face is not None
        index = next(i for i, o in enumerate(c.liveness_obs) if o is obs)
        best = BestFace(
            frame_no=obs.frame_no,
            timestamp_s=obs.timestamp_ms / 1000,
            bbox=face.bbox.scaled(1 / c.scale),
            quality=face.quality,
            liveness=scores[index],
            frame_rgb=c.best_full_rgb if c.best_full_rgb is not None else rgb,
            face_rgb=align_face(rgb, face.landmarks),
        )
        if reference is None:
            return best, None
        t0 = time.perf_counter()
        vector = self.models.embedder.embed_aligned(best.face_rgb)
        timer.add("embedding", time.perf_counter() - t0)
        return best, MatchResult.from_cosine(cosine(reference, vector), settings.match_threshold)


def _clip_seconds(observations: list[FrameObservation], decoded_seconds: float) -> float:
    """The clip's length: what the decoder read, or the span of the analyzed frames when their stamps say more."""
    timestamps = [o.timestamp_ms for o in observations]
    return max(decoded_seconds, (timestamps[-1] - timestamps[0]) / 1000 if timestamps else 0.0)


def _video_facts(
    c: Collected,
    scores: list[float],
    identity: IdentityTrack,
    evidence: EvidenceReport | None,
    actions: list[ActionResult],
    duration_s: float,
    options: AnalysisOptions,
    reference: np.ndarray | None,
) -> Facts:
    """A clip's facts, the same shape a live check decides on (scoring.decision), so one rule set judges both."""
    observations = c.observations
    return Facts(
        frames=len(observations),
        frames_with_face=sum(1 for o in observations if o.face is not None),
        multiple_faces_frames=sum(1 for o in observations if o.rejected == Reason.MULTIPLE_FACES),
        liveness_frames=len(scores),
        average_liveness=float(np.mean(scores)) if scores else 0.0,
        identity_min=identity.min_similarity,
        actions_asked=len(options.actions),
        actions_passed=sum(1 for a in actions if a.passed),
        evidence=evidence.reasons if evidence is not None else (),
        duration_s=duration_s,
        **evidence_measures(evidence),
        reference_asked=options.reference is not None,
        reference_found=reference is not None,
    )
