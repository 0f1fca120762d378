"""The one error type of session operations (registry, offer validation, recording fallback, demo quota)."""

from __future__ import annotations

from enum import StrEnum


class SessionCode(StrEnum):
    """Stable error codes of session operations (docs/protocol.md "Session errors"). The recording fallback's own
    are realtime.fallback.FallbackCode; a bad reference photo or action list answers with scoring's codes."""

    SESSION_NOT_FOUND = "session_not_found"  # 404, also for a session another API key created
    INVALID_TOKEN = "invalid_token"  # 403
    TOKEN_USED = "token_used"  # 409: a session runs once
    SESSION_EXPIRED = "session_expired"  # 410
    TOO_MANY_SESSIONS = "too_many_sessions"  # 503 + Retry-After: the live-check cap
    INVALID_OFFER = "invalid_offer"  # 400 (413 over 64 KiB)
    INVALID_TTL = "invalid_ttl"
    INVALID_SESSION_OPTIONS = "invalid_session_options"
    INVALID_ALLOWED_ORIGIN = "invalid_allowed_origin"
    DEMO_BUSY = "demo_busy"  # 503: the demo page's quota
    DEMO_RATE_LIMITED = "demo_rate_limited"  # 429
    SERVER_DRAINING = "server_draining"  # 503: the node is shutting down; another node takes the work
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"  # 403: a demo endpoint asked from another origin
    STORE_UNAVAILABLE = "store_unavailable"  # 503 + Retry-After: the session store cannot be reached


class SessionError(Exception):
    """A refused session operation; `code` is stable, `status` the HTTP status to answer with. `retry_after_s`,
    when set, becomes a Retry-After header."""

    def __init__(self, code: str, message: str, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s


def not_found() -> SessionError:
    return SessionError(SessionCode.SESSION_NOT_FOUND, "No such session.", 404)
