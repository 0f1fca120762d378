"""clients/python's verifier holds signed results to the JWS/JWT rules (RFC 7515/7519, HS256) on tokens minted
by PyJWT, an independent implementation: what it accepts, and every way a token is refused. No server needed."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from livecheck_client import ResultVerifier, SignatureError, derived_signing_key
from livecheck_client.verify import canonical_json, key_id

pytestmark = pytest.mark.unit

API_KEY = "integrator-api-key-of-at-least-32-chars"
RESULT = {"alive": True, "reasons": [], "actions": [{"action": "smile", "passed": True}], "note": "é"}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "livecheck",
        "sub": "sess-1",
        "session_id": "sess-1",
        "tenant": key_id(API_KEY),
        "iat": now,
        "exp": now + 600,
        "status": "SUCCEEDED",
        "alive": True,
        "reasons": [],
        "mode": "live",
        "assurance": "high",
        "result_sha256": hashlib.sha256(canonical_json(RESULT)).hexdigest(),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def mint(body: dict[str, Any], secret: str | None = None, kid: str | None = None, alg: str = "HS256") -> str:
    return jwt.encode(
        body, secret or derived_signing_key(API_KEY), algorithm=alg, headers={"kid": kid or key_id(API_KEY)}
    )


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_signed_with_the_derived_key_verifies_and_binds_the_result() -> None:
    verified = ResultVerifier(api_key=API_KEY).verify(mint(claims()), result=RESULT)
    assert (verified.session_id, verified.status, verified.alive, verified.mode) == (
        "sess-1",
        "SUCCEEDED",
        True,
        "live",
    )
    assert verified.raw["result_sha256"] == hashlib.sha256(canonical_json(RESULT)).hexdigest()


def test_configured_signing_keys_are_picked_by_kid() -> None:
    keys = {"2026-a": "a" * 40, "2026-b": "b" * 40}
    verifier = ResultVerifier(signing_keys=keys)
    for kid, secret in keys.items():
        assert verifier.verify(mint(claims(), secret, kid)).session_id == "sess-1"
    with pytest.raises(SignatureError, match="bad signature"):
        verifier.verify(mint(claims(), keys["2026-a"], "2026-b"))
    with pytest.raises(SignatureError, match="no key"):
        verifier.verify(mint(claims(), "c" * 40, "2025-old"))


def test_the_api_key_itself_is_not_the_signing_key() -> None:
    with pytest.raises(SignatureError, match="bad signature"):
        ResultVerifier(api_key=API_KEY).verify(mint(claims(), API_KEY))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"iss": "someone-else"}, "issuer"),
        ({"exp": None}, "missing claim exp"),
        ({"iat": None}, "missing claim iat"),
        ({"sub": None}, "missing claim sub"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"iat": int(time.time()) + 3600}, "future"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
    ],
)
def test_claims_are_checked(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        ResultVerifier(api_key=API_KEY).verify(mint(claims(**change)))


def test_an_altered_result_or_payload_is_refused() -> None:
    token = mint(claims())
    with pytest.raises(SignatureError, match="result_sha256"):
        ResultVerifier(api_key=API_KEY).verify(token, result={**RESULT, "alive": False})
    header, payload, signature = token.split(".")
    forged = b64({**claims(), "status": "SUCCEEDED", "alive": True, "sub": "another-session"})
    with pytest.raises(SignatureError, match="bad signature"):
        ResultVerifier(api_key=API_KEY).verify(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", "hs256"])
def test_only_hs256_whatever_the_header_asks(alg: str) -> None:
    header = b64({"alg": alg, "typ": "JWT", "kid": key_id(API_KEY)})
    _, payload, signature = mint(claims()).split(".")
    with pytest.raises(SignatureError, match="algorithm"):
        ResultVerifier(api_key=API_KEY).verify(f"{header}.{payload}.{signature}")
    with pytest.raises(SignatureError):
        ResultVerifier(api_key=API_KEY).verify(f"{header}.{payload}.")


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c.d", "!!.??.**", f"{b64({'alg': 'HS256'})[:-1]}=.e30.x", 42, "e30.e30.e30"]
)
def test_garbage_is_a_signature_error_never_a_crash(token: Any) -> None:
    with pytest.raises(SignatureError):
        ResultVerifier(api_key=API_KEY).verify(token)


def test_a_critical_header_extension_is_refused() -> None:
    token = jwt.encode(
        claims(),
        derived_signing_key(API_KEY),
        algorithm="HS256",
        headers={"kid": key_id(API_KEY), "crit": ["x"], "x": 1},
    )
    with pytest.raises(SignatureError, match="critical"):
        ResultVerifier(api_key=API_KEY).verify(token)
