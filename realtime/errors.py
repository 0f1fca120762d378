"""The one error type of session operations (registry, offer validation, recording fallback, demo quota)."""

from __future__ import annotations


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
    return SessionError("session_not_found", "No such session.", 404)
