"""API keys for integrator endpoints: `Authorization: Bearer KEY`, or an API's own credential field.

Every API checks the same configured keys; each compatible API supplies its own credential (Facia's hash_id,
say) through `require_key(..., own_credential=...)`. With no keys configured, integrator endpoints refuse every
request (401): a reachable server must never be silently open. The server logs a warning at start.
"""

from __future__ import annotations

import hmac
from collections import deque
from dataclasses import dataclass
from typing import Callable

from quart import Request


class Unauthorized(Exception):
    """Missing or wrong API key. Each API renders it in its own error shape (always 401)."""

    def __init__(self, missing: bool) -> None:
        super().__init__("API key missing." if missing else "API key invalid.")
        self.missing = missing


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[str, ...]

    def matches(self, candidate: str | None) -> str | None:
        """The matching key (constant-time per key), or None."""
        if not candidate:
            return None
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.encode(), candidate.encode()):
                found = key
        return found

    def require(self, candidate: str | None) -> str:
        """Returns the key a request authenticated with, or raises Unauthorized."""
        if not candidate:
            raise Unauthorized(missing=True)
        key = self.matches(candidate)
        if key is None:
            raise Unauthorized(missing=False)
        return key


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_key(keys: KeyRing, request: Request, own_credential: str | None = None, *, required: bool = True) -> str:
    """Bearer header first, then the API's own credential field (may be None). With required=False (an API
    configured keyless, `[findface] require-key = false`) a request without any credential passes as "";
    a credential that is given must still be a valid key."""
    candidate = bearer_token(request) or own_credential
    if not required and not candidate:
        return ""
    return keys.require(candidate)


class RateLimiter:
    """Per-key sliding one-minute window (Facia's 'request limit reached'). 0 = unlimited."""

    def __init__(self, per_minute: int, clock: Callable[[], float] | None = None) -> None:
        import threading
        import time

        self.per_minute = per_minute
        self._clock = clock or time.monotonic
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self._clock()
        with self._lock:
            window = self._seen.setdefault(key, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self.per_minute:
                return False
            window.append(now)
            return True
