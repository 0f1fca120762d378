"""The session store's one narrow interface, and the few operations every node builds on it.

A store keeps session records (compare-and-set on their version, so exactly one of several nodes wins a race),
node heartbeats, short-lived items (FindFace detections), sliding-window counters (rate limits) and admissions
under a rate and a cap at once (the keyless demo's quota, realtime/quota.py). Backends:
SQLite (one machine, several processes) and Redis (several machines). See docs/deploy.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from realtime.errors import SessionCode
from realtime.status import InvalidTransition, SessionStatus, check_transition
from realtime.store.records import SessionRecord

MAX_RETRIES = 64


class StoreError(Exception):
    """The store cannot be used (bad URL, server unreachable, lost races beyond reason): the service answers 503
    `store_unavailable`, and /readyz 503."""

    code = SessionCode.STORE_UNAVAILABLE


class Limit(StrEnum):
    """Which limit of a Ticket refused an admission."""

    RATE = "rate"  # the client's sliding window is full
    CAP = "cap"  # as many items of the kind are alive as the cap allows
    SHARE = "share"  # the client itself holds its share of the cap


@dataclass(frozen=True)
class Ticket:
    """One admission under two limits at once, shared by every node: a sliding-window rate per client and a cap
    on the items of one kind alive at once (the keyless demo: creations per address, open demo sessions)."""

    rate_key: str  # whose window: one hit per admission
    rate_limit: int  # hits allowed per window
    window_s: float
    kind: str  # the capped items (an item kind, as put_item's)
    key: str  # the item an admission adds (a session id)
    cap: int  # items of `kind` alive at once
    ttl_s: float  # the item lives this long unless dropped first
    share: int = 0  # items of `kind` one rate_key may hold alive at once (0: no bound of its own)


@dataclass(frozen=True)
class Admission:
    refused: Limit | None = None  # None: admitted (the hit and the item were recorded)
    retry_after_s: float = 0.0  # refused by RATE: when the oldest hit leaves the window


class SessionStore(Protocol):
    url: str  # without credentials, for logs

    async def create(self, record: SessionRecord) -> None:
        """Adds a new session; it is forgotten at record.purge_at."""

    async def get(self, session_id: str) -> SessionRecord | None:
        """The session, or None (unknown or purged)."""

    async def swap(self, old: SessionRecord, new: SessionRecord) -> bool:
        """Atomically replaces `old` by `new` if the stored version is still old.version; False otherwise."""

    async def in_progress(self) -> list[SessionRecord]:
        """Every IN_PROGRESS session, whichever node claimed it (for the node-lost and timeout sweeps)."""

    async def counts(self) -> dict[tuple[str, SessionStatus], int]:
        """Sessions kept, by (tenant, status): every status of every tenant seen, zeros included. Entries past
        their TTL may count until the backend drops them (purge)."""

    async def purge(self) -> int:
        """Drops every entry past its TTL (a no-op where the backend expires them itself)."""

    async def beat(self, node_id: str, ttl_s: float) -> None:
        """This node is alive for ttl_s more seconds."""

    async def alive(self, node_ids: set[str]) -> set[str]:
        """Those of node_ids whose heartbeat has not lapsed."""

    async def put_item(self, kind: str, key: str, value: dict[str, Any], ttl_s: float) -> None:
        """A short-lived JSON object (a FindFace detection, say), readable by every node until it expires."""

    async def get_item(self, kind: str, key: str) -> dict[str, Any] | None: ...

    async def count_items(self, kind: str) -> int: ...

    async def drop_item(self, kind: str, key: str) -> None:
        """Forgets an item before its ttl (a no-op when it is gone)."""

    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        """Sliding-window counter shared by every node: records one hit and returns True while fewer than
        `limit` were recorded in the last window_s seconds; otherwise records nothing and returns False."""

    async def admit(self, ticket: Ticket) -> Admission:
        """Atomically, across every node: refuses (recording nothing) when ticket.rate_key has ticket.rate_limit
        hits in the last window_s seconds (RATE, checked first), when ticket.rate_key already holds ticket.share
        items of ticket.kind (SHARE) or when ticket.cap items of ticket.kind are alive (CAP); otherwise records one hit and puts the item (ticket.kind, ticket.key) for ticket.ttl_s. Times are
        the store's clock, as for items. Only admissions write, so refusals cost no memory."""

    async def ping(self) -> None:
        """Raises StoreError when the store cannot be reached."""

    async def close(self) -> None: ...


async def update(
    store: SessionStore, session_id: str, change: Callable[[SessionRecord], SessionRecord | None]
) -> SessionRecord | None:
    """Applies `change` to the current record atomically: on a concurrent write the record is read again and
    `change` re-applied to it. `change` returns the new record (from record.bump(...)), None to leave it as is,
    or raises to refuse. Returns the record as stored afterwards (None: no such session)."""
    for _ in range(MAX_RETRIES):
        current = await store.get(session_id)
        if current is None:
            return None
        new = change(current)
        if new is None:
            return current
        if current.status.decided:  # a decided session never changes (its signed result is final)
            raise InvalidTransition(current.status, new.status)
        check_transition(current.status, new.status)
        if new.version != current.version + 1:
            new = replace(new, version=current.version + 1)
        if await store.swap(current, new):
            return new
    raise StoreError(f"session {session_id}: too many concurrent writes")


def total(counts: dict[tuple[str, SessionStatus], int], status: SessionStatus) -> int:
    """Sessions in `status`, whichever tenant created them."""
    return sum(n for (_, s), n in counts.items() if s == status)


async def lost_sessions(store: SessionStore) -> list[SessionRecord]:
    """IN_PROGRESS sessions whose claiming node's heartbeat lapsed: any surviving node fails them `node_lost`."""
    running = [r for r in await store.in_progress() if r.node_id is not None]
    alive = await store.alive({r.node_id for r in running if r.node_id is not None})
    return [r for r in running if r.node_id not in alive]
