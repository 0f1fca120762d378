"""The light challenge over real WebRTC on loopback: shared live clips from six sources streamed into sessions
created with `light: true` by the Python client, as a simulated camera whose face reflects the colours
(realtime.client.ReflectingTrack), as the clip itself (an injected recording), with the reflection 1.5 s late, with
the wrong colours, and as an evenly tinted still. One run per case here; `python -m evaluation.light_runs` runs
the 10-run figure.

Run inside a loopback-only namespace:
    unshare -n sh -c 'ip link set lo up && .venv/bin/pytest -q tests/realtime/test_light_webrtc.py'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluation.light_runs import CLIPS, LOOPBACK, camera, face_boxes, load_clip, run_light_check
from realtime import protocol as p
from realtime.client import Box, FramesTrack, LiveClient
from realtime.registry import SessionOptions, SessionRegistry
from scoring.light import LightLimits

pytestmark = pytest.mark.webrtc
Clip = tuple[list[np.ndarray], float, list[Box]]
_clips: dict[str, Clip] = {}


@pytest.fixture
async def registry(engine):
    reg = SessionRegistry(engine, LOOPBACK)
    reg.start()
    yield reg
    await reg.close()


def clip(engine: Any, media: Path, name: str) -> Clip:
    """The clip at webcam size and where its face is in each frame (once per run)."""
    if name not in _clips:
        frames, fps = load_clip(media / "videos" / name)
        _clips[name] = (frames, fps, face_boxes(engine, frames))
    return _clips[name]


def light_messages(messages: list[dict[str, object]]) -> list[dict[str, object]]:
    return [m for m in messages if m.get("type") == p.MessageType.LIGHT]


# Real people the passive evidence of main still refuses (issue 18, measured over WebRTC here): real3dp_may.
PASSIVE_EVIDENCE_REFUSES = {"real3dp_may.mp4"}


@pytest.mark.parametrize("name", CLIPS)
async def test_a_face_that_reflects_the_colours_succeeds(registry, engine, media, name):
    frames, fps, boxes = clip(engine, media, name)
    status, result, messages = await run_light_check(registry, camera("reflect", frames, fps, boxes))
    light = result["light"]
    assert light["outcome"] == "passed", str({k: v for k, v in light.items() if k != "colors"})
    if name in PASSIVE_EVIDENCE_REFUSES:
        # The light passed; the passive evidence of the current rules refuses this real speaker (issue 18):
        # nothing but that reason may fail it.
        assert set(result["reasons"]) <= {"static_video", "flat_face"}, result["reasons"]
        return
    assert status == "SUCCEEDED", result["reasons"]
    assert result["assurance"] == "high"
    limits = LightLimits()
    assert limits.min_lag_ms <= light["lag_ms"] <= LOOPBACK.light_max_lag_ms
    assert light["correlation"] >= limits.min_correlation and light["relief"] >= limits.min_relief
    # one colour per message, each when it is due: the client never holds more than the colour to show now
    shown = light_messages(messages)
    assert [m["color"] for m in shown] == [*light["colors"], p.LIGHT_OFF]
    assert all(set(m) == {"v", "type", "color", "index", "total", "_at"} for m in shown)
    gaps = np.diff([float(m["_at"]) for m in shown])  # type: ignore[arg-type]
    assert (gaps >= limits.min_step_ms / 1000 - 0.05).all(), gaps


@pytest.mark.parametrize("name", CLIPS[:3])
async def test_the_clip_as_it_is_fails_light_mismatch(registry, engine, media, name):
    """An injected recording: real motion, no reflection of this session's colours."""
    frames, fps, boxes = clip(engine, media, name)
    status, result, messages = await run_light_check(registry, camera("plain", frames, fps, boxes))
    assert status == "FAILED" and "light_mismatch" in result["reasons"], result["reasons"]
    assert result["light"]["outcome"] == "light_mismatch"
    assert result["light"]["correlation"] < LightLimits().min_correlation
    assert light_messages(messages), "the colours were sent"


async def test_a_reflection_one_and_a_half_seconds_late_fails(registry, engine, media):
    """A remote re-enactment that renders the light after the fact."""
    frames, fps, boxes = clip(engine, media, CLIPS[0])
    status, result, _ = await run_light_check(registry, camera("late", frames, fps, boxes))
    assert status == "FAILED" and "light_mismatch" in result["reasons"], result


async def test_a_reflection_of_other_colours_fails(registry, engine, media):
    frames, fps, boxes = clip(engine, media, CLIPS[1])
    status, result, _ = await run_light_check(registry, camera("wrong", frames, fps, boxes))
    assert status == "FAILED" and "light_mismatch" in result["reasons"], result


async def test_an_evenly_tinted_still_fails_as_a_plane(registry, engine, media):
    """A picture held up to the screen follows the colours in time, but every region of it as one plane."""
    frames, fps, boxes = clip(engine, media, CLIPS[0])
    status, result, _ = await run_light_check(registry, camera("flat", frames, fps, boxes))
    light = result["light"]
    assert status == "FAILED" and "light_mismatch" in result["reasons"], result
    assert light["correlation"] >= LightLimits().min_correlation, "it did follow the colours"
    assert light["relief"] < LightLimits().min_relief


async def test_declining_the_lights_is_judged_without_them_at_lower_assurance(registry, engine, media):
    frames, fps, _ = clip(engine, media, CLIPS[0])
    status, result, messages = await run_light_check(registry, FramesTrack(frames, fps, lead_s=0.5), light_client=False)
    assert not light_messages(messages)
    assert status == "SUCCEEDED", result["reasons"]
    assert result["light"]["outcome"] == "declined" and result["assurance"] == "low"


async def test_a_session_without_the_option_sends_no_colours(registry, engine, media):
    frames, fps, boxes = clip(engine, media, CLIPS[0])
    session, token = await registry.create(SessionOptions(action_count=0))
    client = LiveClient(camera("reflect", frames, fps, boxes))
    try:
        await client.connect(lambda sdp: registry.offer(session.id, token, sdp))
        run = await client.wait_result(60)
    finally:
        await client.close()
    assert not light_messages(run.messages)
    stored = await registry.get(session.id)
    assert stored.result is not None and stored.result["light"] is None
