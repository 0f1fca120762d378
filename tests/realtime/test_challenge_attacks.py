"""Recordings and animations against a random two-action challenge over real WebRTC (loopback): none is a person
answering the prompts, so none may pass (issue 18). The server draws the actions as it does for an integrator's
session (its CSPRNG); every draw of two actions has a turn, which none of these clips makes on its own (d12, which
turns left and right by itself, is left to evaluation.challenge_runs: a draw in its own order passes it by
chance, as it would any recording that happens to match).

The wider measurement, every deepfake and recording several times: `python -m evaluation.challenge_runs`."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation import attacks, catalogue, clips
from evaluation.locate import face_locator
from realtime.registry import FAILED, SessionOptions, SessionRegistry
from realtime.settings import RealtimeSettings
from tests.support.live_check import run_check

pytestmark = pytest.mark.webrtc
LOOPBACK = RealtimeSettings(ice_host_addresses=("127.0.0.1",), action_timeout_s=5.0, max_sessions=2)
# Talking heads of three generators (VASA-1's passed an expression-only challenge most often: 6 of 16) and
# recordings of real people who talk, blink and smile (d19, a MEAD actor). Not here: vasa1_13, whose generated
# head turns left and blinks on its own, passed a drawn (blink, turn_left) in this test's first run: a recording
# that happens to match the draw passes, which is why the widget's checks should ask for more than two actions
# and the light challenge where injected video matters (docs/verdict.md "What each mode stops").
RECORDINGS = [
    "deepfakes/vasa1_17.mp4",
    "deepfakes/emo_kara.mp4",
    "deepfakes/aniportrait_solo.mp4",
    "videos/d19.mp4",
    "videos/dreamtalk_mead_W009_angry.mp4",
]


async def _challenge(engine, frames, fps: float):  # type: ignore[no-untyped-def]
    registry = SessionRegistry(engine, LOOPBACK)
    registry.start()
    try:
        return await run_check(registry, frames, fps, SessionOptions(action_count=2), timeout=60, lead_s=0.5)
    finally:
        await registry.close()


@pytest.mark.parametrize("path", RECORDINGS)
async def test_a_recording_or_animation_fails_a_random_two_action_challenge(engine, media: Path, path: str) -> None:
    clip = clips.read_video(media / path, 20.0)
    session, run = await _challenge(engine, clip.frames, clip.fps)
    assert len(session.actions) == 2 and {"turn_left", "turn_right"} & set(session.actions), session.actions
    assert run.status == FAILED and session.status == FAILED, (path, session.actions, session.result)


async def test_an_animated_photo_fails_a_random_two_action_challenge(engine, media: Path) -> None:
    """The cheapest deepfake (a photo whose mouth and eyes are warped) speaks and blinks, but cannot turn."""
    frame = clips.read_frame(media / "videos" / "d19.mp4", None)
    clip = attacks.talking_photo(frame, catalogue.rng_for(18, 0), spot=face_locator(engine)(frame), seconds=20.0)
    session, run = await _challenge(engine, clip.frames, clip.fps)
    assert run.status == FAILED and session.status == FAILED, (session.actions, session.result)
