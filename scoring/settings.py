"""Engine settings. Names and defaults follow FindFace's findface-liveness-api where it has one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from scoring.evidence import EvidenceLimits
from scoring.score import SCORE_MODEL, ScoreModel

# Bounds on decoding cost for an API whose own document sets no frame-rate or resolution limit (Huawei FRS, silent
# verification): what phones record (4K UHD, slow motion up to 120 fps) passes; larger is refused as a resource limit.
DECODE_MAX_LONG_SIDE_PX = 3840
DECODE_MAX_SHORT_SIDE_PX = 2160
DECODE_MAX_FPS = 120.0


class FaceSelector(StrEnum):
    """FindFace `mf-selector`: what a frame with several faces means."""

    REJECT = "reject"  # no face is chosen: the frame counts as multiple_faces
    BIGGEST = "biggest"  # the largest face is judged


@dataclass(frozen=True)
class MediaLimits:
    """Checked from headers before any frame is decoded (FindFace `limits`; Huawei's 1-15 s is an adapter's)."""

    video_size: int = 10 * 1024 * 1024  # bytes (FindFace video-size)
    video_length_sec: float = 60.0  # FindFace video-length-sec
    video_min_length_sec: float = 0.0  # a header duration below this is refused before decoding (Huawei: 1 s)
    video_fps: float = 30.0  # FindFace video-fps; a small tolerance is applied for 29.97-style rates
    video_width_px: int = 1920  # the long side (portrait and landscape alike; FindFace video-width-px)
    video_height_px: int = 1080  # the short side (FindFace video-height-px)
    image_size: int = 10 * 1024 * 1024  # bytes of an uploaded still
    image_pixels: int = 4096 * 4096  # decoded pixels of an uploaded still

    def without_rate_and_resolution(self) -> MediaLimits:
        """These limits for an API whose document sets no fps or resolution limit: only the decoding-cost bounds
        (DECODE_MAX_*) remain, or the configured limits where they are looser."""
        return replace(
            self,
            video_fps=max(self.video_fps, DECODE_MAX_FPS),
            video_width_px=max(self.video_width_px, DECODE_MAX_LONG_SIDE_PX),
            video_height_px=max(self.video_height_px, DECODE_MAX_SHORT_SIDE_PX),
        )


@dataclass(frozen=True)
class ActionSettings:
    """Thresholds of the action detectors, all relative to the user's own starting pose/expression."""

    turn_threshold_deg: float = 10.0
    nod_threshold_deg: float = 10.0  # Huawei nod_threshold, 1-90
    blink_threshold: float = 0.35  # rise of mean eyeBlink over the baseline
    mouth_threshold: float = 0.45  # rise of jawOpen over the baseline (talking stays below it)
    smile_threshold: float = 0.3  # rise of mean mouthSmile over the baseline
    baseline_seconds: float = 0.4  # how much of the start of a sequence defines the starting pose
    min_event_seconds: float = 0.06  # shortest excursion that counts (blinks exempt: they are brief)


@dataclass(frozen=True)
class EngineSettings:
    # Calibrated on ../shared/media: live clips average 0.73-1.0, printed photo 0.25, phone replay 0.005.
    # (FindFace's 0.95 default belongs to its own model; see README "Thresholds".)
    liveness_threshold: float = 0.6
    fullframe_jpeg_quality: int = 75
    max_decoded_frames: int = 30  # frames that get the anti-spoof model (spread over the clip)
    min_selected_frames: int = 10  # frames with a usable face needed for a video verdict
    mf_selector: str = FaceSelector.REJECT  # a FaceSelector
    # Anti-spoof batch size. On one onnxruntime thread the cost per face is flat from 1 to 16 (~6 ms for both
    # MiniFASNets) and doubles at 32 (bench/frame_pipeline.py prints it), so keep batches at most 16.
    request_batch_size: int = 16
    analysis_fps: float = 15.0  # landmark sampling rate for recorded video
    analysis_max_side: int = 720  # decoded frames are scaled down to this before analysis
    min_video_seconds: float = 2.0  # shorter clips fail with short_time
    match_threshold: float = 0.363  # SFace cosine for same person (OpenCV's documented value)
    identity_threshold: float = 0.363  # SFace cosine below which a clip's face "changed"
    identity_samples: int = 5  # frames embedded to check identity continuity
    min_face_ratio: float = 0.12  # face width relative to frame width below which a face is unusable
    inference_threads: int = 1  # onnxruntime intra-op threads per session
    landmarker_wait_s: float = 10.0  # longest wait for a free face landmarker before 'busy' (never unbounded)
    limits: MediaLimits = field(default_factory=MediaLimits)
    actions: ActionSettings = field(default_factory=ActionSettings)
    evidence: EvidenceLimits = field(default_factory=EvidenceLimits)  # cross-frame checks (scoring.evidence)
    score: ScoreModel = SCORE_MODEL  # the calibrated score of clips and live checks (scoring.score)

    def __post_init__(self) -> None:
        if self.mf_selector not in tuple(FaceSelector):
            raise ValueError(f"mf_selector must be one of {', '.join(FaceSelector)}")
        if not 0.0 <= self.liveness_threshold <= 1.0:
            raise ValueError("liveness_threshold must be within 0..1")
        if self.min_selected_frames > self.max_decoded_frames:
            raise ValueError("min_selected_frames must be <= max_decoded_frames")
        if not 1 <= self.actions.nod_threshold_deg <= 90:
            raise ValueError("nod_threshold must be within 1..90 degrees")
