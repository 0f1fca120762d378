"""Huawei FRS credentials, `[huawei] auth`: token | aksk | none.

- token: `X-Auth-Token` (or `Authorization: Bearer`) must be one of livecheck's API keys. A real IAM token cannot be
  checked here (it is IAM's, signed by keys livecheck does not have), so a client configured with a livecheck key
  as its token works and one that fetches IAM tokens does not (use `none` on a private network for those).
- aksk: the request is signed the way Huawei's API Gateway SDKs sign it (SDK-HMAC-SHA256) with one of the
  configured `access-keys` pairs; `X-Sdk-Date` must be within `max-clock-skew-s` of this server's clock.
- none: no credential is asked for and any `X-Auth-Token` is ignored (the network must be the access control).

The signature covers the body's SHA-256, so it is verified in two steps: everything in the headers (the scheme, the
access key, the date, which headers are signed) before a byte of the body is read, and the signature itself once
the raw body (within its size limit) is in memory, before it is parsed.

The algorithm (APIG signer, "SDK-HMAC-SHA256"): canonical request = METHOD \\n canonical URI (each path segment
percent-encoded except ~, always ending in /) \\n canonical query (keys sorted, each value percent-encoded, a key's
values sorted) \\n canonical headers (`name:trimmed value\\n` for each signed header, in SignedHeaders order) \\n
SignedHeaders (lower case, sorted, `;`-joined) \\n hex SHA-256 of the body; string to sign = "SDK-HMAC-SHA256" \\n
X-Sdk-Date \\n hex SHA-256 of the canonical request; Signature = hex HMAC-SHA256(SK, string to sign); header
`Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_SHA256 = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
REQUIRED_SIGNED = ("host", "x-sdk-date")  # without these a signature could be replayed on another host or date


class HuaweiAuth(StrEnum):
    TOKEN = "token"
    AKSK = "aksk"
    NONE = "none"


class AuthFailure(Exception):
    """A credential is missing (`missing`: the header it names) or wrong; `detail` is for the log, never the body."""

    def __init__(self, detail: str, missing: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.missing = missing


def parse_pairs(entries: tuple[str, ...]) -> dict[str, str]:
    """`AK:SK` entries -> {AK: SK}; ValueError names a malformed entry by position (never the secret)."""
    pairs: dict[str, str] = {}
    for index, entry in enumerate(entries):
        access, sep, secret = entry.partition(":")
        if not sep or not access.strip() or not secret.strip():
            raise ValueError(f"access-keys: entry {index + 1} is not ACCESS_KEY:SECRET_KEY")
        pairs[access.strip()] = secret.strip()
    return pairs


@dataclass(frozen=True)
class SignedRequest:
    """What the server knows of a request, in the form the signature needs."""

    method: str
    path: str  # as received, percent-encoded
    query: bytes  # the raw query string
    headers: dict[str, str]  # lower-case name -> value as received


@dataclass(frozen=True)
class Authorization:
    access: str
    signed_headers: tuple[str, ...]
    signature: str
    date: str


def canonical_uri(path: str) -> str:
    uri = "/".join(quote(segment, safe="~") for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(raw: bytes) -> str:
    found: dict[str, list[str]] = {}
    for item in raw.decode("latin-1").split("&"):
        key, _, value = item.partition("=")
        if key:
            found.setdefault(unquote(key), []).append(unquote(value))
    return "&".join(
        f"{quote(key, safe='~')}={quote(value, safe='~')}" for key in sorted(found) for value in sorted(found[key])
    )


def _header_text(value: str) -> str:
    """Headers arrive as latin-1; the SDK signed the UTF-8 text it then sent as bytes."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def canonical_request(request: SignedRequest, signed: tuple[str, ...], body_sha256: str) -> str:
    headers = "".join(f"{name}:{_header_text(request.headers[name]).strip()}\n" for name in signed)
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            headers,
            ";".join(signed),
            body_sha256,
        )
    )


def string_to_sign(canonical: str, date: str) -> str:
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def signature(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def parse_authorization(header: str) -> tuple[str, str, str]:
    """`SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` -> (access, signed headers, signature)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != ALGORITHM:
        raise AuthFailure(f"Authorization scheme is not {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    try:
        return fields["Access"], fields["SignedHeaders"], fields["Signature"]
    except KeyError as missing:
        raise AuthFailure(f"Authorization lacks {missing.args[0]}") from None


def _date_seconds(text: str) -> float:
    try:
        return float(timegm(time.strptime(text, DATE_FORMAT)))
    except ValueError:
        raise AuthFailure(f"{DATE_HEADER} is not {DATE_FORMAT}") from None


class AkSkVerifier:
    """Checks APIG-signed requests against the configured pairs, with a bounded clock skew."""

    def __init__(self, pairs: dict[str, str], max_skew_s: float, clock: Callable[[], float] = time.time) -> None:
        self._pairs = pairs
        self._max_skew_s = max_skew_s
        self._clock = clock

    def _secret(self, access: str) -> str | None:
        found = None
        for candidate, secret in self._pairs.items():  # every key compared, constant time each
            if hmac.compare_digest(candidate.encode(), access.encode()):
                found = secret
        return found

    def check_headers(self, request: SignedRequest) -> Authorization:
        """Everything that needs no body: scheme, access key, date within the skew, signed header list."""
        header = request.headers.get("authorization", "").strip()
        if not header:
            raise AuthFailure("no Authorization header", missing="Authorization")
        date = request.headers.get(DATE_HEADER.lower(), "").strip()
        if not date:
            raise AuthFailure(f"no {DATE_HEADER} header", missing=DATE_HEADER)
        access, signed_text, given = parse_authorization(header)
        signed = tuple(signed_text.split(";"))
        if list(signed) != sorted(set(signed)) or any(name != name.lower() for name in signed):
            raise AuthFailure("SignedHeaders is not sorted lower-case names")
        for name in REQUIRED_SIGNED:
            if name not in signed:
                raise AuthFailure(f"SignedHeaders lacks {name}")
        for name in signed:
            if name not in request.headers:
                raise AuthFailure(f"signed header {name} is not in the request")
        now = self._clock()
        skew = abs(now - _date_seconds(date))
        if skew > self._max_skew_s:
            raise AuthFailure(f"{DATE_HEADER} is {skew:.0f} s from the server clock (at most {self._max_skew_s:g})")
        if self._secret(access) is None:
            raise AuthFailure("unknown access key")
        return Authorization(access, signed, given, date)

    def check_body(self, request: SignedRequest, auth: Authorization, body: bytes) -> str:
        """The signature over the request and its body; returns the access key it was made with."""
        body_sha256 = hashlib.sha256(body).hexdigest()
        declared = request.headers.get(CONTENT_SHA256)
        if declared is not None and declared.strip().lower() != body_sha256:
            # UNSIGNED-PAYLOAD included: a signature that does not cover the body would let it be replaced
            raise AuthFailure(f"{CONTENT_SHA256} does not match the body")
        secret = self._secret(auth.access)
        if secret is None:  # checked in check_headers; the pairs do not change in between
            raise AuthFailure("unknown access key")
        expected = signature(
            secret, string_to_sign(canonical_request(request, auth.signed_headers, body_sha256), auth.date)
        )
        if not hmac.compare_digest(expected, auth.signature.lower()):
            raise AuthFailure("signature does not match")
        return auth.access
