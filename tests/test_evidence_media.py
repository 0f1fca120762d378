"""Evidence across frames on real models and media, in both paths: recorded clips (the engine) and passive live
checks over WebRTC (the registry, loopback). Live clips pass; every flat attack generated from them fails with
flat_face or static_video. The thresholds come from evaluation/evidence_margins.py over all media; these tests
keep them honest on a sample, in both paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation import attacks
from realtime.registry import FAILED, SUCCEEDED, SessionOptions, SessionRegistry
from realtime.settings import RealtimeSettings
from scoring.engine import AnalysisOptions
from scoring.reasons import Reason

FLAT_REASONS = {Reason.FLAT_FACE, Reason.STATIC_VIDEO}
# (attack type, source, frame time): one of each flat attack, from live clips of different people and shapes.
FLAT_ATTACKS = [
    ("held_photo", "videos/mt_sun.mp4", 10.0),
    ("tilted_photo", "videos/d12.mp4", None),
    ("tilted_photo", "videos/mt_yongen.mp4", 5.0),
    ("bent_photo", "videos/d19.mp4", 2.0),
    ("still_noise", "videos/mt_sun.mp4", 10.0),
    ("print_photo", "videos/d18.mp4", 2.5),
]


@pytest.fixture(scope="module")
def flat_clips(media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, attacks.Clip]]:
    out = tmp_path_factory.mktemp("flat")
    clips = {}
    for index, (kind, source, at_s) in enumerate(FLAT_ATTACKS):
        clip = attacks.STILL_ATTACKS[kind](attacks.read_frame(media / source, at_s), attacks.rng_for(9, index))
        path = out / f"{kind}_{Path(source).stem}.mp4"
        attacks.write_video(path, clip)
        clips[path.stem] = (path, clip)
    return clips


@pytest.mark.parametrize("name", ["mt_sun", "mt_yongen", "d0", "d12", "d18", "d19"])
def test_every_live_clip_passes_the_evidence_offline(engine, media: Path, name: str) -> None:
    verdict = engine.analyze_video((media / "videos" / f"{name}.mp4").read_bytes(), AnalysisOptions())
    assert verdict.evidence is not None and verdict.evidence.has_evidence, verdict.evidence
    assert not FLAT_REASONS & set(verdict.reasons), verdict.reasons


def test_portrait_mt_yongen_is_analyzed_without_resolution_limits(engine, media: Path) -> None:
    verdict = engine.analyze_video((media / "videos" / "mt_yongen.mp4").read_bytes(), AnalysisOptions())
    assert verdict.alive, verdict.reasons


def test_every_flat_attack_fails_with_flat_face_or_static_video_offline(engine, flat_clips) -> None:
    for name, (path, _) in flat_clips.items():
        verdict = engine.analyze_video(path.read_bytes(), AnalysisOptions())
        assert FLAT_REASONS & set(verdict.reasons), (name, verdict.reasons, verdict.evidence)
        assert not verdict.alive, name


def test_a_tilted_photo_turns_like_a_head_but_shows_no_parallax(engine, flat_clips, media: Path) -> None:
    tilted = engine.analyze_video(flat_clips["tilted_photo_d12"][0].read_bytes(), AnalysisOptions()).evidence
    live = engine.analyze_video((media / "videos" / "d12.mp4").read_bytes(), AnalysisOptions()).evidence
    assert tilted is not None and live is not None
    assert tilted.parallax_pairs >= 3 and tilted.parallax is not None and live.parallax is not None
    assert tilted.parallax < engine.settings.evidence.parallax_min < live.parallax
    assert tilted.reasons == (Reason.FLAT_FACE,)


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
    from test_realtime_webrtc import run_check  # noqa: PLC0415 - the same client harness

    registry = SessionRegistry(engine, LOOPBACK)
    registry.start()
    try:
        return await run_check(registry, _webcam(frames), fps, SessionOptions(action_count=0), timeout=60, lead_s=0.5)
    finally:
        await registry.close()


@pytest.mark.webrtc
@pytest.mark.parametrize("name", ["mt_yongen", "d19"])
async def test_live_clips_without_a_turn_pass_a_passive_live_check(engine, media: Path, name: str) -> None:
    """Portrait mt_yongen (tilted up ~30 degrees, eyes half-closing) and d19 (smiles) show an expression. mt_sun
    is not asserted here: she never blinks in 22 s and her smile changes by 0.29-0.33 over WebRTC at 640 px against
    the 0.30 threshold (0.36 uploaded), so a passive live check passes her 3 times in 5 (docs/verdict.md "Live and
    recorded")."""
    clip = attacks.read_video(media / "videos" / f"{name}.mp4", 20.0)
    frames, fps = clip.frames, clip.fps
    session, run = await _passive(engine, frames, fps)
    assert run.status == SUCCEEDED and session.status == SUCCEEDED, session.result
    assert session.result["reasons"] == []
    if name == "mt_yongen":
        # She is decided at ~6.7 s of her 10.7 s, on her eyes half-closing at 4-7 s: the live check watched what
        # the upload is judged on, so it measures what the upload measures, within codec noise. Measured over 15
        # passive runs (evaluation/live_evidence.py): 0.41-0.56 live against 0.465 uploaded, at most 0.093 apart.
        uploaded = engine.analyze_video((media / "videos" / "mt_yongen.mp4").read_bytes(), AnalysisOptions()).evidence
        assert uploaded is not None
        assert abs(session.result["evidence"]["expression"] - uploaded.expression) <= 0.15, session.result["evidence"]
        assert abs(session.result["evidence"]["travel"] - uploaded.travel) <= 0.005, session.result["evidence"]


@pytest.mark.webrtc
@pytest.mark.parametrize("name", ["held_photo_mt_sun", "tilted_photo_d12", "still_noise_mt_sun", "bent_photo_d19"])
async def test_flat_attacks_fail_a_passive_live_check(engine, flat_clips, name: str) -> None:
    _, clip = flat_clips[name]
    session, run = await _passive(engine, clip.frames, clip.fps)
    assert run.status == FAILED and session.status == FAILED
    assert FLAT_REASONS & set(session.result["reasons"]), session.result["reasons"]


@pytest.mark.parametrize("codec,container", [("libx264", "mp4"), ("libvpx", "webm")])
@pytest.mark.parametrize("height", [360, 1080])
def test_a_still_reencoded_by_a_codec_at_any_size_is_static(
    engine, media: Path, codec: str, container: str, height: int
) -> None:
    """A still with sensor noise and flicker, re-encoded (codec noise on top, as a virtual camera's stream):
    at 360p and 1080p, H.264 and VP8, it stays `static_video`."""
    import cv2  # noqa: PLC0415

    from mediagen import encode_video  # noqa: PLC0415

    frame = attacks.read_frame(media / "videos" / "mt_sun.mp4", 10.0)
    width = int(round(height * 4 / 3)) // 2 * 2
    canvas = np.full((height, width, 3), 120, dtype=np.uint8)
    face = cv2.resize(frame, (int(frame.shape[1] * height / frame.shape[0]) // 2 * 2, height))
    x0 = (width - face.shape[1]) // 2
    canvas[:, x0 : x0 + face.shape[1]] = face
    clip = attacks.still_noise(canvas, attacks.rng_for(5, height), seconds=2.6)
    data = encode_video(clip.frames, clip.fps, codec=codec, container=container)
    verdict = engine.analyze_video(data, AnalysisOptions())
    assert Reason.STATIC_VIDEO in verdict.reasons, (verdict.reasons, verdict.evidence)
