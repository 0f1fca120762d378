"""One live check over loopback WebRTC, as a browser would run it: the client harness the WebRTC tests share."""

from __future__ import annotations

import asyncio

import numpy as np

from realtime.client import FramesTrack, LiveClient
from realtime.registry import SessionOptions, SessionRegistry


async def run_check(
    reg: SessionRegistry,
    frames: list[np.ndarray],
    fps: float,
    options: SessionOptions,
    timeout: float = 40,
    lead_s: float = 1.5,
    bounce: bool = False,
):
    """Returns the session as stored once the check settled, and what the client saw (`bounce`: FramesTrack)."""
    session, token = await reg.create(options)
    client = LiveClient(FramesTrack(frames, fps, lead_s=lead_s, bounce=bounce))
    try:
        await client.connect(lambda sdp: reg.offer(session.id, token, sdp))
        run = await client.wait_result(timeout)
    finally:
        await client.close()
    await settle(reg)
    return await reg.get(session.id), run


async def settle(reg: SessionRegistry, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if reg.counts()["peers"] == 0 and reg.counts()["live"] == 0:
            return
        await asyncio.sleep(0.05)
