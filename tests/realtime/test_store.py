"""The session store's contract, on each backend against the real thing: SQLite files (WAL, two connections as
two processes would have), a real redis-server started on a loopback port and a real three-shard Redis Cluster
(tests/support/servers.py)."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from realtime.status import InvalidTransition, SessionStatus
from realtime.store import (
    Admission,
    Limit,
    SessionRecord,
    SessionStore,
    StoreError,
    Ticket,
    lost_sessions,
    open_store,
    total,
    update,
)
from realtime.store import redis as redis_store
from realtime.store.redis import RedisStore
from realtime.store.sqlite import SqliteStore
from tests.support.session_support import ShiftedClock

BACKENDS = ["sqlite", "memory", "redis", "redis-cluster"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'livecheck.db'}"
    if request.param == "memory":
        return "sqlite:///:memory:"
    server = request.getfixturevalue("redis_cluster" if request.param == "redis-cluster" else "redis_server")
    server.flush()
    return server.url


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
async def opened(clock: ShiftedClock) -> AsyncIterator[Callable[[str], SessionStore]]:
    stores: list[SessionStore] = []

    def open_(url: str) -> SessionStore:
        stores.append(open_store(url, clock))
        return stores[-1]

    yield open_
    for store in stores:
        await store.close()


async def let_pass(store_url: str, clock: ShiftedClock, seconds: float) -> None:
    """SQLite expires entries by the store's injected clock: it jumps, nothing sleeps. Redis expires keys and
    counts hits on the server's own time, which only real time moves."""
    if store_url.startswith("redis"):
        await asyncio.sleep(seconds)
    else:
        clock.advance(seconds)


def record(session_id: str = "s1", ttl_s: float = 60.0, **changes) -> SessionRecord:
    now = time.time()
    base = SessionRecord(
        id=session_id,
        token_hash="ab" * 32,
        actions=("turn_left", "nod"),
        created_at=now,
        expires_at=now + ttl_s,
        purge_at=now + ttl_s + 3600,
        allowed_origins=("https://a.example",),
        audit_images=True,
        owner="owner-1",
        reference=np.arange(4, dtype=np.float32).tobytes(),
        reference_given=True,
    )
    return replace(base, **changes)


async def test_create_get_round_trip(store_url, opened):
    store = opened(store_url)
    original = record(
        fallback={"actions": ["nod"], "marks_ms": [2000, 5500], "issued_ms": [2100]},
        status_token_hash="cd" * 32,
        result={"alive": False, "reasons": ["x"], "best_face": {"bbox": [1, 2]}},
    )
    await store.create(original)
    got = await store.get("s1")
    assert got == original
    assert np.frombuffer(got.reference, np.float32).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert await store.get("nope") is None


async def test_compare_and_set_lets_exactly_one_writer_win(store_url, opened):
    store = opened(store_url)
    await store.create(record())
    current = await store.get("s1")
    first = current.bump(status=SessionStatus.IN_PROGRESS, node_id="a")
    second = current.bump(status=SessionStatus.IN_PROGRESS, node_id="b")
    assert await store.swap(current, first) is True
    assert await store.swap(current, second) is False  # based on a version that is gone
    assert (await store.get("s1")).node_id == "a"


async def test_concurrent_claims_from_two_connections_have_one_winner(store_url, opened):
    """Two store objects on one database: what two processes (SQLite) or two machines (Redis) have."""
    stores = [opened(store_url)] if store_url.endswith(":memory:") else [opened(store_url), opened(store_url)]
    await stores[0].create(record())
    winners: list[str] = []

    def claim_as(node: str):
        def change(current: SessionRecord) -> SessionRecord:
            if current.status != SessionStatus.CREATED:
                raise PermissionError("token_used")
            return current.bump(status=SessionStatus.IN_PROGRESS, node_id=node, started_at=time.time())

        return change

    async def attempt(i: int) -> None:
        try:
            await update(stores[i % len(stores)], "s1", claim_as(f"node-{i}"))
            winners.append(f"node-{i}")
        except PermissionError:
            pass

    await asyncio.gather(*(attempt(i) for i in range(20)))
    assert len(winners) == 1
    stored = await stores[-1].get("s1")
    assert stored.node_id == winners[0] and stored.status == SessionStatus.IN_PROGRESS and stored.version == 1


async def test_transitions_are_checked(store_url, opened):
    store = opened(store_url)
    await store.create(record(status=SessionStatus.CREATED))
    with pytest.raises(InvalidTransition):
        await update(store, "s1", lambda r: r.bump(status=SessionStatus.SUCCEEDED))  # never ran
    await update(store, "s1", lambda r: r.bump(status=SessionStatus.IN_PROGRESS))
    done = await update(store, "s1", lambda r: r.bump(status=SessionStatus.FAILED, result={"alive": False}))
    assert done is not None and done.status == SessionStatus.FAILED
    for later in (SessionStatus.IN_PROGRESS, SessionStatus.SUCCEEDED, SessionStatus.CREATED, SessionStatus.FAILED):
        with pytest.raises(InvalidTransition):  # FAILED again with another result: a decision is final too
            await update(store, "s1", partial(SessionRecord.bump, status=later, result={"alive": True}))
    assert (await store.get("s1")).result == {"alive": False}
    assert await update(store, "missing", lambda r: r.bump()) is None


async def test_entries_are_purged_by_their_ttl(store_url, opened, clock):
    store = opened(store_url)
    now = time.time()
    await store.create(record("short", purge_at=now + 0.4))
    await store.create(record("long"))
    assert total(await store.counts(), SessionStatus.CREATED) == 2
    await let_pass(store_url, clock, 0.6)
    await store.purge()
    assert await store.get("short") is None and await store.get("long") is not None
    assert total(await store.counts(), SessionStatus.CREATED) == 1


async def test_in_progress_and_counts_follow_the_status(store_url, opened):
    store = opened(store_url)
    for name in ("a", "b", "c"):
        await store.create(record(name))
    for name in ("a", "b"):
        await update(store, name, lambda r: r.bump(status=SessionStatus.IN_PROGRESS, node_id="n1"))
    await update(store, "b", lambda r: r.bump(status=SessionStatus.SUCCEEDED))
    assert [r.id for r in await store.in_progress()] == ["a"]
    await store.create(record("demo-1", tenant="demo"))
    counts = await store.counts()
    mine = [
        counts[("integrator", s)] for s in (SessionStatus.CREATED, SessionStatus.IN_PROGRESS, SessionStatus.SUCCEEDED)
    ]
    assert (
        mine == [1, 1, 1]
        and counts[("demo", SessionStatus.CREATED)] == 1
        and counts[("demo", SessionStatus.FAILED)] == 0
    )
    assert total(counts, SessionStatus.CREATED) == 2


async def test_a_lapsed_heartbeat_makes_its_sessions_lost(store_url, opened, clock):
    store = opened(store_url)
    await store.beat("alive-node", 30)
    await store.beat("dying-node", 0.3)
    for name, node in (("a", "alive-node"), ("d", "dying-node")):
        await store.create(record(name))
        await update(store, name, partial(SessionRecord.bump, status=SessionStatus.IN_PROGRESS, node_id=node))
    assert await store.alive({"alive-node", "dying-node", "never-seen"}) == {"alive-node", "dying-node"}
    assert await lost_sessions(store) == []
    await let_pass(store_url, clock, 0.5)
    assert await store.alive({"alive-node", "dying-node"}) == {"alive-node"}
    assert [r.id for r in await lost_sessions(store)] == ["d"]


async def test_items_expire_and_are_shared(store_url, opened, clock):
    stores = [opened(store_url)] if store_url.endswith(":memory:") else [opened(store_url), opened(store_url)]
    await stores[0].put_item("detection", "k1", {"bbox": [1, 2], "normalized": "iVBOR"}, ttl_s=0.4)
    await stores[0].put_item("detection", "k2", {"n": 2}, ttl_s=30)
    assert await stores[-1].get_item("detection", "k1") == {"bbox": [1, 2], "normalized": "iVBOR"}
    assert await stores[-1].count_items("detection") == 2
    assert await stores[-1].get_item("other", "k1") is None
    await let_pass(store_url, clock, 0.6)
    assert await stores[-1].get_item("detection", "k1") is None
    assert await stores[-1].count_items("detection") == 1


async def test_rate_counter_is_one_window_across_connections(store_url, opened, clock):
    stores = [opened(store_url)] if store_url.endswith(":memory:") else [opened(store_url), opened(store_url)]
    allowed = [await stores[i % len(stores)].hit("facia:key", 3, window_s=0.8) for i in range(5)]
    assert allowed == [True, True, True, False, False]
    assert await stores[0].hit("facia:other", 3, window_s=0.8) is True  # per key
    await let_pass(store_url, clock, 1.0)
    assert await stores[-1].hit("facia:key", 3, window_s=0.8) is True


async def test_concurrent_hits_never_exceed_the_limit(store_url, opened):
    stores = [opened(store_url)] if store_url.endswith(":memory:") else [opened(store_url), opened(store_url)]
    results = await asyncio.gather(*(stores[i % len(stores)].hit("burst", 7, 60) for i in range(30)))
    assert sum(results) == 7


def ticket(client: str, key: str, rate_limit: int = 3, cap: int = 100, ttl_s: float = 180.0) -> Ticket:
    """The demo's shape: a one-minute window per client and a cap on open sessions."""
    return Ticket(
        rate_key=f"demo:{client}", rate_limit=rate_limit, window_s=60.0, kind="demo-open", key=key, cap=cap, ttl_s=ttl_s
    )


def two_connections(store_url: str, opened: Callable[[str], SessionStore]) -> list[SessionStore]:
    """What two nodes have: two store objects on one database (one for an in-memory database)."""
    return [opened(store_url)] if store_url.endswith(":memory:") else [opened(store_url), opened(store_url)]


async def footprint(store: SessionStore) -> int:
    """Entries the store holds for rate windows and items (rows, or Redis keys)."""
    if isinstance(store, RedisStore):
        return int(await store._redis.dbsize())
    assert isinstance(store, SqliteStore)
    return int(
        await store._run(
            lambda conn: conn.execute("SELECT (SELECT COUNT(*) FROM hits) + (SELECT COUNT(*) FROM items)").fetchone()[0]
        )
    )


async def test_admission_rate_is_one_window_across_connections(store_url, opened, clock):
    """A client alternating between two nodes gets the limit in total, not per node; a window, not a ban: it
    slides with the stores' clock (Redis too: the window is on the stores' clock, which the test moves)."""
    stores = two_connections(store_url, opened)
    answers = [await stores[i % len(stores)].admit(ticket("198.51.100.7", f"s{i}")) for i in range(5)]
    assert [a.refused for a in answers] == [None, None, None, Limit.RATE, Limit.RATE]
    assert all(0 < a.retry_after_s <= 60 for a in answers[3:])
    assert await stores[-1].count_items("demo-open") == 3  # refusals added no item
    assert (await stores[0].admit(ticket("198.51.100.8", "other"))).refused is None  # per client
    clock.advance(30)
    late = await stores[-1].admit(ticket("198.51.100.7", "s9"))
    assert late.refused == Limit.RATE and 29 <= late.retry_after_s <= 30.5  # when the oldest hit leaves
    clock.advance(31)
    assert await stores[0].admit(ticket("198.51.100.7", "s10")) == Admission()


async def test_admission_cap_is_shared_freed_by_drop_and_by_ttl(store_url, opened, clock):
    stores = two_connections(store_url, opened)
    answers = [
        await stores[i % len(stores)].admit(ticket(f"203.0.113.{i}", f"s{i}", cap=3, ttl_s=180)) for i in range(5)
    ]
    assert [a.refused for a in answers] == [None, None, None, Limit.CAP, Limit.CAP]
    assert await stores[0].count_items("demo-open") == 3
    await stores[-1].drop_item("demo-open", "s1")  # decided on the other node: its place is free
    assert (await stores[0].admit(ticket("203.0.113.3", "s3", cap=3))).refused is None  # refused before, not counted
    assert (await stores[-1].admit(ticket("203.0.113.4", "s4", cap=3))).refused == Limit.CAP
    clock.advance(181)  # nobody decided them: they stop counting when their hold lapses
    assert await stores[0].count_items("demo-open") == 0
    assert (await stores[-1].admit(ticket("203.0.113.4", "s4", cap=3))).refused is None


async def test_the_rate_is_checked_before_the_cap(store_url, opened):
    """A client over its rate is told when to come back (429), whatever the cap."""
    store = opened(store_url)
    assert (await store.admit(ticket("a", "s1", rate_limit=1, cap=1))).refused is None
    assert (await store.admit(ticket("a", "s2", rate_limit=1, cap=1))).refused == Limit.RATE
    assert (await store.admit(ticket("b", "s3", rate_limit=1, cap=1))).refused == Limit.CAP


async def test_concurrent_admissions_never_exceed_either_limit(store_url, opened):
    stores = two_connections(store_url, opened)
    many = await asyncio.gather(
        *(stores[i % len(stores)].admit(ticket(f"10.0.0.{i}", f"c{i}", cap=5)) for i in range(30))
    )
    assert sum(a.refused is None for a in many) == 5 and await stores[0].count_items("demo-open") == 5
    one = await asyncio.gather(
        *(stores[i % len(stores)].admit(ticket("10.9.9.9", f"r{i}", rate_limit=4, cap=1000)) for i in range(30))
    )
    assert sum(a.refused is None for a in one) == 4


async def test_refused_admissions_leave_nothing_behind(store_url, opened, clock):
    """Many addresses against a full demo: the store does not grow with them (only admissions write)."""
    store = opened(store_url)
    for i in range(3):
        await store.admit(ticket(f"192.0.2.{i}", f"s{i}", cap=3))
    before = await footprint(store)
    refused = [await store.admit(ticket(f"2001:db8:{i:x}::1", f"x{i}", cap=3)) for i in range(300)]
    assert {a.refused for a in refused} == {Limit.CAP}
    assert await footprint(store) == before
    if not store_url.startswith("redis"):  # SQLite: a client's hits and lapsed places go with the purge
        clock.advance(3601)
        await store.purge()
        assert await footprint(store) == 0


async def test_sqlite_survives_reopening_and_is_private(tmp_path: Path):
    path = tmp_path / "data" / "livecheck.db"
    first = open_store(f"sqlite:///{path}")
    await first.create(record(result=None))
    await update(first, "s1", lambda r: r.bump(status=SessionStatus.IN_PROGRESS))
    await update(first, "s1", lambda r: r.bump(status=SessionStatus.SUCCEEDED, result={"alive": True}))
    await first.close()
    second = open_store(f"sqlite:///{path}")
    got = await second.get("s1")
    assert got is not None and got.status == SessionStatus.SUCCEEDED and got.result == {"alive": True}
    await second.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


async def test_sqlite_file_of_an_earlier_schema_is_started_afresh(tmp_path: Path):
    """A data dir written by an earlier livecheck (here: a sessions table without `tenant`) must not leave the
    server unready (`store_unavailable`) forever: its short-lived sessions are dropped and the schema recreated."""
    import sqlite3

    path = tmp_path / "livecheck.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL)")
    old.execute("INSERT INTO sessions VALUES ('old', 'CREATED', '{}')")
    old.commit()
    old.close()
    store = open_store(f"sqlite:///{path}")
    await store.ping()
    assert await store.get("old") is None
    await store.create(record())
    assert (await store.get("s1")) is not None
    await store.close()
    reopened = open_store(f"sqlite:///{path}")
    assert (await reopened.get("s1")) is not None  # the current schema is kept, not dropped again
    await reopened.close()


@pytest.mark.parametrize(
    "url",
    ["postgres://x/y", "sqlite:///relative/path.db", "sqlite://", "mysql:///x", "redis://", "redis+cluster://h:1/2"],
)
def test_unknown_or_malformed_urls_are_refused(url):
    with pytest.raises(StoreError):
        open_store(url)


def test_default_url_is_under_the_per_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    store = open_store("")
    assert store.url == f"sqlite:///{tmp_path / 'livecheck' / 'livecheck.db'}"


def test_store_url_is_configured_typed_and_checked_at_start():
    from webapp.config import ConfigError, load_config

    config = load_config(None, {"LIVECHECK_STORE__URL": "redis://10.0.0.5:6379/2", "LIVECHECK_STORE__NODE_LOST_S": "8"})
    assert (config.store.url, config.store.node_lost_s) == ("redis://10.0.0.5:6379/2", 8.0)
    assert load_config(None, {}).store.url == ""  # the per-user SQLite file
    with pytest.raises(ConfigError) as bad:
        load_config(None, {"LIVECHECK_STORE__URL": "memcached://x", "LIVECHECK_STORE__HEARTBEAT_S": "9"})
    assert any(p.startswith("store.url:") for p in bad.value.problems)
    assert any(p.startswith("store.heartbeat-s:") for p in bad.value.problems)


async def test_an_unreachable_store_is_a_503_not_a_500(engine):
    """Redis down: integrator calls answer 503 store_unavailable (+ Retry-After) and /readyz says not ready, so a
    load balancer stops sending this node work; nothing hangs (connect timeout)."""
    from tests.support.api_support import CheckedClient
    from tests.support.servers import free_port
    from webapp.app import create_app
    from webapp.config import load_config

    config = load_config(None, {}, api_keys="k", store={"url": f"redis://127.0.0.1:{free_port()}/0"})
    client = CheckedClient(create_app(config, engine=engine))
    created = await client.post("/v1/sessions", json={}, headers={"Authorization": "Bearer k"})
    assert created.status_code == 503 and created.headers["Retry-After"]
    assert (await created.get_json())["error"]["code"] == "store_unavailable"
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and (await ready.get_json())["store"] is False


async def test_one_client_holds_only_its_share_of_the_cap(store_url, opened, clock):
    """A client within its rate may hold `share` places; dropping one (its session decided, on any node) frees it."""
    stores = two_connections(store_url, opened)

    def mine(key: str) -> Ticket:
        return replace(ticket("198.51.100.9", key, rate_limit=10, cap=4), share=2)

    answers = [await stores[i % len(stores)].admit(mine(f"m{i}")) for i in range(3)]
    assert [a.refused for a in answers] == [None, None, Limit.SHARE]
    assert (await stores[0].admit(replace(ticket("198.51.100.10", "o1", cap=4), share=2))).refused is None
    await stores[-1].drop_item("demo-open", "m0")
    assert (await stores[0].admit(mine("m3"))).refused is None
    assert await stores[0].count_items("demo-open") == 3


async def live_keys(store: RedisStore) -> dict[str, int]:
    """Every key still alive in Redis, with its size (members of an index, else 1)."""
    found: dict[str, int] = {}
    async for raw in store._redis.scan_iter(match=f"{redis_store.PREFIX}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else raw
        kind_raw = await store._redis.type(raw)
        kind = kind_raw.decode() if isinstance(kind_raw, bytes) else kind_raw
        if kind == "none":  # expired while scanning
            continue
        found[key] = int(await store._redis.zcard(raw)) if kind == "zset" else 1
    return found


async def test_a_thousand_expired_sessions_leave_nothing_behind(store_url, opened, clock):
    """Fill the store with 1,000 sessions (a token item each; half claimed and decided, so they move between
    status indexes), let them all expire, write one more: only that one's entries are left. Before: Redis kept
    every expired member in the token and status indexes, for ever."""
    store = opened(store_url)
    now, ttl = time.time(), 25.0  # Redis expires on real time: long enough to fill, then waited out

    async def one(i: int) -> None:
        created = replace(record(f"old{i}"), purge_at=now + ttl, expires_at=now + ttl)
        await store.create(created)
        await store.put_item("token", f"hash{i}", {"id": created.id}, now + ttl - time.time())
        if i % 2:
            claimed = created.bump(status=SessionStatus.IN_PROGRESS, node_id="n1")
            assert await store.swap(created, claimed)
            assert await store.swap(claimed, claimed.bump(status=SessionStatus.SUCCEEDED))

    for batch in range(0, 1000, 100):
        await asyncio.gather(*(one(i) for i in range(batch, batch + 100)))
    assert time.time() - now < ttl, "the fill took longer than the sessions live"
    await let_pass(store_url, clock, now + ttl + 0.5 - time.time())
    fresh = record("fresh")
    await store.create(fresh)
    await store.put_item("token", "fresh-hash", {"id": "fresh"}, 60.0)
    await store.purge()
    if isinstance(store, RedisStore):
        left = await live_keys(store)
        print(f"redis keys left after 1,000 expired sessions: {left}")
        assert all(size == 1 for size in left.values()), left  # every index holds the fresh session only
        assert len(left) == 6, left  # the session, its status and tenant indexes, tenants, the token and its index
    else:
        assert isinstance(store, SqliteStore)
        rows = await store._run(
            lambda conn: conn.execute(
                "SELECT (SELECT COUNT(*) FROM sessions) + (SELECT COUNT(*) FROM items)"
            ).fetchone()
        )
        assert rows[0] == 2, rows
    assert (await store.counts())[("integrator", SessionStatus.CREATED)] == 1


SCRIPT_CALL = re.compile(r"redis\.call\('(\w+)'(?:,\s*([^,)]+))?")
INDEX_CALL = re.compile(r"index_add\(([^,]+),")


def script_keys() -> dict[str, list[str]]:
    """What each Lua script of the Redis store passes as a key: the first argument of every redis.call but TIME's
    and of every index_add (whose own calls use its `key` parameter)."""
    scripts = {name: text for name, text in vars(redis_store).items() if name.isupper() and "redis.call" in str(text)}
    found: dict[str, list[str]] = {}
    for name, text in scripts.items():
        used = [arg.strip() for command, arg in SCRIPT_CALL.findall(text) if command != "TIME"]
        used += [arg.strip() for arg in INDEX_CALL.findall(text) if not arg.startswith("key")]
        found[name] = used
    return found


def test_every_redis_script_touches_only_the_keys_it_is_given() -> None:
    """Redis Cluster (and any proxy routing by key) requires a script to name every key it touches in KEYS. Before:
    the drop script built the client's index name from the item's value (`ARGV[2] .. item['by']`)."""
    found = script_keys()
    assert {"_CREATE", "_SWAP", "_PUT", "_DROP", "_HIT", "_ADMIT"} <= set(found)
    declared = re.compile(r"KEYS\[\d+\]|key")  # `key`: index_add's parameter, itself always given a KEYS[n]
    undeclared = {name: [k for k in keys if not declared.fullmatch(k)] for name, keys in found.items()}
    assert not any(undeclared.values()), undeclared


async def test_a_drop_touches_nothing_when_the_item_changed_hands(redis_server):
    """The drop script is given the client's index the caller read from the item; if the item names another client
    by the time the script runs, it touches nothing (the caller reads again), so no client's index is left holding
    a place, or loses one it still holds."""
    redis_server.flush()
    store = RedisStore(redis_server.url)
    try:
        ticket_a = replace(ticket("198.51.100.1", "s1", rate_limit=10, cap=4), share=2)
        assert (await store.admit(ticket_a)).refused is None
        index = f"{redis_store.PREFIX}items:demo-open"
        item = f"{redis_store.PREFIX}item:demo-open:s1"
        stale = await store._drop(keys=[item, index, f"{index}:by:198.51.100.2"], args=["s1", "198.51.100.2"])
        assert stale == 0 and await store.count_items("demo-open") == 1
        await store.drop_item("demo-open", "s1")
        assert await store.count_items("demo-open") == 0
        assert await store._redis.zcard(f"{index}:by:198.51.100.1") == 0  # the client's place is free
    finally:
        await store.close()
