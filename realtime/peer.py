"""One live check's WebRTC side: the aiortc peer connection, latest-frame-only sampling, the data channel.

Frames are not queued: a receiver task keeps only the newest frame (and when it arrived, on the server's
monotonic clock); an analysis task picks it up at the rate the phase needs (`phase_fps`: `analysis-fps` in
positioning, holds and prompts, `measure-fps` in the light challenge and while a turn or a blink is prompted), runs
the models on one of the node's frame workers (as many as its cores: realtime/registry.py) and feeds the challenge
state machine, whose messages go out on the `livecheck` data channel. A frame that arrived while the previous one
was analyzed replaces it: a slow node drops frames, it never falls behind the camera.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from realtime import protocol as p
from realtime.capacity import CheckRate, FrameMeter
from realtime.challenge import ChallengeSession
from realtime.reasons import LiveReason
from realtime.settings import RealtimeSettings
from scoring.analyzer import FrameAnalyzer
from scoring.observation import FrameObservation
from scoring.video import analysis_size

FINAL_MESSAGE_WAIT_S = 2.0  # at most this long for the browser to acknowledge the result before closing
RECENT_FRAMES = 21  # a check's recent rate is taken over its last this many analyzed frames (~2 s at 10 fps)
log = logging.getLogger("livecheck.realtime")


def ice_configuration(settings: RealtimeSettings) -> RTCConfiguration:
    servers = [RTCIceServer(urls=list(settings.stun_servers))] if settings.stun_servers else []
    if settings.turn_servers:
        servers.append(
            RTCIceServer(
                urls=list(settings.turn_servers),
                username=settings.turn_username or None,
                credential=settings.turn_password or None,
            )
        )
    return RTCConfiguration(iceServers=servers)


def offer_host_addresses(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Makes this connection's ICE gather host candidates on exactly `addresses` (say 127.0.0.1, which aioice
    skips by default). Per connection, no global patching. Call after the transports exist (after
    setRemoteDescription for an answerer, after addTrack/createDataChannel for an offerer) and before
    setLocalDescription."""
    if not addresses:
        return
    transports = getattr(pc, "_RTCPeerConnection__iceTransports")  # noqa: B009 - aiortc private, untyped on purpose
    for transport in transports:
        connection = transport.iceGatherer._connection
        if getattr(connection, "_livecheck_hosts", None) is not None:
            continue
        connection._livecheck_hosts = tuple(addresses)

        async def gather(connection: Any = connection) -> None:
            if connection._local_candidates_start:
                return
            connection._local_candidates_start = True
            for component in connection._components:
                connection._local_candidates += await connection.get_component_candidates(
                    component=component, addresses=list(connection._livecheck_hosts)
                )
            connection._local_candidates_end = True

        connection.gather_candidates = gather


@dataclass
class PipelineStats:
    """Per-session figures of the frame pipeline: realtime/live.py decides on them (a connection that never
    delivered a frame leaves the session to the fallback; the first analyzed frame is written to the store), and
    tests and bench/ read them (`SessionRegistry.pipeline_stats`)."""

    frames_received: int = 0
    frames_analyzed: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # frame arrival -> its feedback handed to the channel
    first_analysis_at: float | None = None
    last_analysis_at: float | None = None
    stages_s: dict[str, float] = field(default_factory=dict)  # seconds per stage: convert, landmarks, antispoof, ...
    frames_by_phase: dict[str, int] = field(default_factory=dict)  # analyzed frames per challenge phase
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))  # last analyses' times
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))  # last frames' arrivals

    @property
    def analyzed_fps(self) -> float:
        if self.first_analysis_at is None or self.last_analysis_at is None or self.frames_analyzed < 2:
            return 0.0
        return (self.frames_analyzed - 1) / max(1e-6, self.last_analysis_at - self.first_analysis_at)

    def rate(self, now: float) -> CheckRate:
        """How long this check has analyzed, its rate over its last frames and the camera's over its last frames
        (both up to `now`: a stream that stopped reads as slow, and then so does its camera)."""
        if self.first_analysis_at is None or len(self.recent) < 2:
            return CheckRate(0.0, 0.0, 0.0)
        span = max(now, self.recent[-1]) - self.recent[0]
        offered = 0.0
        if len(self.arrivals) >= 2:
            offered = (len(self.arrivals) - 1) / max(1e-6, max(now, self.arrivals[-1]) - self.arrivals[0])
        return CheckRate(now - self.first_analysis_at, (len(self.recent) - 1) / max(1e-6, span), offered)


class LivePeer:
    """Owns one RTCPeerConnection and its tasks. `on_finished(challenge)` is awaited once, when the challenge
    decided or the connection went away; `close()` is idempotent."""

    def __init__(
        self,
        settings: RealtimeSettings,
        challenge: ChallengeSession,
        analyzer: FrameAnalyzer,
        executor: Executor,
        on_finished: Callable[[LivePeer], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
        meter: FrameMeter | None = None,
    ) -> None:
        """`executor`: the node's frame workers; `meter` is told each frame's worker time (admission)."""
        self.settings = settings
        self.challenge = challenge
        self.analyzer = analyzer
        self.executor = executor
        self.on_finished = on_finished
        self.clock = clock
        self.meter = meter
        self.pc = RTCPeerConnection(ice_configuration(settings))
        self.stats = PipelineStats()
        self.last_rgb: np.ndarray | None = None
        self._origin = clock()
        self._channel: Any = None
        self._latest: tuple[Any, float] | None = None
        self._fresh = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._finished = False
        self._closed = False
        self._track_ended = False
        self._prompted: str | None = None  # the action prompted last (its measurement may need more frames)
        self._inflight: Future[tuple[FrameObservation, np.ndarray]] | None = None
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    # -- setup ---------------------------------------------------------------------------------------------------

    async def answer(self, sdp: str, kind: str = "offer") -> RTCSessionDescription:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        offer_host_addresses(self.pc, self.settings.ice_host_addresses)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._tasks.append(asyncio.ensure_future(self._analyze_loop()))
        return self.pc.localDescription

    def _now_ms(self, at: float | None = None) -> int:
        return int(((self.clock() if at is None else at) - self._origin) * 1000)

    def _on_datachannel(self, channel: Any) -> None:
        if channel.label != p.CHANNEL_LABEL:
            return
        self._channel = channel
        channel.on("message", self._on_message)
        self._send([p.State(self.challenge.phase)])

    def _on_message(self, raw: str | bytes) -> None:
        message = p.decode_client(raw)
        if message is None:
            return
        if message.type == p.MessageType.READY:
            self._send(self.challenge.start(self._now_ms()))
        elif message.type == p.MessageType.NO_LIGHT:
            self.challenge.decline_light()
        elif message.type == p.MessageType.CANCEL:
            self._send(self.challenge.cancel(LiveReason.CANCELLED, self._now_ms()))
            self._finish_soon()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.ensure_future(self._receive(track)))

    async def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed", "disconnected") and not self._finished:
            self._send(self.challenge.cancel(LiveReason.DISCONNECTED, self._now_ms()))
            self._finish_soon()

    # -- frames --------------------------------------------------------------------------------------------------

    async def _receive(self, track: MediaStreamTrack) -> None:
        """Keeps only the newest frame: a slow analysis drops frames instead of falling behind."""
        try:
            while not self._finished:
                frame = await track.recv()
                self.stats.frames_received += 1
                self._latest = (frame, self.clock())
                self.stats.arrivals.append(self._latest[1])
                self._fresh.set()
        except MediaStreamError:
            self._track_ended = True
            self._fresh.set()

    def phase_fps(self) -> float:
        """Frames a second the current phase needs: `measure-fps` for the light challenge (each colour is
        measured on the frames that show it) and while a prompted action is a quick one (`measure-actions`);
        `analysis-fps` otherwise (positioning, holds, other prompts, deciding)."""
        phase = self.challenge.phase
        if phase == p.Phase.LIGHT or (phase == p.Phase.CHALLENGE and self._prompted in self.settings.measure_actions):
            return max(self.settings.analysis_fps, self.settings.measure_fps)
        return self.settings.analysis_fps

    def _note_prompts(self, messages: Sequence[p.ServerMessage]) -> None:
        for message in messages:
            if isinstance(message, p.Prompt):
                self._prompted = str(message.action)

    async def _analyze_loop(self) -> None:
        next_at = self.clock()
        frame_no = 0
        try:
            while not self._finished:
                try:
                    await asyncio.wait_for(self._fresh.wait(), timeout=0.25)
                except TimeoutError:
                    self._send(self.challenge.tick(self._now_ms()))
                    if self.challenge.done:
                        break
                    continue
                self._fresh.clear()
                if self._latest is None:
                    if self._track_ended and self.challenge.started_ms is not None:
                        self._send(self.challenge.cancel(LiveReason.STREAM_ENDED, self._now_ms()))
                        break
                    continue
                frame, arrived = self._latest
                self._latest = None
                if self.challenge.phase == p.Phase.WAITING:
                    continue
                now_ms = self._now_ms(arrived)
                liveness = self.challenge.wants_liveness(frame_no)
                embed = self.challenge.wants_embedding(now_ms)
                self._inflight = self.executor.submit(self._analyze, frame, now_ms, frame_no, liveness, embed)
                obs, rgb = await asyncio.wrap_future(self._inflight)
                frame_no += 1
                phase = str(self.challenge.phase)
                messages = self.challenge.observe(obs, rgb, now_ms)
                self._send(messages)
                self._note_prompts(messages)
                self.challenge.sent(self._now_ms())  # when they left (the light phase stamps its colours)
                done_at = self.clock()
                stats = self.stats
                stats.frames_analyzed += 1
                stats.frames_by_phase[phase] = stats.frames_by_phase.get(phase, 0) + 1
                stats.latencies_ms.append((done_at - arrived) * 1000)
                stats.first_analysis_at = stats.first_analysis_at or done_at
                stats.last_analysis_at = done_at
                stats.recent.append(done_at)
                if self.challenge.done:
                    break
                interval = 1.0 / max(0.1, self.phase_fps())
                next_at = max(next_at + interval, done_at - interval)
                delay = next_at - self.clock()
                if delay > 0:
                    await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken frame or model error ends this check, never the server
            log.exception("live check analysis failed")
            self._send(self.challenge.cancel(LiveReason.INTERNAL_ERROR, self._now_ms()))
        self._finish_soon()

    def _analyze(
        self, frame: Any, now_ms: int, frame_no: int, liveness: bool, embed: bool
    ) -> tuple[FrameObservation, np.ndarray]:
        """Runs in a worker thread: YUV -> RGB at the analysis size in one step (only frames that get analyzed are
        converted), landmarks (+ anti-spoof / embedding on request). The size and the scaler are an upload's
        (scoring.video.VideoReader: `analysis_max_side`, the same swscale call), so a camera's frames are measured
        as a recording of them would be (docs/verdict.md "Live and recorded")."""
        start = time.perf_counter()
        width, height, scale = analysis_size(frame.width, frame.height, self.challenge.engine.analysis_max_side)
        rgb = (
            frame.to_ndarray(format="rgb24", width=width, height=height)
            if scale < 1.0
            else frame.to_ndarray(format="rgb24")
        )
        stages = self.stats.stages_s
        stages["convert"] = stages.get("convert", 0.0) + time.perf_counter() - start
        obs = self.analyzer.analyze(rgb, now_ms, frame_no, liveness=liveness, embed=embed)
        if self.meter is not None:
            self.meter.add(time.perf_counter() - start)
        return obs, rgb

    # -- output and shutdown ---------------------------------------------------------------------------------------

    def tell(self, messages: Sequence[p.ServerMessage]) -> None:
        """Sends what was decided outside the challenge: the stored outcome (realtime/live.py, before `close`)."""
        self._send(messages)

    def _send(self, messages: Sequence[p.ServerMessage]) -> None:
        channel = self._channel
        for message in messages:
            if channel is not None and channel.readyState == "open":
                try:
                    channel.send(message.encode())
                except Exception:  # the peer went away mid-send; the state change ends the session
                    return

    def _finish_soon(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._fresh.set()
        asyncio.ensure_future(self.on_finished(self))

    async def _drain(self, limit_s: float) -> None:
        """Waits (bounded) until the last messages were acknowledged by the browser or it closed the channel itself:
        closing the connection aborts the SCTP association, and anything still queued (the result) would be lost."""
        channel, sctp = self._channel, self.pc.sctp
        deadline = time.monotonic() + limit_s  # real time even under a test clock
        while channel is not None and channel.readyState == "open" and time.monotonic() < deadline:
            unsent = getattr(sctp, "_outbound_queue", ()) if sctp is not None else ()
            unacked = getattr(sctp, "_sent_queue", ()) if sctp is not None else ()
            if channel.bufferedAmount == 0 and not unsent and not unacked:
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finished = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                try:
                    await task
                except BaseException:
                    pass
        while self._inflight is not None and not self._inflight.done():
            await asyncio.sleep(0.01)  # the landmarker is released after this; never while a thread uses it
        await self._drain(FINAL_MESSAGE_WAIT_S)
        await self.pc.close()
        for stage, seconds in self.analyzer.timer.seconds.items():
            self.stats.stages_s[stage] = seconds
