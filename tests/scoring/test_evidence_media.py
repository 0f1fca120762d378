"""Evidence across frames and the calibrated score on real models and media, in both paths: recorded clips (the
engine) and passive live checks over WebRTC (the registry, loopback). Every live clip of SOURCES.tsv passes
offline; every picture and screen kind generated from them fails. The limits come from evaluation/calibrate.py
(leave-one-source-out over all media, tests/evaluation/test_calibration.py); these tests keep the engine honest on the media
itself, in both paths."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from evaluation import attacks, calibrate, catalogue, clips
from realtime.registry import FAILED, SUCCEEDED, SessionOptions, SessionRegistry
from realtime.settings import RealtimeSettings
from scoring.engine import AnalysisOptions
from scoring.evidence import EvidenceLimits
from scoring.reasons import Reason
from tests.support.paths import MEDIA_DIR

FLAT_REASONS = {Reason.FLAT_FACE, Reason.STATIC_VIDEO}
MEDIA = MEDIA_DIR


def live_clips() -> list[str]:
    """Every live clip of SOURCES.tsv (collected without the media fixture: the list is the parameters)."""
    import os  # noqa: PLC0415

    root = Path(os.environ.get("LIVECHECK_MEDIA", MEDIA))
    with (root / "SOURCES.tsv").open(encoding="utf-8") as fh:
        return [r["path"] for r in csv.DictReader(fh, delimiter="\t") if r["kind"] == "live"]


# (attack kind, the media it is made from): each picture and screen kind, from clips of different sources.
ATTACKS = [
    ("print_photo", "videos/d18.mp4"),
    ("held_photo", "videos/mt_sun.mp4"),
    ("tilted_photo", "videos/d12.mp4"),
    ("bent_photo", "videos/d19.mp4"),
    ("zoom_photo", "identity/obama.jpg"),
    ("still_noise", "videos/mt_sun.mp4"),
    ("still_injection", "videos/d0.mp4"),
    ("live_background", "videos/d19.mp4"),
    ("screen_replay", "videos/d12.mp4"),
    ("replay_tilted", "videos/d0.mp4"),
]


def attack_item(kind: str, source: str) -> calibrate.Item:
    return calibrate.Item(f"{kind}_{Path(source).stem}", kind, "test", source)


@pytest.fixture(scope="module")
def flat_clips(engine, media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, clips.Clip]]:
    """The picture attacks the live path also streams, as files and as frames."""
    out = tmp_path_factory.mktemp("flat")
    made = {}
    for kind, source in [("held_photo", "videos/mt_sun.mp4"), ("tilted_photo", "videos/d12.mp4"),
                         ("still_noise", "videos/mt_sun.mp4"), ("bent_photo", "videos/d19.mp4")]:  # fmt: skip
        item = attack_item(kind, source)
        path = out / f"{item.name}.mp4"
        path.write_bytes(calibrate.item_bytes(item, media, engine, out))
        made[item.name] = (path, clips.read_video(path, 20.0))
    return made


@pytest.mark.parametrize("path", live_clips())
def test_every_shared_live_clip_passes_offline(engine, media: Path, path: str) -> None:
    verdict = engine.analyze_video((media / path).read_bytes(), AnalysisOptions())
    assert verdict.alive and verdict.reasons == [], (verdict.reasons, verdict.score, verdict.evidence)
    assert verdict.score is not None and verdict.score.reason is None


@pytest.mark.parametrize("kind,source", ATTACKS)
def test_every_picture_and_screen_kind_fails_offline(
    engine, media: Path, tmp_path: Path, kind: str, source: str
) -> None:
    data = calibrate.item_bytes(attack_item(kind, source), media, engine, tmp_path)
    verdict = engine.analyze_video(data, AnalysisOptions())
    assert not verdict.alive, (kind, source, verdict.reasons, verdict.score, verdict.evidence)


def test_a_tilted_photo_turns_like_a_head_but_shows_no_parallax(engine, flat_clips, media: Path) -> None:
    tilted = engine.analyze_video(flat_clips["tilted_photo_d12"][0].read_bytes(), AnalysisOptions()).evidence
    live = engine.analyze_video((media / "videos" / "d12.mp4").read_bytes(), AnalysisOptions()).evidence
    assert tilted is not None and live is not None
    assert tilted.parallax_pairs >= 3 and tilted.parallax is not None and live.parallax is not None
    assert tilted.parallax < engine.settings.evidence.flat_max < live.parallax
    assert tilted.reasons == (Reason.FLAT_FACE,)


def _blink_range(engine, frames: list[np.ndarray], times_ms: list[int]) -> tuple[int, float]:
    """(faces sampled, blink range) of the evidence over `frames` taken at `times_ms`."""
    from scoring.evidence import EvidenceTracker  # noqa: PLC0415

    analyzer, token = engine.stream_analyzer()
    try:
        tracker = EvidenceTracker(engine.settings.evidence)
        for n, (rgb, t_ms) in enumerate(zip(frames, times_ms, strict=True)):
            face = analyzer.analyze(rgb, t_ms, n, liveness=False).face
            if face is not None:
                tracker.add(face, t_ms, rgb)
        report = tracker.report()
    finally:
        engine.release(token)
    return len(tracker), report.channels.get("blink", 0.0)


def test_a_live_check_at_10_fps_with_a_jittery_clock_samples_every_frame_and_keeps_the_blink(
    engine, media: Path
) -> None:
    """A live check analyzes ~10 fps stamped by arrival, a few ms either side of 100 apart: each analyzed face
    is sampled (at 100 ms the ones a few ms early were skipped, and a blink fell between samples: a real person
    refused in CI), and the blink it sees is the one the 30 fps upload sees."""
    clip = clips.read_video(media / "videos" / "fye_temple.mp4", 20.0)
    upload_times = [round(i * 1000 / clip.fps) for i in range(len(clip.frames))]
    upload_samples, upload_blink = _blink_range(engine, clip.frames, upload_times)
    rng = np.random.default_rng(7)
    live_times = [int(k * 100 + rng.integers(-6, 7)) for k in range(int(len(clip.frames) / clip.fps * 10))]
    live_frames = [clip.frames[min(len(clip.frames) - 1, round(t * clip.fps / 1000))] for t in live_times]
    live_samples, live_blink = _blink_range(engine, live_frames, live_times)
    assert live_samples == len(live_frames)
    assert upload_samples == pytest.approx(len(clip.frames) / 3, abs=1)  # an upload: every third frame, as fitted
    assert live_blink >= 0.6 * upload_blink > 0.1, (live_blink, upload_blink)


# -- the live path: passive checks (no actions) over WebRTC ----------------------------------------------------

LOOPBACK = RealtimeSettings(ice_host_addresses=("127.0.0.1",), max_sessions=2)


def _webcam(frames: list[np.ndarray]) -> list[np.ndarray]:
    """What a browser sends: at most 640 px on the long side."""
    import cv2  # noqa: PLC0415

    h, w = frames[0].shape[:2]
    scale = min(1.0, 640 / max(h, w))
    size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames] if scale < 1 else frames


async def _passive(engine, frames: list[np.ndarray], fps: float):
    from tests.support.live_check import run_check  # noqa: PLC0415 - the same client harness

    registry = SessionRegistry(engine, LOOPBACK)
    registry.start()
    try:
        return await run_check(registry, _webcam(frames), fps, SessionOptions(action_count=0), timeout=60, bounce=True)
    finally:
        await registry.close()


# Live clips a passive live check does not pass, and the only reason it may give (docs/verdict.md "Live and
# recorded"): mt_sun, a calm speaker who never blinks in 22 s, is the lowest live clip offline (logit +0.01); VP8
# at 640 px reads her smile 0.25 where the upload reads 0.36, and the score refuses her for want of motion
# evidence. w2lgfpgan_kim is a 1080p presenter whose face is too small at a webcam's 640 px: the widget asks a
# person to come closer (positioning), a recording cannot.
PASSIVE_LIVE_EXCEPTIONS: dict[str, set[str]] = {
    "videos/mt_sun.mp4": {Reason.FLAT_FACE, Reason.STATIC_VIDEO},
    "videos/w2lgfpgan_kim.mp4": {"positioning_failed"},
}


@pytest.mark.webrtc
@pytest.mark.parametrize("path", live_clips())
async def test_every_shared_live_clip_passes_a_passive_live_check(engine, media: Path, path: str) -> None:
    """The same clip streamed as a webcam would (640 px, VP8, real time) is decided as its upload is: alive. A
    passive check stops once the score accepts, so it judges a prefix of the clip. The person holds still while
    positioning (the harness's 1.5 s lead: d12 talks and turns without a 600 ms pause, so a clip cannot obey the
    widget's "hold still") and the camera keeps filming: a clip shorter than the check plays on backwards
    (FramesTrack `bounce`), not as a held still frame (under CI load fye_temple, 3.2 s, was refused `static_video`
    after 20 s of its held last frame, its one blink missed)."""
    clip = clips.read_video(media / path, 20.0)
    session, run = await _passive(engine, clip.frames, clip.fps)
    result = session.result or {}
    why = str({k: result.get(k) for k in ("reasons", "score", "evidence", "average_liveness", "duration_s")})
    if path in PASSIVE_LIVE_EXCEPTIONS:
        assert session.status == SUCCEEDED or set(result["reasons"]) <= PASSIVE_LIVE_EXCEPTIONS[path], why
        return
    assert run.status == SUCCEEDED and session.status == SUCCEEDED, why
    assert result["reasons"] == []


PASSIVE_REFUSALS = {Reason.FLAT_FACE, Reason.STATIC_VIDEO, Reason.LOW_LIVENESS, Reason.LOOPED_VIDEO}


@pytest.mark.webrtc
@pytest.mark.parametrize("name", ["held_photo_mt_sun", "tilted_photo_d12", "still_noise_mt_sun", "bent_photo_d19"])
async def test_flat_attacks_fail_a_passive_live_check(engine, flat_clips, name: str) -> None:
    _, clip = flat_clips[name]
    session, run = await _passive(engine, clip.frames, clip.fps)
    assert run.status == FAILED and session.status == FAILED
    reasons = set(session.result["reasons"])
    assert reasons and reasons <= PASSIVE_REFUSALS, reasons


@pytest.mark.parametrize("codec,container", [("libx264", "mp4"), ("libvpx", "webm")])
@pytest.mark.parametrize("height", [360, 1080])
def test_a_still_reencoded_by_a_codec_at_any_size_is_static(
    engine, media: Path, codec: str, container: str, height: int
) -> None:
    """A still with sensor noise and flicker, re-encoded (codec noise on top, as a virtual camera's stream):
    at 360p and 1080p, H.264 and VP8, it stays `static_video`."""
    import cv2  # noqa: PLC0415

    from tests.support.mediagen import encode_video  # noqa: PLC0415

    frame = clips.read_frame(media / "videos" / "mt_sun.mp4", 10.0)
    width = int(round(height * 4 / 3)) // 2 * 2
    canvas = np.full((height, width, 3), 120, dtype=np.uint8)
    face = cv2.resize(frame, (int(frame.shape[1] * height / frame.shape[0]) // 2 * 2, height))
    x0 = (width - face.shape[1]) // 2
    canvas[:, x0 : x0 + face.shape[1]] = face
    clip = attacks.still_noise(canvas, catalogue.rng_for(5, height), seconds=2.6)
    data = encode_video(clip.frames, clip.fps, codec=codec, container=container)
    verdict = engine.analyze_video(data, AnalysisOptions())
    assert Reason.STATIC_VIDEO in verdict.reasons, (verdict.reasons, verdict.evidence)


@pytest.mark.parametrize("qualities", [(70, 95), (80, 95)])
def test_a_still_recompressed_frame_by_frame_is_frozen_by_its_pixels(engine, media: Path, qualities) -> None:
    """One picture, each frame compressed at another JPEG quality (a virtual camera's or a stream's varying
    quantization): the landmarks jitter with the compression, so the face's own box moves a pixel or two and its
    thumbnails stop repeating (0.31-0.41 of the pairs when each frame was cut by its own box); cut by one box the
    pixels repeat, and the frozen finding refuses the still whatever the score would say."""
    import cv2  # noqa: PLC0415

    from tests.support.mediagen import encode_video  # noqa: PLC0415

    bgr = cv2.imread(str(media / "images" / "image_T1.jpg"))
    assert bgr is not None
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(40):
        _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*qualities))])
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        assert decoded is not None
        rgb = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
        frames.append(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2])
    verdict = engine.analyze_video(encode_video(frames, 10.0, crf=0), AnalysisOptions())
    evidence = verdict.evidence
    assert evidence is not None
    limits = EvidenceLimits()
    assert evidence.repeated_share >= limits.repeat_share, evidence.to_dict()
    assert Reason.STATIC_VIDEO in evidence.reasons  # the finding, not only the score
