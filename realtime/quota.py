"""The demo page's own quota: the keyless path never reaches integrators' capacity.

Demo sessions are capped on their own (open sessions and running checks are counted apart from integrators'),
and each client address may create only so many per minute. A script that sends `Origin` equal to the host (any
script can) gets the demo's small share at most, never a slot an integrator's check needs.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from realtime.errors import SessionCode, SessionError

WINDOW_S = 60.0
MAX_TRACKED_CLIENTS = 10_000  # beyond this the oldest idle clients are forgotten (memory stays bounded)


@dataclass(frozen=True)
class DemoLimits:
    max_open: int  # demo sessions created and not yet decided or expired
    max_live: int  # demo checks running at once (WebRTC peers with a landmarker)
    per_client_per_minute: int


@dataclass
class DemoQuota:
    """Per-client sliding-window rate limit plus the demo's cap on open sessions. Not thread-safe: the registry
    uses it from the event loop only."""

    limits: DemoLimits
    _recent: dict[str, deque[float]] = field(default_factory=dict)

    def admit(self, client: str, open_sessions: int, now: float) -> None:
        """Raises demo_rate_limited (429) or demo_busy (503) without recording anything; records the creation
        otherwise."""
        stamps = self._recent.get(client)
        if stamps is not None:
            while stamps and now - stamps[0] >= WINDOW_S:
                stamps.popleft()
        if stamps and len(stamps) >= self.limits.per_client_per_minute:
            wait = max(1, math.ceil(WINDOW_S - (now - stamps[0])))
            raise SessionError(SessionCode.DEMO_RATE_LIMITED, "Too many demo checks from this address; try again shortly.",
                               429, retry_after_s=wait)
        if open_sessions >= self.limits.max_open:
            raise SessionError(SessionCode.DEMO_BUSY, "The demo is busy; try again shortly.", 503, retry_after_s=10)
        if stamps is None:
            if len(self._recent) >= MAX_TRACKED_CLIENTS:
                self._forget_idle(now)
            stamps = self._recent.setdefault(client, deque())
        stamps.append(now)

    def check_live(self, live_demo_checks: int) -> None:
        if live_demo_checks >= self.limits.max_live:
            raise SessionError(SessionCode.TOO_MANY_SESSIONS, "Too many demo checks are running; try again shortly.", 503,
                               retry_after_s=5)

    def _forget_idle(self, now: float) -> None:
        for client in [c for c, s in self._recent.items() if not s or now - s[-1] >= WINDOW_S]:
            del self._recent[client]
        while len(self._recent) >= MAX_TRACKED_CLIENTS:
            del self._recent[next(iter(self._recent))]
