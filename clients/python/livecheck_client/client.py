"""The integrator's side of the session API (docs/protocol.md): create a session, read it, wait for its result."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from livecheck_client.verify import ResultClaims, ResultVerifier

DECIDED = frozenset({"SUCCEEDED", "FAILED", "EXPIRED"})


class LiveCheckApiError(Exception):
    """A refused request: HTTP status, the server's stable error `code` and message, Retry-After when given."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the API's own word
    code: str
    message: str


@dataclass(frozen=True)
class CreatedSession:
    session_id: str
    client_token: str
    widget_url: str
    expires_at: int
    status: str
    warnings: list[Warning] = field(default_factory=list)


@dataclass(frozen=True)
class Session:
    """`result` and `signed_result` once decided; `raw` is the whole answer."""

    session_id: str
    status: str
    result: dict[str, Any] | None
    signed_result: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def decided(self) -> bool:
        return self.status in DECIDED


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    retry = response.headers.get("Retry-After")
    raise LiveCheckApiError(
        response.status_code,
        str(error.get("code", "")),
        str(error.get("message", response.reason_phrase)),
        float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
    )


def session_options(
    *,
    actions: Iterable[str] | None = None,
    action_count: int | None = None,
    allowed_origins: Iterable[str] = (),
    return_url: str | None = None,
    ttl_s: float | None = None,
    recording_fallback: bool | None = None,
    audit_images: bool | None = None,
    reference_photo: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of POST /v1/sessions; `extra` passes options this version does not name."""
    body: dict[str, Any] = {"allowed_origins": list(allowed_origins)}
    if actions is not None:
        body["actions"] = list(actions)
    if action_count is not None:
        body["action_count"] = action_count
    if return_url is not None:
        body["return_url"] = return_url
    if ttl_s is not None:
        body["ttl"] = ttl_s
    if recording_fallback is not None:
        body["recording_fallback"] = recording_fallback
    if audit_images is not None:
        body["audit_images"] = audit_images
    if reference_photo is not None:
        body["reference_photo"] = base64.b64encode(reference_photo).decode()
    body.update(extra or {})
    return body


def _created(body: dict[str, Any]) -> CreatedSession:
    return CreatedSession(
        session_id=body["session_id"],
        client_token=body["client_token"],
        widget_url=body["widget_url"],
        expires_at=int(body["expires_at"]),
        status=body["status"],
        warnings=[Warning(str(w.get("code", "")), str(w.get("message", ""))) for w in body.get("warnings", [])],
    )


def _session(body: dict[str, Any]) -> Session:
    return Session(body["session_id"], body["status"], body.get("result"), body.get("signed_result"), body)


class LiveCheckClient:
    """Async client (httpx.AsyncClient). `verifier` defaults to the API key's derived signing key; pass
    ResultVerifier(signing_keys={...}) when the server has `[server] signing-keys`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        verifier: ResultVerifier | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.verifier = verifier or ResultVerifier(api_key=api_key)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )

    async def __aenter__(self) -> LiveCheckClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_session(self, **options: Any) -> CreatedSession:
        """POST /v1/sessions with session_options(**options)."""
        response = await self._http.post("/v1/sessions", json=session_options(**options))
        _raise_for(response)
        return _created(response.json())

    async def get_session(self, session_id: str) -> Session:
        response = await self._http.get(f"/v1/sessions/{session_id}")
        _raise_for(response)
        return _session(response.json())

    async def wait_for_result(self, session_id: str, *, timeout_s: float = 120.0, interval_s: float = 1.0) -> Session:
        """Polls until the session is decided (or expired); TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            session = await self.get_session(session_id)
            if session.decided:
                return session
            if time.monotonic() >= deadline:
                raise TimeoutError(f"session {session_id} still {session.status} after {timeout_s} s")
            await asyncio.sleep(interval_s)

    def verify(self, session: Session) -> ResultClaims:
        """The signed result's claims, its digest checked against the session's `result`; SignatureError."""
        if session.signed_result is None:
            raise ValueError(f"session {session.session_id} has no signed result yet ({session.status})")
        claims = self.verifier.verify(session.signed_result, result=session.result)
        if claims.session_id != session.session_id:
            raise ValueError("the signed result is for another session")
        return claims


class SyncLiveCheckClient:
    """The same calls without asyncio (httpx.Client), for scripts and synchronous web frameworks."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        verifier: ResultVerifier | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.verifier = verifier or ResultVerifier(api_key=api_key)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> SyncLiveCheckClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def create_session(self, **options: Any) -> CreatedSession:
        response = self._http.post("/v1/sessions", json=session_options(**options))
        _raise_for(response)
        return _created(response.json())

    def get_session(self, session_id: str) -> Session:
        response = self._http.get(f"/v1/sessions/{session_id}")
        _raise_for(response)
        return _session(response.json())

    def verify(self, session: Session) -> ResultClaims:
        if session.signed_result is None:
            raise ValueError(f"session {session.session_id} has no signed result yet ({session.status})")
        claims = self.verifier.verify(session.signed_result, result=session.result)
        if claims.session_id != session.session_id:
            raise ValueError("the signed result is for another session")
        return claims
