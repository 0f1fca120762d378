"""Helpers for the session tests: a server clock the test can move forward, and a recording-fallback client
that follows the server's timing over HTTP (as the widget does) - or breaks it, as an attacker would."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any


class ShiftedClock:
    """time.time() plus an offset the test advances: the server's clock jumps, nothing sleeps. (Wall time, like
    the registry's: the session store compares the times it stamps across processes.)"""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)

    @contextlib.contextmanager
    def stopped(self):  # type: ignore[no-untyped-def]
        """Real time spent inside does not pass on the server's clock (a test building a clip takes a while)."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.offset -= time.monotonic() - began


@dataclass
class FallbackRun:
    """What a fallback client saw: the start answer, each prompt as issued, and the last plan state."""

    start: dict[str, Any]
    prompts: list[dict[str, Any]] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)

    def windows_ms(self, min_reaction_ms: int) -> list[tuple[int, int]]:
        """Where each action must start in the clip: from the prompt's issue (+ reaction) to its deadline."""
        return [(p["elapsed_ms"] + min_reaction_ms, p["elapsed_ms"] + p["deadline_ms"]) for p in self.prompts]


class FallbackClient:
    def __init__(self, client: Any, session: dict[str, Any], clock: ShiftedClock) -> None:
        self.client = client
        self.sid = session["session_id"]
        self.auth = {"Authorization": f"Bearer {session['client_token']}"}
        self.clock = clock

    async def call(self, method: str, suffix: str = "") -> Any:
        return await self.client.open(f"/v1/sessions/{self.sid}/fallback{suffix}", method=method, headers=self.auth)

    async def start(self) -> dict[str, Any]:
        response = await self.call("POST")
        assert response.status_code == 200, await response.get_json()
        return await response.get_json()  # type: ignore[no-any-return]

    async def follow(self, late_ms: int = 100) -> FallbackRun:
        """Starts, asks for every prompt `late_ms` after it is due, then waits until the server's stop time."""
        run = FallbackRun(await self.start())
        state = run.start
        while state["next_prompt_ms"] is not None:
            self.clock.advance((state["next_prompt_ms"] + late_ms - state["elapsed_ms"]) / 1000)
            response = await self.call("POST", "/next")
            assert response.status_code == 200, await response.get_json()
            state = await response.get_json()
            run.prompts.append(state)
        self.clock.advance((state["stop_at_ms"] - state["elapsed_ms"]) / 1000)
        run.last = state
        return run

    async def upload(self, clip: bytes) -> Any:
        return await self.client.post(
            f"/v1/sessions/{self.sid}/recording", data=clip, headers={**self.auth, "Content-Type": "video/mp4"}
        )
