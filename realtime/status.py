"""A session's status: one enum and the transitions allowed between its values.

Every node reads and writes sessions through the shared store, so a status change is checked here, once, instead
of by flags scattered over the registry (a decided session can never become IN_PROGRESS again, say).
"""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    CREATED = "CREATED"  # waiting for its one offer or recording
    IN_PROGRESS = "IN_PROGRESS"  # claimed by one node: a live check or a recording is being judged
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"  # not started within its ttl

    @property
    def decided(self) -> bool:
        return self in (SessionStatus.SUCCEEDED, SessionStatus.FAILED, SessionStatus.EXPIRED)


TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.CREATED: frozenset({SessionStatus.IN_PROGRESS, SessionStatus.EXPIRED}),
    SessionStatus.IN_PROGRESS: frozenset({SessionStatus.SUCCEEDED, SessionStatus.FAILED}),
    SessionStatus.SUCCEEDED: frozenset(),
    SessionStatus.FAILED: frozenset(),
    SessionStatus.EXPIRED: frozenset(),
}


class InvalidTransition(Exception):
    """A change of status the state machine does not allow (a bug, or a lost race the caller must report)."""

    def __init__(self, old: SessionStatus, new: SessionStatus) -> None:
        super().__init__(f"a session cannot go from {old} to {new}")
        self.old = old
        self.new = new


def check_transition(old: SessionStatus, new: SessionStatus) -> None:
    """Staying in a status is always allowed (the record changes, the status does not)."""
    if old != new and new not in TRANSITIONS[old]:
        raise InvalidTransition(old, new)
