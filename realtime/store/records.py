"""What the session store keeps: session metadata, the decided result and the audit images the integrator asked
for. Never media. Times are wall-clock seconds (time.time()): several processes and machines read them."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from realtime.modes import Tenant
from realtime.status import SessionStatus


@dataclass(frozen=True)
class SessionRecord:
    id: str
    token_hash: str  # sha256 hex of the one-time client token (the token itself is never stored)
    actions: tuple[str, ...]
    created_at: float
    expires_at: float  # a session not started by then is EXPIRED
    purge_at: float  # the store forgets the session then (its TTL)
    allowed_origins: tuple[str, ...] = ()
    audit_images: bool = False
    owner: str | None = None  # opaque id of the integrator that created it
    tenant: Tenant = Tenant.INTEGRATOR
    recording_fallback: bool = False  # the integrator allows the recording fallback
    light: bool = False  # the live check includes the light challenge (docs/protocol.md)
    status_token_hash: str | None = None  # demo sessions: sha256 hex of the token the demo page reads the status with
    reference: bytes | None = field(default=None, repr=False)  # float32 embedding of the reference photo
    reference_given: bool = False
    status: SessionStatus = SessionStatus.CREATED
    node_id: str | None = None  # the node that claimed it: runs its peer or judges its recording
    started_at: float | None = None
    decided_at: float | None = None
    fallback: dict[str, Any] | None = None  # the recording fallback's plan (realtime.fallback), once started
    recording_used: bool = False  # an upload was accepted for judging (a session runs once)
    frames_seen: bool = False  # the live check analyzed a frame: the recording fallback can no longer take over
    stalled: str | None = None  # the live connection ended before any frame was analyzed: why
    result: dict[str, Any] | None = None
    version: int = 0  # bumped by every write; a write based on an older version loses (compare-and-set)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"session_id": self.id, "status": str(self.status), "expires_at": int(self.expires_at)}
        if self.result is not None:
            out["result"] = self.result
        return out

    def to_json(self) -> str:
        data = asdict(self)
        data["reference"] = None if self.reference is None else base64.b64encode(self.reference).decode()
        data["status"] = str(self.status)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SessionRecord:
        data = json.loads(text)
        data["actions"] = tuple(data["actions"])
        data["allowed_origins"] = tuple(data["allowed_origins"])
        data["status"] = SessionStatus(data["status"])
        data["tenant"] = Tenant(data["tenant"])
        if data["reference"] is not None:
            data["reference"] = base64.b64decode(data["reference"])
        return cls(**data)

    def bump(self, **changes: Any) -> SessionRecord:
        """A copy with `changes`, one version later (what a compare-and-set writes)."""
        return replace(self, **changes, version=self.version + 1)
