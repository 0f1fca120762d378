"""Signed session results: a JWT (HS256, PyJWT) an integrator's backend verifies and passes around its own systems.

The widget and the browser only ever learn a session id and a status; the integrator's backend reads the result
with its API key and gets, besides the JSON, `signed_result`. The token says what was decided and when
(`decided_at`), how (`mode`: live or recording, and what that is worth: `assurance`), for which session
(`session_id`, `sub`) and which integrator (`tenant`: the API key's public fingerprint), and it expires (`exp`,
`server.signed-result-ttl-s` after it was read): a stale token cannot be replayed as a fresh check.

The signing key is never the API key (a system that only verifies results must not be able to call the API):
- `server.signing-keys = ["KID:SECRET", ...]` (secrets of at least 32 characters): the first signs, its `kid` in the
  token's header; rotate by putting a new entry first and keeping the old one listed until the tokens it signed
  expired (verifiers pick the key by `kid`);
- unset: each integrator's key is derived from its API key (HMAC-SHA256 of SIGNING_LABEL keyed by the API key,
  hex; `kid` the API key's public fingerprint), so every integrator verifies with a key only it can compute, which
  is still not its API key. docs/api.md shows verification in Python and Node.js.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from quart import current_app

EXTENSION = "livecheck.signer"  # the app's ResultSigner (webapp.app creates it)
ISSUER = "livecheck"
ALGORITHM = "HS256"
MIN_SECRET_CHARS = 32
SIGNING_LABEL = b"livecheck result signing key v1"


def key_id(api_key: str) -> str:
    """A short public fingerprint of an API key (the session's owner, the `tenant` claim)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def derived_key(api_key: str) -> str:
    """The signing key of an integrator when no signing-keys are configured: computable only with the API key,
    and not the API key (hex of HMAC-SHA256(key=API key, msg=SIGNING_LABEL))."""
    return hmac.new(api_key.encode(), SIGNING_LABEL, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: str


def parse_signing_keys(entries: tuple[str, ...]) -> tuple[SigningKey, ...]:
    """`KID:SECRET` entries; raises ValueError naming the first bad one (by position: never the secret)."""
    keys = []
    for index, entry in enumerate(entries):
        kid, sep, secret = entry.partition(":")
        kid = kid.strip()
        if not sep or not kid or len(kid) > 64 or not kid.isascii() or len(secret) < MIN_SECRET_CHARS:
            raise ValueError(
                f"server.signing-keys[{index}]: expected KID:SECRET with a secret of at least {MIN_SECRET_CHARS} "
                "characters"
            )
        keys.append(SigningKey(kid, secret))
    if len({k.kid for k in keys}) != len(keys):
        raise ValueError("server.signing-keys: every kid must be different")
    return tuple(keys)


class ResultSigner:
    """Signs with the first configured key, or with the integrator's derived key when none is configured."""

    def __init__(self, entries: tuple[str, ...], ttl_s: float) -> None:
        self.keys = parse_signing_keys(entries)
        self.ttl_s = ttl_s

    def key_for(self, api_key: str) -> SigningKey:
        if self.keys:
            return self.keys[0]
        return SigningKey(key_id(api_key), derived_key(api_key))

    def sign(self, claims: dict[str, Any], api_key: str) -> str:
        key = self.key_for(api_key)
        return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str, api_key: str) -> dict[str, Any]:
        """The claims of a token this server signed for `api_key` (any listed key, by kid); jwt.InvalidTokenError
        otherwise (altered, expired, another key)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise ValueError(f"not a JWT: {exc}") from None
        candidates = [k for k in self.keys if k.kid == kid] or ([] if self.keys else [self.key_for(api_key)])
        if not candidates:
            raise ValueError("unknown kid")
        return verify(token, candidates[0].secret)


def result_signer() -> ResultSigner:
    """The current app's signer."""
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, ResultSigner)
    return found


def verify(token: str, secret: str) -> dict[str, Any]:
    """What an integrator runs (docs/api.md): HS256 only, issuer livecheck, exp required and checked. ValueError
    when the token was not signed with `secret`, was altered or has expired."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.InvalidTokenError as exc:
        raise ValueError(f"not a valid signed result: {exc}") from None
    return claims


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def result_claims(
    session_view: dict[str, Any],
    *,
    decided_at: float | None,
    tenant: str,
    ttl_s: float,
    now: float | None = None,
) -> dict[str, Any]:
    """What the token asserts: the decision and why, when and how it was made, for whom, plus a SHA-256 of the
    whole `result` object as canonical JSON (keys sorted, no spaces, UTF-8), so the rest of the JSON response is
    bound to the signature too."""
    result = session_view.get("result") or {}
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": session_view["session_id"],
        "session_id": session_view["session_id"],
        "tenant": tenant,
        "iat": issued,
        "exp": issued + max(1, int(ttl_s)),
        "decided_at": None if decided_at is None else int(decided_at),
        "status": session_view["status"],
        "alive": result.get("alive"),
        "mode": result.get("mode"),
        "assurance": result.get("assurance"),
        "confidence": result.get("confidence"),
        "reasons": result.get("reasons", []),
        "actions": [{"action": a.get("action"), "passed": a.get("passed")} for a in result.get("actions", [])],
        "result_sha256": hashlib.sha256(_canonical(result)).hexdigest(),
    }
    match = result.get("match")
    if isinstance(match, dict):
        claims["same_person"] = match.get("same_person")
    return claims
