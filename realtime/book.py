"""Sessions as the session store keeps them, seen from one node: create, read (a session past its ttl expires as
it is read), claim by compare-and-set, decide. Client tokens are kept as hashes only.

Every change goes through `realtime.store.update` (compare-and-set, re-applied on a concurrent write), so of
several nodes claiming or deciding one session exactly one wins and a decided session never changes again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime.challenge import draw_actions
from realtime.errors import SessionCode, SessionError, not_found
from realtime.modes import SessionMode, Tenant
from realtime.results import SessionResult
from realtime.settings import RealtimeSettings, StoreSettings
from realtime.status import SessionStatus
from realtime.store import SessionRecord, SessionStore, update
from scoring.actions import ACTIONS
from scoring.errors import InputCode

MAX_ACTIONS = 6
MAX_TTL_S = 3600.0
TOKEN_ITEM = "token"  # store item: client token hash -> session id


@dataclass(frozen=True)
class SessionOptions:
    action_count: int | None = None  # None: the configured default
    actions: tuple[str, ...] | None = None  # fixed by the integrator (or a test); otherwise drawn
    reference_photo: bytes | None = None
    allowed_origins: tuple[str, ...] = ()
    ttl_s: float | None = None
    audit_images: bool = False
    owner: str | None = None  # opaque id of the integrator that created it; None = any integrator may read it
    recording_fallback: bool = False  # the integrator allows the recording fallback (lower assurance)
    light: bool | None = None  # the light challenge; None: the configured default ([realtime] light)


def token_used() -> SessionError:
    return SessionError(SessionCode.TOKEN_USED, "This session's token was already used; a session runs once.", 409)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, digest: str | None) -> bool:
    return bool(token) and digest is not None and hmac.compare_digest(hash_token(token or ""), digest)


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def mode_of(record: SessionRecord) -> SessionMode:
    return SessionMode.RECORDING if record.fallback is not None else SessionMode.LIVE


def reference_of(record: SessionRecord) -> np.ndarray | None:
    return None if record.reference is None else np.frombuffer(record.reference, dtype=np.float32)


class SessionBook:
    def __init__(
        self,
        store: SessionStore,
        settings: RealtimeSettings,
        cluster: StoreSettings,
        node_id: str,
        clock: Callable[[], float],
        on_decided: Callable[[SessionRecord], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.cluster = cluster
        self.node_id = node_id
        self.clock = clock  # wall time: other nodes compare the times stamped here
        self.on_decided = on_decided  # awaited with each session this node saw decided (frees the demo's place)

    # -- create and read -----------------------------------------------------------------------------------------

    async def create(
        self,
        options: SessionOptions,
        reference: np.ndarray | None,
        tenant: Tenant,
        status_token_hash: str | None = None,
        session_id: str | None = None,
    ) -> tuple[SessionRecord, str]:
        """Returns the session and its client token (shown once; only its hash is kept). `session_id`: one drawn
        by the caller (new_session_id), which took a quota place under it first."""
        actions = self.choose_actions(options)
        ttl = self.settings.session_ttl_s if options.ttl_s is None else options.ttl_s
        if not 1 <= ttl <= MAX_TTL_S:
            raise SessionError(SessionCode.INVALID_TTL, f"ttl must be within 1..{int(MAX_TTL_S)} seconds.", 400)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        # kept until its ttl, a whole check and the result's retention have passed (a decision moves it on)
        purge_at = now + ttl + self.settings.check_timeout_s + self.cluster.result_retention_s
        record = SessionRecord(
            id=session_id or new_session_id(),
            token_hash=hash_token(token),
            actions=actions,
            created_at=now,
            expires_at=now + ttl,
            purge_at=purge_at,
            allowed_origins=tuple(options.allowed_origins),
            audit_images=options.audit_images,
            owner=options.owner,
            tenant=tenant,
            recording_fallback=options.recording_fallback,
            light=self.settings.light if options.light is None else options.light,
            status_token_hash=status_token_hash,
            reference=None if reference is None else np.asarray(reference, dtype=np.float32).tobytes(),
            reference_given=options.reference_photo is not None,
        )
        await self.store.create(record)
        await self.store.put_item(TOKEN_ITEM, record.token_hash, {"id": record.id}, purge_at - now)
        return record, token

    def choose_actions(self, options: SessionOptions) -> tuple[str, ...]:
        if options.actions is not None:
            unknown = [a for a in options.actions if a not in ACTIONS]
            if unknown or len(options.actions) > MAX_ACTIONS:
                raise SessionError(
                    InputCode.INVALID_ACTIONS, f"actions: at most {MAX_ACTIONS} of {', '.join(ACTIONS)}.", 400
                )
            return tuple(options.actions)
        count = self.settings.action_count if options.action_count is None else options.action_count
        if not 0 <= count <= MAX_ACTIONS:
            raise SessionError(InputCode.INVALID_ACTIONS, f"action_count must be within 0..{MAX_ACTIONS}.", 400)
        return draw_actions(count)

    async def get(self, session_id: str, owner: str | None = None) -> SessionRecord:
        """With `owner` (an integrator reading), a session another integrator created, and any demo session, is
        answered as not found."""
        session = await self.store.get(session_id)
        if session is None:
            raise not_found()
        if owner is not None and (
            session.tenant == Tenant.DEMO or (session.owner is not None and session.owner != owner)
        ):
            raise not_found()
        return await self.expire_if_due(session)

    async def get_demo(self, session_id: str, status_token: str | None) -> SessionRecord:
        """A demo session for the demo page that created it (its status token); anything else is not found."""
        session = await self.store.get(session_id)
        if (
            session is None
            or session.tenant != Tenant.DEMO
            or not token_matches(status_token, session.status_token_hash)
        ):
            raise not_found()
        return await self.expire_if_due(session)

    async def find_by_token(self, token: str) -> SessionRecord:
        """The session a client token belongs to (one store lookup by the token's hash)."""
        found = await self.store.get_item(TOKEN_ITEM, hash_token(token))
        if found is None:
            raise not_found()
        return await self.get(str(found["id"]))

    async def expire_if_due(self, session: SessionRecord) -> SessionRecord:
        if session.status != SessionStatus.CREATED or self.clock() < session.expires_at:
            return session
        now = self.clock()
        expired = await update(
            self.store,
            session.id,
            lambda r: (
                r.bump(
                    status=SessionStatus.EXPIRED,
                    decided_at=now,
                    reference=None,
                    purge_at=now + self.cluster.result_retention_s,
                )
                if r.status == SessionStatus.CREATED
                else None
            ),
        )
        if expired is None:
            raise not_found()
        await self._decided(expired)
        return expired

    # -- claim and decide ----------------------------------------------------------------------------------------

    async def for_client(self, session_id: str, token: str | None) -> SessionRecord:
        """The session, for the browser holding its client token (the one check of that token: offer and fallback)."""
        session = await self.get(session_id)
        if not token_matches(token, session.token_hash):
            raise SessionError(SessionCode.INVALID_TOKEN, "The client token is wrong.", 403)
        return session

    async def claimable(self, session_id: str, token: str | None) -> SessionRecord:
        """Checks the one-time token and the session's state (nothing is changed here)."""
        session = await self.for_client(session_id, token)
        if session.status == SessionStatus.EXPIRED:
            raise SessionError(SessionCode.SESSION_EXPIRED, "The session expired before it started.", 410)
        if session.status != SessionStatus.CREATED:
            raise token_used()
        return session

    async def claim(self, session_id: str, **changes: Any) -> SessionRecord:
        """CREATED -> IN_PROGRESS by this node, atomically; a session another node (or request) claimed first is
        token_used."""

        def change(current: SessionRecord) -> SessionRecord:
            if current.status != SessionStatus.CREATED or self.clock() >= current.expires_at:
                raise token_used()
            return current.bump(
                status=SessionStatus.IN_PROGRESS, node_id=self.node_id, started_at=self.clock(), **changes
            )

        claimed = await update(self.store, session_id, change)
        if claimed is None:
            raise not_found()
        return claimed

    def ours(self, record: SessionRecord) -> bool:
        """Still this node's live check (not taken over by the fallback on another node, not decided)."""
        return record.status == SessionStatus.IN_PROGRESS and record.node_id == self.node_id and record.fallback is None

    async def decide(
        self, session_id: str, status: SessionStatus, result: SessionResult, allowed: Callable[[SessionRecord], bool]
    ) -> SessionRecord | None:
        """Writes the decision unless `allowed(current)` says the session is no longer the caller's to decide.
        The reference embedding is dropped; the result is kept for result-retention-s."""
        now = self.clock()
        stored = await update(
            self.store,
            session_id,
            lambda r: (
                r.bump(
                    status=status,
                    result=result.to_dict(),
                    decided_at=now,
                    reference=None,
                    stalled=None,
                    purge_at=now + self.cluster.result_retention_s,
                )
                if allowed(r)
                else None
            ),
        )
        if stored is not None:
            await self._decided(stored)
        return stored

    async def _decided(self, record: SessionRecord) -> None:
        if record.status.decided and self.on_decided is not None:
            await self.on_decided(record)
