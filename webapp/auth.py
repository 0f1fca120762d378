"""API keys for integrator endpoints: `Authorization: Bearer KEY`, or an API's own credential field.

Every API checks the same configured keys; each compatible API supplies its own credential (Facia's hash_id,
say) through `require_key(..., own_credential=...)`. With no keys configured, integrator endpoints refuse every
request (401): a reachable server must never be silently open. The server logs a warning at start.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from quart import Request

from realtime.store import SessionStore


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
    """Per-key sliding one-minute window (Facia's 'request limit reached'), one window across every node of the
    session store. 0 = unlimited. The store sees a digest of the key, never the key."""

    def __init__(self, store: SessionStore, per_minute: int, name: str = "facia") -> None:
        self.store = store
        self.per_minute = per_minute
        self.name = name

    async def allow(self, key: str) -> bool:
        if self.per_minute <= 0:
            return True
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return await self.store.hit(f"{self.name}:{digest}", self.per_minute, 60.0)
