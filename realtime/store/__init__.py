"""Where sessions live: one interface (`SessionStore`), chosen by URL in one place (`open_store`).

sqlite:///<absolute path>   embedded default (four slashes: sqlite:////var/lib/livecheck/livecheck.db;
                            sessions survive a restart; processes on one machine share it)
sqlite:///:memory:          one process, nothing kept (tests of the registry alone)
redis://host:port/db        several processes or machines (rediss:// for TLS)
redis+cluster://host:port   the same on a Redis Cluster (any one node; rediss+cluster:// for TLS)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from realtime.store.base import Admission, Limit, SessionStore, StoreError, Ticket, lost_sessions, total, update
from realtime.store.records import SessionRecord
from realtime.store.redis import CLUSTER_SCHEMES, RedisStore
from realtime.store.sqlite import MEMORY, SqliteStore

SQLITE_PREFIX = "sqlite:///"
REDIS_SCHEMES = ("redis://", "rediss://", *CLUSTER_SCHEMES)


def data_dir() -> Path:
    """The per-user data directory (XDG_DATA_HOME, else ~/.local/share), like the models' default."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "livecheck"


def default_store_url() -> str:
    return f"{SQLITE_PREFIX}{data_dir() / 'livecheck.db'}"


def check_store_url(url: str) -> str | None:
    """None if `url` names a store this build can open; otherwise what is wrong with it."""
    if url.startswith(REDIS_SCHEMES):
        if not url.split("://", 1)[1]:
            return "expected redis://HOST:PORT/DB or redis+cluster://HOST:PORT"
        if url.startswith(CLUSTER_SCHEMES) and urlsplit(url).path.strip("/") not in ("", "0"):
            return "a Redis Cluster has one database: redis+cluster://HOST:PORT"
        return None
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX) :]
        return None if path == MEMORY or path.startswith("/") else "expected sqlite:////absolute/path.db"
    return "expected sqlite:///PATH, redis://HOST:PORT/DB or redis+cluster://HOST:PORT"


def open_store(url: str = "", clock: Callable[[], float] = time.time) -> SessionStore:
    """The store named by `url` ("" = the per-user SQLite default). Connections open lazily on first use."""
    url = url or default_store_url()
    problem = check_store_url(url)
    if problem is not None:
        raise StoreError(f"store url {url!r}: {problem}")
    if url.startswith(REDIS_SCHEMES):
        return RedisStore(url, clock)
    return SqliteStore(url[len(SQLITE_PREFIX) :], clock)


__all__ = [
    "Admission",
    "Limit",
    "SessionRecord",
    "SessionStore",
    "StoreError",
    "Ticket",
    "check_store_url",
    "data_dir",
    "default_store_url",
    "lost_sessions",
    "open_store",
    "total",
    "update",
]
