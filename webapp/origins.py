"""Web origins as integrators give them (`allowed_origins`): plain scheme://host[:port], nothing else."""

from __future__ import annotations

import re

_ORIGIN = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


def normalize_origin(value: object) -> str | None:
    """The origin without a trailing slash, or None when it is not a plain http(s) origin (a path, a query,
    credentials, a wildcard, a javascript: URL ...): such a value must never reach a CSP header or postMessage."""
    if not isinstance(value, str):
        return None
    origin = value.rstrip("/")
    return origin if _ORIGIN.match(origin) else None
