"""A Python live-check client: streams prepared RGB frames over WebRTC and collects the server's messages.
Used by the tests and the benchmark; integrators can use it as a smoke check of a deployment."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from realtime import protocol as p
from realtime.peer import offer_host_addresses

CLOCK_RATE = 90000


def read_clip(
    path: str, size: tuple[int, int] | None = None, max_seconds: float | None = None
) -> tuple[list[np.ndarray], float]:
    """Decodes a video with PyAV into RGB frames (optionally resized to `size` = (width, height)) and its fps."""
    frames: list[np.ndarray] = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        for frame in container.decode(stream):
            if size is not None:
                frame = frame.reformat(width=size[0], height=size[1])
            frames.append(frame.to_ndarray(format="rgb24"))
            if max_seconds is not None and len(frames) >= max_seconds * fps:
                break
    return frames, fps


class FramesTrack(VideoStreamTrack):
    """Plays frames at `fps` in real time: `lead` copies of the first frame, then each frame once (no loop),
    then the last frame held until stopped."""

    def __init__(self, frames: Sequence[np.ndarray], fps: float, lead_s: float = 0.0) -> None:
        super().__init__()
        self.frames = list(frames)
        self.fps = fps
        self.lead = int(round(lead_s * fps))
        self._n = 0
        self._t0: float | None = None
        self.sent_at: list[float] = []

    async def recv(self) -> av.VideoFrame:
        if self._t0 is None:
            self._t0 = time.monotonic()
        due = self._t0 + self._n / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        index = min(max(0, self._n - self.lead), len(self.frames) - 1)
        frame = av.VideoFrame.from_ndarray(self.frames[index], format="rgb24")
        frame.pts = int(self._n * CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, CLOCK_RATE)
        self._n += 1
        return frame


@dataclass
class ClientRun:
    messages: list[dict[str, object]] = field(default_factory=list)
    status: str | None = None

    def of_type(self, kind: str) -> list[dict[str, object]]:
        return [m for m in self.messages if m.get("type") == kind]


OfferFn = Callable[[str], Awaitable[dict[str, str]]]


class LiveClient:
    """One client connection. `connect(offer_fn)` does the SDP exchange through `offer_fn(sdp) -> answer`."""

    def __init__(self, track: FramesTrack, host_addresses: Sequence[str] = ("127.0.0.1",)) -> None:
        self.pc = RTCPeerConnection()
        self.track = track
        self.run = ClientRun()
        self.host_addresses = tuple(host_addresses)
        self.result = asyncio.Event()
        self.prompted = asyncio.Event()
        self.channel = self.pc.createDataChannel(p.CHANNEL_LABEL)
        self.pc.addTrack(track)
        self.channel.on(
            "open", lambda: self.channel.send(f'{{"v":{p.PROTOCOL_VERSION},"type":"{p.MessageType.READY}"}}')
        )
        self.channel.on("message", self._on_message)

    def _on_message(self, raw: str) -> None:
        message = p.decode_server(raw)
        message["_at"] = time.monotonic()
        self.run.messages.append(message)
        if message["type"] == p.MessageType.PROMPT:
            self.prompted.set()
        if message["type"] == p.MessageType.RESULT:
            self.run.status = str(message["status"])
            self.result.set()

    async def connect(self, offer_fn: OfferFn) -> None:
        offer = await self.pc.createOffer()
        offer_host_addresses(self.pc, self.host_addresses)
        await self.pc.setLocalDescription(offer)
        answer = await offer_fn(self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))

    async def wait_result(self, timeout: float) -> ClientRun:
        await asyncio.wait_for(self.result.wait(), timeout)
        return self.run

    async def close(self) -> None:
        await self.pc.close()
