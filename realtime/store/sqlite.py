"""SQLite session store: the embedded default. Sessions and results survive a restart; several processes on one
machine share the file (WAL mode, busy timeout). Every call runs on the store's own thread, never on the event loop
and never on the loop's default executor: a flood of other blocking work (fetches, parsing) cannot queue in front of
a heartbeat or a session write."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from realtime.status import SessionStatus
from realtime.store.base import Admission, Limit, StoreError, Ticket
from realtime.store.records import SessionRecord

T = TypeVar("T")
MEMORY = ":memory:"
SCHEMA_VERSION = 1  # PRAGMA user_version; raise it with every change to SCHEMA
TABLES = ("sessions", "nodes", "items", "hits")
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL, purge_at REAL NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions (status);
CREATE INDEX IF NOT EXISTS sessions_tenant_status ON sessions (tenant, status);
CREATE INDEX IF NOT EXISTS sessions_purge ON sessions (purge_at);
CREATE TABLE IF NOT EXISTS nodes (node_id TEXT PRIMARY KEY, alive_until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, nonce TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS hits_key ON hits (key, at);
"""


def _open(path: str, attempts: int = 100) -> sqlite3.Connection:
    """A configured connection. Switching a file to WAL needs it to itself, and SQLite answers "database is
    locked" at once (no busy wait) when another process is opening it at the same moment (`serve --processes N`
    starting, two stores on one file): WAL is set only when the file is not in it yet, and the setup is retried."""
    for attempt in range(attempts):
        conn = sqlite3.connect(path, timeout=15.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 15000")
            if path != MEMORY:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            _ensure_schema(conn)
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def _ensure_schema(conn: sqlite3.Connection) -> None:
    """Creates the tables, or replaces them when the file holds another schema version (a file written by an
    earlier livecheck). The store keeps only short-lived session metadata and results (result-retention-s), so a
    file from another version is started afresh rather than migrated: sessions in it could not be served anyway."""
    conn.execute("BEGIN IMMEDIATE")  # one process at a time, when several share the file
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        existing = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version != SCHEMA_VERSION and existing & set(TABLES):
            for table in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _admit(conn: sqlite3.Connection, ticket: Ticket, now: float) -> Admission:
    """SessionStore.admit inside the caller's transaction. Expired rows of both limits are dropped here, so
    neither grows between purges."""
    conn.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (ticket.rate_key, now - ticket.window_s))
    seen, oldest = conn.execute("SELECT COUNT(*), MIN(at) FROM hits WHERE key = ?", (ticket.rate_key,)).fetchone()
    if seen >= ticket.rate_limit:
        wait = ticket.window_s if oldest is None else float(oldest) + ticket.window_s - now
        return Admission(Limit.RATE, max(0.0, wait))
    conn.execute("DELETE FROM items WHERE kind = ? AND expires_at <= ?", (ticket.kind, now))
    owner = json.dumps({"by": ticket.rate_key}, separators=(",", ":"))  # whose item: the client's share
    if ticket.share > 0:
        held = conn.execute("SELECT COUNT(*) FROM items WHERE kind = ? AND body = ?", (ticket.kind, owner)).fetchone()
        if held[0] >= ticket.share:
            return Admission(Limit.SHARE)
    alive = conn.execute("SELECT COUNT(*) FROM items WHERE kind = ?", (ticket.kind,)).fetchone()[0]
    if alive >= ticket.cap:
        return Admission(Limit.CAP)
    conn.execute("INSERT INTO hits (key, at, nonce) VALUES (?, ?, ?)", (ticket.rate_key, now, secrets.token_hex(8)))
    conn.execute(
        "INSERT OR REPLACE INTO items (kind, key, body, expires_at) VALUES (?, ?, ?, ?)",
        (ticket.kind, ticket.key, owner, now + ticket.ttl_s),
    )
    return Admission()


class SqliteStore:
    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._clock = clock
        self._lock = threading.Lock()  # one connection, used by one thread at a time
        self._conn: sqlite3.Connection | None = None
        # The store's own thread (one connection: calls run one at a time anyway); created again after close()
        self._executor: ThreadPoolExecutor | None = None

    # -- plumbing ------------------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))  # results are private: owner only
            conn = _open(self.path)
            self._conn = conn
        return self._conn

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            try:
                return fn(self._connection(), *args)
            except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full, unreadable file
                raise StoreError(f"session store unavailable: {exc}") from exc

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        return self._executor

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool(), self._call, fn, *args)

    # -- sessions ------------------------------------------------------------------------------------------------

    async def create(self, record: SessionRecord) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO sessions (id, tenant, status, version, purge_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                (record.id, record.tenant, str(record.status), record.version, record.purge_at, record.to_json()),
            )

        await self._run(run)

    async def get(self, session_id: str) -> SessionRecord | None:
        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT body FROM sessions WHERE id = ? AND purge_at > ?", (session_id, self._clock())
            ).fetchone()
            return None if row is None else str(row[0])

        body = await self._run(run)
        return None if body is None else SessionRecord.from_json(body)

    async def swap(self, old: SessionRecord, new: SessionRecord) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE sessions SET status = ?, version = ?, purge_at = ?, body = ? WHERE id = ? AND version = ?",
                (str(new.status), new.version, new.purge_at, new.to_json(), old.id, old.version),
            )
            return cursor.rowcount == 1

        return await self._run(run)

    async def in_progress(self) -> list[SessionRecord]:
        def run(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT body FROM sessions WHERE status = ? AND purge_at > ?",
                (str(SessionStatus.IN_PROGRESS), self._clock()),
            ).fetchall()
            return [str(r[0]) for r in rows]

        return [SessionRecord.from_json(body) for body in await self._run(run)]

    async def counts(self) -> dict[tuple[str, SessionStatus], int]:
        def run(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
            # from the (tenant, status) index alone; rows past their TTL count until the next purge()
            return conn.execute("SELECT tenant, status, COUNT(*) FROM sessions GROUP BY tenant, status").fetchall()

        rows = await self._run(run)
        found = {(str(t), str(s)): int(n) for t, s, n in rows}
        tenants = {t for t, _ in found}
        return {(t, status): found.get((t, str(status)), 0) for t in tenants for status in SessionStatus}

    async def purge(self) -> int:
        def run(conn: sqlite3.Connection) -> int:
            now = self._clock()
            dropped = conn.execute("DELETE FROM sessions WHERE purge_at <= ?", (now,)).rowcount
            dropped += conn.execute("DELETE FROM items WHERE expires_at <= ?", (now,)).rowcount
            conn.execute("DELETE FROM nodes WHERE alive_until <= ?", (now - 3600,))
            conn.execute("DELETE FROM hits WHERE at <= ?", (now - 3600,))
            return int(dropped)

        return await self._run(run)

    # -- nodes ---------------------------------------------------------------------------------------------------

    async def beat(self, node_id: str, ttl_s: float) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO nodes (node_id, alive_until) VALUES (?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET alive_until = excluded.alive_until",
                (node_id, self._clock() + ttl_s),
            )

        await self._run(run)

    async def alive(self, node_ids: set[str]) -> set[str]:
        if not node_ids:
            return set()

        def run(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute("SELECT node_id FROM nodes WHERE alive_until > ?", (self._clock(),)).fetchall()
            return {str(r[0]) for r in rows}

        return node_ids & await self._run(run)

    # -- items and counters --------------------------------------------------------------------------------------

    async def put_item(self, kind: str, key: str, value: dict[str, Any], ttl_s: float) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO items (kind, key, body, expires_at) VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(value, separators=(",", ":")), self._clock() + ttl_s),
            )

        await self._run(run)

    async def get_item(self, kind: str, key: str) -> dict[str, Any] | None:
        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT body FROM items WHERE kind = ? AND key = ? AND expires_at > ?", (kind, key, self._clock())
            ).fetchone()
            return None if row is None else str(row[0])

        body = await self._run(run)
        return None if body is None else dict(json.loads(body))

    async def count_items(self, kind: str) -> int:
        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM items WHERE kind = ? AND expires_at > ?", (kind, self._clock())
            ).fetchone()
            return int(row[0])

        return await self._run(run)

    async def drop_item(self, kind: str, key: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM items WHERE kind = ? AND key = ?", (kind, key)))

    async def admit(self, ticket: Ticket) -> Admission:
        def run(conn: sqlite3.Connection) -> Admission:
            now = self._clock()
            conn.execute("BEGIN IMMEDIATE")  # both limits read and written as one step, across processes too
            try:
                answer = _admit(conn, ticket, now)
                conn.execute("COMMIT")
                return answer
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        return await self._run(run)

    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            now = self._clock()
            conn.execute("BEGIN IMMEDIATE")  # count and insert as one step, across processes too
            try:
                conn.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - window_s))
                seen = conn.execute("SELECT COUNT(*) FROM hits WHERE key = ?", (key,)).fetchone()[0]
                allowed = seen < limit
                if allowed:
                    conn.execute("INSERT INTO hits (key, at, nonce) VALUES (?, ?, ?)", (key, now, secrets.token_hex(8)))
                conn.execute("COMMIT")
                return bool(allowed)
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        return await self._run(run)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        """Closes the connection; the next call opens it again (an app may be served more than once in tests)."""

        def run() -> None:
            with self._lock:
                conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close()

        if self.path != MEMORY:  # closing an in-memory database would lose it
            await asyncio.get_running_loop().run_in_executor(self._pool(), run)
            executor, self._executor = self._executor, None
            if executor is not None:
                executor.shutdown(wait=False)
