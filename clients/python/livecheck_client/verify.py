"""Verifying `signed_result`: a compact JWS (RFC 7515) carrying JWT claims (RFC 7519), algorithm HS256.

Checked as the standards say, with the standard library only: three base64url parts; a JSON header whose `alg` is
exactly HS256 (never `none`, never what the token asks for); the key chosen by the header's `kid`; HMAC-SHA256 over
the ASCII of `header.payload`, compared in constant time; then the claims: `iss` is livecheck, `exp` is required
and in the future, `iat` and `sub` are present, and, given the session's JSON, `result_sha256` matches its `result`
(canonical JSON: keys sorted, separators `,` `:`, UTF-8) so the rest of the answer is bound to the signature.

Keys: the server signs with `[server] signing-keys` (KID:SECRET, give them here as `signing_keys`) or, when none are
configured, with a key derived from the integrator's API key (HMAC-SHA256 of a fixed label keyed by the API key):
never the API key itself, so a system that only verifies cannot call the API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ISSUER = "livecheck"
ALGORITHM = "HS256"
SIGNING_LABEL = b"livecheck result signing key v1"


class SignatureError(ValueError):
    """The token was not signed by the server with a key given here, was altered, or is expired."""


def key_id(api_key: str) -> str:
    """The API key's public fingerprint: the `kid` of tokens signed with its derived key, and the `tenant` claim."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def derived_signing_key(api_key: str) -> str:
    """The signing key the server uses for this API key when no signing-keys are configured."""
    return hmac.new(api_key.encode(), SIGNING_LABEL, hashlib.sha256).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64decode(part: str) -> bytes:
    if not part or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in part):
        raise SignatureError("not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise SignatureError("not base64url") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SignatureError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise SignatureError(f"the {what} is not a JSON object")
    return value


@dataclass(frozen=True)
class ResultClaims:
    """The verified claims; `raw` has every claim, including any this version does not name."""

    session_id: str
    status: str
    alive: bool | None
    reasons: list[str]
    expires_at: int
    issued_at: int
    tenant: str | None
    mode: str | None
    assurance: str | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ResultVerifier:
    """`api_key`: verify tokens signed with its derived key. `signing_keys`: {kid: secret} of the server's
    `[server] signing-keys` (any may sign; the token's kid picks one). `leeway_s` allows for clock skew."""

    api_key: str | None = None
    signing_keys: Mapping[str, str] = field(default_factory=dict)
    leeway_s: float = 30.0

    def secret_for(self, kid: object) -> bytes:
        if isinstance(kid, str) and kid in self.signing_keys:
            return self.signing_keys[kid].encode()
        if self.api_key is not None and kid == key_id(self.api_key):
            return derived_signing_key(self.api_key).encode()
        raise SignatureError(f"no key for kid {kid!r}")

    def verify(self, token: str, *, result: Mapping[str, Any] | None = None, now: float | None = None) -> ResultClaims:
        """The claims of `token`; SignatureError otherwise. With `result` (the session's `result` object), its
        digest must be the one signed."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise SignatureError("not a compact JWS")
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = _json_object(_b64decode(header_b64), "header")
        if header.get("alg") != ALGORITHM:
            raise SignatureError(f"unexpected algorithm {header.get('alg')!r}")
        if "crit" in header:
            raise SignatureError("unsupported critical header")
        secret = self.secret_for(header.get("kid"))
        expected = hmac.new(secret, f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64decode(signature_b64)):
            raise SignatureError("bad signature")
        claims = _json_object(_b64decode(payload_b64), "payload")
        self._check_claims(claims, time.time() if now is None else now)
        if result is not None and claims.get("result_sha256") != hashlib.sha256(canonical_json(result)).hexdigest():
            raise SignatureError("result_sha256 does not match the result")
        return ResultClaims(
            session_id=str(claims["sub"]),
            status=str(claims.get("status", "")),
            alive=claims.get("alive"),
            reasons=list(claims.get("reasons") or []),
            expires_at=int(claims["exp"]),
            issued_at=int(claims["iat"]),
            tenant=claims.get("tenant"),
            mode=claims.get("mode"),
            assurance=claims.get("assurance"),
            raw=claims,
        )

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        if claims.get("iss") != ISSUER:
            raise SignatureError("wrong issuer")
        for name in ("exp", "iat", "sub"):
            if name not in claims:
                raise SignatureError(f"missing claim {name}")
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, iat)):
            raise SignatureError("exp and iat must be numbers")
        if exp <= now - self.leeway_s:
            raise SignatureError("expired")
        if iat > now + self.leeway_s:
            raise SignatureError("issued in the future")
        if "nbf" in claims and isinstance(claims["nbf"], (int, float)) and claims["nbf"] > now + self.leeway_s:
            raise SignatureError("not yet valid")
