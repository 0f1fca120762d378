"""A Python live-check client: streams prepared RGB frames over WebRTC and collects the server's messages.
Used by the tests and the benchmark; integrators can use it as a smoke check of a deployment."""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from realtime import protocol as p
from realtime.peer import offer_host_addresses
from scoring.light import COLOR_RGB, LightColor

CLOCK_RATE = 90000
Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels


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
    then the last frame held until stopped. With `bounce`, a clip shorter than the check plays on backwards, then
    forwards again, as a camera keeps filming the person it shows: a held frame is a still picture (the frozen
    finding refuses it, rightly), and a clip restarted from its start is a loop (the loop finding). Bounced playback
    repeats itself at twice the clip's length, so a check that outlasts that may still read it as a loop."""

    def __init__(self, frames: Sequence[np.ndarray], fps: float, lead_s: float = 0.0, *, bounce: bool = False) -> None:
        super().__init__()
        self.frames = list(frames)
        self.fps = fps
        self.lead = int(round(lead_s * fps))
        self.bounce = bounce
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
        frame = av.VideoFrame.from_ndarray(self.render(self.index(self._n), time.monotonic()), format="rgb24")
        frame.pts = int(self._n * CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, CLOCK_RATE)
        self._n += 1
        return frame

    def index(self, sent: int) -> int:
        """Which of `frames` the `sent`-th frame shows: the lead, then the clip, then the last frame or a bounce."""
        at, last = max(0, sent - self.lead), len(self.frames) - 1
        if at <= last or not self.bounce or last == 0:
            return min(at, last)
        phase = at % (2 * last)
        return phase if phase <= last else 2 * last - phase

    def render(self, index: int, now: float) -> np.ndarray:
        """The picture sent for frame `index` at `now` (monotonic seconds): the frame as it is."""
        return self.frames[index]


@runtime_checkable
class LightAware(Protocol):
    """A track that wants the server's `light` messages (LiveClient forwards them with their arrival time)."""

    def on_light(self, message: dict[str, object], at: float) -> None: ...


class ReflectingTrack(FramesTrack):
    """A SIMULATION FOR TESTS (docs/protocol.md "Light challenge"): a camera whose face reflects the colours the
    server tells the widget to show, as a real face lit by the screen would. Each frame's face region is multiplied
    by (1 + strength x shading x colour), the colour being the one commanded `lag_s` before the frame is sent
    (display + camera latency); shading falls from 1 where the face points at the screen (its centre) to ~0.7 at
    its sides (a 3D surface; `flat=True` lights the whole picture evenly, as a photo held up to the screen is); noise on
    top. `recolor` maps the commanded colour to the one reflected (an attacker's guess); `face_boxes` is the face
    per frame (one box for all, or one per frame), by default a centred box of 45 % of the width."""

    def __init__(
        self,
        frames: Sequence[np.ndarray],
        fps: float,
        lag_s: float = 0.15,
        *,
        lead_s: float = 0.0,
        strength: float = 0.15,
        noise: float = 2.0,
        flat: bool = False,
        face_boxes: Box | Sequence[Box] | None = None,
        recolor: Callable[[str], str] | None = None,
        seed: int | None = None,
        bounce: bool = False,
    ) -> None:
        super().__init__(frames, fps, lead_s=lead_s, bounce=bounce)
        self.lag_s = lag_s
        self.strength = strength
        self.noise = noise
        self.flat = flat
        self.recolor = recolor
        self.commands: list[tuple[float, str]] = []  # (arrival, colour) as the client received them
        self._rng = np.random.default_rng(seed)
        height, width = self.frames[0].shape[:2]
        if face_boxes is None:
            side = int(0.45 * width)
            face_boxes = ((width - side) // 2, (height - side) // 2, (width + side) // 2, (height + side) // 2)
        boxes = [face_boxes] if isinstance(face_boxes[0], int) else list(face_boxes)  # type: ignore[list-item]
        self.face_boxes: list[Box] = boxes  # type: ignore[assignment]
        self._shading: dict[tuple[int, int], np.ndarray] = {}
        self._noise_field: np.ndarray | None = None

    def on_light(self, message: dict[str, object], at: float) -> None:
        color = str(message.get("color"))
        self.commands.append((at, self.recolor(color) if self.recolor is not None else color))

    def shown(self, at: float) -> np.ndarray:
        """The screen's colour (R, G, B in 0..1) at monotonic time `at`: nothing before the first command."""
        current = [c for t, c in self.commands if t <= at]
        if not current or current[-1] not in COLOR_RGB:
            return np.zeros(3)
        return np.asarray(COLOR_RGB[LightColor(current[-1])], dtype=np.float32)

    def _weights(self, width: int, height: int) -> np.ndarray:
        """The shading over a face box of this size (an ellipse; 0 outside it), cached per size: 1 where the face
        points at the screen, falling like the cosine of a rounded surface's angle (~0.75 on the cheeks)."""
        found = self._shading.get((width, height))
        if found is None:
            yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
            u = (xx + 0.5 - width / 2) / max(1.0, width / 2)
            v = (yy + 0.5 - height / 2) / max(1.0, height / 2)
            curved = np.clip(1.0 - 0.9 * u**2 - 0.5 * v**2, 0.05, 1.0)
            found = np.where(u**2 + v**2 <= 1.0, 1.0 if self.flat else curved, 0.0).astype(np.float32)
            self._shading[(width, height)] = found
        return found

    def render(self, index: int, now: float) -> np.ndarray:
        """Only the lit region is computed in floating point (the rest is the frame as it is): this runs on the
        event loop for every frame sent."""
        frame = self.frames[index]
        color = self.shown(now - self.lag_s)
        height, width = frame.shape[:2]
        if self.flat:
            left, top, right, bottom = 0, 0, width, height
        else:
            left, top, right, bottom = self.face_boxes[min(index, len(self.face_boxes) - 1)]
            left, top, right, bottom = max(0, left), max(0, top), min(width, right), min(height, bottom)
        if right <= left or bottom <= top or (not color.any() and self.noise <= 0):
            return frame
        region = frame[top:bottom, left:right].astype(np.float32)
        if color.any():
            if self.flat:
                region *= 1.0 + self.strength * color  # a picture held up to the screen: lit evenly, all of it
            else:
                region *= 1.0 + self.strength * self._weights(right - left, bottom - top)[..., None] * color
        if self.noise > 0:
            region += self._noise(frame.shape, bottom - top, right - left)
        out = frame.copy()
        out[top:bottom, left:right] = np.clip(region, 0, 255).astype(np.uint8)
        return out

    def _noise(self, shape: tuple[int, ...], height: int, width: int) -> np.ndarray:
        """Sensor noise: a window at a random place of one field drawn once, twice the frame's size (drawing a
        fresh one per frame costs more than the rest of the frame)."""
        if self._noise_field is None:
            self._noise_field = self._rng.normal(0.0, self.noise, (2 * shape[0], 2 * shape[1], shape[2])).astype(
                np.float32
            )
        y, x = int(self._rng.integers(shape[0])), int(self._rng.integers(shape[1]))
        return self._noise_field[y : y + height, x : x + width]


@dataclass
class ClientRun:
    messages: list[dict[str, object]] = field(default_factory=list)
    status: str | None = None

    def of_type(self, kind: str) -> list[dict[str, object]]:
        return [m for m in self.messages if m.get("type") == kind]


OfferFn = Callable[[str], Awaitable[dict[str, str]]]


class LiveClient:
    """One client connection. `connect(offer_fn)` does the SDP exchange through `offer_fn(sdp) -> answer`."""

    def __init__(
        self, track: FramesTrack, host_addresses: Sequence[str] = ("127.0.0.1",), *, light: bool = True
    ) -> None:
        """`light=False`: the user declines the light challenge (`no_light` before `ready`)."""
        self.pc = RTCPeerConnection()
        self.track = track
        self.run = ClientRun()
        self.host_addresses = tuple(host_addresses)
        self.result = asyncio.Event()
        self.prompted = asyncio.Event()
        self.channel = self.pc.createDataChannel(p.CHANNEL_LABEL)
        self.pc.addTrack(track)
        self.light = light
        self.channel.on("open", self._on_open)
        self.channel.on("message", self._on_message)

    def _on_open(self) -> None:
        if not self.light:
            self.channel.send(f'{{"v":{p.PROTOCOL_VERSION},"type":"{p.MessageType.NO_LIGHT}"}}')
        self.channel.send(f'{{"v":{p.PROTOCOL_VERSION},"type":"{p.MessageType.READY}"}}')

    def _on_message(self, raw: str) -> None:
        message = p.decode_server(raw)
        message["_at"] = time.monotonic()
        self.run.messages.append(message)
        if message["type"] == p.MessageType.PROMPT:
            self.prompted.set()
        if message["type"] == p.MessageType.LIGHT and isinstance(self.track, LightAware):
            self.track.on_light(message, float(message["_at"]))  # type: ignore[arg-type]
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
