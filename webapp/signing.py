"""Signed session results: a compact JWS (HS256) keyed by the integrator's own API key.

The widget and the browser only ever learn a session id and a status; the integrator's backend reads the result
with its API key and gets, besides the JSON, `signed_result`: a standard JWT it can verify with that same key (any
JWT library, algorithm HS256) and pass around inside its own systems without anyone being able to alter it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

ISSUER = "livecheck"


def key_id(api_key: str) -> str:
    """A short public fingerprint of an API key, so a holder of several keys knows which one signed."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def result_claims(session_view: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """What the token asserts: the decision and why, plus a SHA-256 of the whole `result` object as canonical JSON
    (keys sorted, no spaces, UTF-8), so the rest of the JSON response is bound to the signature too."""
    result = session_view.get("result") or {}
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": session_view["session_id"],
        "iat": int(now if now is not None else time.time()),
        "status": session_view["status"],
        "alive": result.get("alive"),
        "confidence": result.get("confidence"),
        "reasons": result.get("reasons", []),
        "actions": [{"action": a.get("action"), "passed": a.get("passed")} for a in result.get("actions", [])],
        "result_sha256": hashlib.sha256(_canonical(result)).hexdigest(),
    }
    match = result.get("match")
    if isinstance(match, dict):
        claims["same_person"] = match.get("same_person")
    return claims


def sign(claims: dict[str, Any], api_key: str) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": key_id(api_key)}
    signing_input = f"{_b64(_canonical(header))}.{_b64(_canonical(claims))}"
    mac = hmac.new(api_key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def verify(token: str, api_key: str) -> dict[str, Any]:
    """The claims of a token signed with `api_key`; ValueError when it was not, or was altered."""
    try:
        header_b64, claims_b64, mac_b64 = token.split(".")
        header = json.loads(_unb64(header_b64))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a compact JWS") from None
    if header.get("alg") != "HS256":
        raise ValueError("unexpected algorithm")
    expected = hmac.new(api_key.encode(), f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(mac_b64)):
        raise ValueError("bad signature")
    return json.loads(_unb64(claims_b64))  # type: ignore[no-any-return]
