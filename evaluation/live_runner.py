"""`livecheck eval DATASET --live`: every item streamed through a real live session, measured like the offline path.

A `livecheck serve` process is started on 127.0.0.1 (its own API key, a throwaway session store, ICE on
loopback); each video item is played in real time by the Python WebRTC client (realtime.client) as a camera
would, the server decides, and the integrator's view (`GET /v1/sessions/{id}`) is the item's result.

Live items and pictures or screens are checked passively (no actions): that is what evidence across frames must
decide. Recordings (`RECORDING_TYPES`: a loop, a splice, a replay) get a random challenge of `live_actions`
actions, the defence the server times. Stills cannot be a camera feed and are skipped (reported as such).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from evaluation.catalogue import AttackType
from evaluation.clips import IMAGE_SUFFIXES
from evaluation.dataset import LabeledItem
from evaluation.local_server import ServeError, ServeProcess
from evaluation.runner import ItemResult, ProgressBar
from realtime.status import SessionStatus

RECORDING_TYPES = frozenset({AttackType.REPLAY_FAST, AttackType.REPLAY_LOOP, AttackType.SPLICE})
MAX_SIDE = 640  # what a webcam sends
DECIDED = tuple(s for s in SessionStatus if s.decided)
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    api_key: str


@contextmanager
def live_server(models_dir: str | None, check_timeout_s: float = 40.0) -> Iterator[LiveServer]:
    """A `livecheck serve` subprocess on a free loopback port, stopped (and its store deleted) on exit."""
    api_key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="livecheck-eval-") as tmp:
        config = Path(tmp) / "livecheck.toml"
        config.write_text(
            f'api-keys = ["{api_key}"]\n[server]\ndemo = false\n'
            f'[realtime]\nice-host-addresses = ["127.0.0.1"]\ncheck-timeout-s = {check_timeout_s}\nmax-sessions = 2\n'
            f'[store]\nurl = "sqlite:///{tmp}/sessions.db"\n',
            encoding="utf-8",
        )
        env = {"XDG_DATA_HOME": tmp, **({"LIVECHECK_MODELS": models_dir} if models_dir else {})}
        serve = ServeProcess.start(Path(tmp) / "server.log", env=env, args=("--config", str(config)))
        try:
            try:
                serve.wait_ready(START_TIMEOUT_S)
            except ServeError as exc:
                raise RuntimeError(str(exc)) from None
            yield LiveServer(serve.url, api_key)
        finally:
            serve.stop(30)


def camera_frames(path: Path) -> tuple[list[np.ndarray], float]:
    """A clip's frames as a webcam would send them (longest side at most MAX_SIDE, even sizes, <= 30 s)."""
    import av  # noqa: PLC0415 - PyAV is heavy; only the live runner reads clips this way

    from realtime.client import read_clip  # noqa: PLC0415

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
    scale = min(1.0, MAX_SIDE / max(width, height))
    size = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
    return read_clip(str(path), size=size, max_seconds=30.0)


async def check_item(server: LiveServer, item: LabeledItem, live_actions: int, timeout_s: float) -> ItemResult:
    """One item through one live session; never raises (a failure is the item's error)."""
    started = time.perf_counter()
    actions = live_actions if item.attack_type in RECORDING_TYPES else 0
    try:
        frames, fps = await asyncio.to_thread(camera_frames, item.path)
        body = await stream_session(server, frames, fps, actions=actions, lead_s=0.5, timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001 - reported per item; the run goes on
        return ItemResult(item, False, 0.0, (), f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
    result = body.get("result") or {}
    if body.get("status") not in (SessionStatus.SUCCEEDED, SessionStatus.FAILED):
        return ItemResult(item, False, 0.0, (), f"not decided: {body.get('status')}", time.perf_counter() - started)
    return ItemResult(
        item,
        body.get("status") == SessionStatus.SUCCEEDED,
        float(result.get("average_liveness") or 0.0),
        tuple(str(r) for r in result.get("reasons") or ()),
        None,
        time.perf_counter() - started,
    )


async def stream_session(
    server: LiveServer, frames: list[np.ndarray], fps: float, *, actions: int, lead_s: float, timeout_s: float
) -> dict[str, Any]:
    """One live session as an integrator and a camera would run it: created with the API key (`actions` prompted;
    0: passive), the frames streamed by the Python WebRTC client, then the session as the integrator reads it."""
    from realtime.client import FramesTrack, LiveClient  # noqa: PLC0415 - aiortc loads only for live runs

    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as http:
        created = await http.post("/v1/sessions", json={"action_count": actions}, headers=headers)
        created.raise_for_status()
        session = created.json()

        async def offer(sdp: str) -> dict[str, str]:
            answer = await http.post(
                f"/v1/sessions/{session['session_id']}/offer",
                json={"sdp": sdp, "type": "offer"},
                headers={"Authorization": f"Bearer {session['client_token']}"},
            )
            answer.raise_for_status()
            return answer.json()  # type: ignore[no-any-return]

        client = LiveClient(FramesTrack(frames, fps, lead_s=lead_s))
        try:
            await client.connect(offer)
            await client.wait_result(timeout_s)
        finally:
            await client.close()
        return await _decided(http, session["session_id"], headers)


async def _decided(
    http: httpx.AsyncClient, session_id: str, headers: dict[str, str], wait_s: float = 15.0
) -> dict[str, Any]:
    """The session as the integrator reads it, once decided: the node running the check writes the result to the
    store right after telling the browser, so the first read may still say IN_PROGRESS."""
    deadline = time.monotonic() + wait_s
    while True:
        response = await http.get(f"/v1/sessions/{session_id}", headers=headers)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("status") in DECIDED or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.2)


def camera_items(items: Sequence[LabeledItem]) -> tuple[list[LabeledItem], list[LabeledItem]]:
    """(videos, stills): a still cannot be a camera feed, so the live path measures videos only."""
    stills = [i for i in items if i.path.suffix.lower() in IMAGE_SUFFIXES]
    return [i for i in items if i not in stills], stills


def run_live(
    items: Sequence[LabeledItem], models_dir: str | None, live_actions: int = 2, progress: ProgressBar | None = None
) -> list[ItemResult]:
    """Every item in order, one session at a time (each plays in real time; two at once would only share the CPU)."""
    results: list[ItemResult] = []
    with live_server(models_dir) as server:
        for item in items:
            result = asyncio.run(check_item(server, item, live_actions, timeout_s=60.0))
            results.append(result)
            if progress:
                progress.step(item.name)
    return results
