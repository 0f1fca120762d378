"""Redis session store (redis-py's asyncio client): several processes or machines share sessions, heartbeats,
detections and rate-limit counters. Sessions are hashes with a TTL (PEXPIREAT); a write is one Lua script that
compares the version, so exactly one of several racing nodes wins. Indexes (sessions by status and by tenant and
status, items by kind, a client's places) are sorted sets scored by each member's expiry: every write prunes the
index it writes to and keeps the index key itself only as long as its last member (PEXPIREAT), so nothing a session
or an item left behind outlives it, and an index no one writes to again expires whole.

Redis Cluster (`redis+cluster://`, `rediss+cluster://`): every key carries one hash tag (`{livecheck}`), so all of
them live in one slot and each script stays one atomic step on one shard, as a cluster requires of a script's keys
(CROSSSLOT otherwise). A cluster then gives failover and a managed endpoint, not write scale-out: a session costs a
few small keys and a handful of writes, which one shard serves for far more sessions than the nodes can check."""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from realtime.status import SessionStatus
from realtime.store.base import Admission, Limit, StoreError, Ticket
from realtime.store.records import SessionRecord

PREFIX = "{livecheck}:"  # the hash tag: one slot for every key (see above)
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
T = TypeVar("T")
P = ParamSpec("P")

# An index member scored by its expiry (ms): the index is pruned of lapsed members and lives as long as its last.
_INDEX = """
local function index_add(key, at, member, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('ZADD', key, at, member)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, math.max(tonumber(last[2]), tonumber(at)))
end
"""

_CREATE = (
    _INDEX
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'status', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
index_add(KEYS[2], ARGV[4], ARGV[5], now)
index_add(KEYS[3], ARGV[4], ARGV[5], now)
redis.call('SADD', KEYS[4], ARGV[6])
return 1
"""
)

_SWAP = (
    _INDEX
    + """
local v = redis.call('HGET', KEYS[1], 'version')
if not v or tonumber(v) ~= tonumber(ARGV[1]) then return 0 end
local now = tonumber(ARGV[7])
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'status', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[6])
redis.call('ZREM', KEYS[4], ARGV[6])
index_add(KEYS[3], ARGV[5], ARGV[6], now)
index_add(KEYS[5], ARGV[5], ARGV[6], now)
return 1
"""
)

# KEYS: the item, its kind's index. ARGV: value, now (ms), expiry (ms), the item's key.
_PUT = (
    _INDEX
    + """
local now = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', math.max(1, tonumber(ARGV[3]) - now))
index_add(KEYS[2], ARGV[3], ARGV[4], now)
return 1
"""
)

# KEYS: the item, its kind's index, the index of the client that held it when the caller read it (Redis Cluster
# rule: a script touches only keys it is given, so the client's index, named in the item's value, is found by the
# caller first). ARGV: the item's key, that client ('' for none). Returns 0, nothing touched, when the item's client
# is no longer that one (it was put again meanwhile: the caller reads it again), else 1.
_DROP = """
local v = redis.call('GET', KEYS[1])
local by = ''
if v then
  local ok, item = pcall(cjson.decode, v)
  if ok and type(item) == 'table' and type(item['by']) == 'string' then by = item['by'] end
end
if by ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if by ~= '' then redis.call('ZREM', KEYS[3], ARGV[1]) end
return 1
"""
DROP_ATTEMPTS = 8  # each lost only to a put of the same item in between: more in a row is a store in trouble

_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""

# KEYS: the client's hits, the kind's item index, the new item, the client's own index of the kind. ARGV: now (ms),
# window (ms), rate limit, cap, the item's expiry (ms), its key, a nonce, the client's share (0: none), the item's
# value. Returns {0} admitted, {1, ms until the oldest hit leaves}, {2} (cap) or {3} (the client's share).
_ADMIT = (
    _INDEX
    + """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = window
  if oldest[2] then wait = tonumber(oldest[2]) + window - now end
  return {1, math.max(0, math.ceil(wait))}
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if tonumber(ARGV[8]) > 0 and redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[8]) then return {3, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {2, 0} end
redis.call('ZADD', KEYS[1], now, ARGV[7])
redis.call('PEXPIRE', KEYS[1], math.max(1, window))
index_add(KEYS[2], ARGV[5], ARGV[6], now)
index_add(KEYS[4], ARGV[5], ARGV[6], now)
redis.call('SET', KEYS[3], ARGV[9], 'PX', math.max(1, tonumber(ARGV[5]) - now))
return {0, 0}
"""
)


def _guarded(
    method: Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, T]]:
    """Redis down or timing out is the store being unavailable (503 store_unavailable), never a 500."""

    @functools.wraps(method)
    async def call(store: RedisStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            await store._started()
            return await method(store, *args, **kwargs)
        except RedisError as exc:
            raise StoreError(f"session store unavailable: {type(exc).__name__}: {exc}") from exc

    return call


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _holder(body: bytes | str | None) -> str:
    """The client an item's value names (`by`, written by admit), '' for none: what _DROP compares."""
    try:
        item = json.loads(body) if body is not None else None
    except ValueError:
        return ""
    return item["by"] if isinstance(item, dict) and isinstance(item.get("by"), str) else ""


def _client(url: str) -> aioredis.Redis:
    """A client for one server, or for a cluster (its `+cluster` scheme: the client follows the slot map)."""
    if url.startswith(CLUSTER_SCHEMES):
        plain = url.replace("+cluster://", "://", 1)
        cluster = aioredis.RedisCluster.from_url(plain, socket_timeout=10, socket_connect_timeout=5)
        return cluster  # type: ignore[return-value]  # the same commands, scripts and pipelines the store uses
    return aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def redacted(url: str) -> str:
    """The URL without a password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisStore:
    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        self.url = redacted(url)
        self._clock = clock
        self._redis = _client(url)
        self._unstarted = url.startswith(CLUSTER_SCHEMES)
        self._starting = asyncio.Lock()
        self._create = self._redis.register_script(_CREATE)
        self._swap = self._redis.register_script(_SWAP)
        self._hit = self._redis.register_script(_HIT)
        self._admit = self._redis.register_script(_ADMIT)
        self._put = self._redis.register_script(_PUT)
        self._drop = self._redis.register_script(_DROP)

    async def _started(self) -> None:
        """A cluster client reads the slot map once, before any command: redis-py 8.1 lets the first commands of a
        burst race its lazy start and fail (AttributeError on a connection it closed meanwhile)."""
        if self._unstarted:
            async with self._starting:
                if self._unstarted:
                    await self._redis.initialize()  # type: ignore[attr-defined]  # RedisCluster's
                    self._unstarted = False

    @staticmethod
    def _key(session_id: str) -> str:
        return f"{PREFIX}s:{session_id}"

    @staticmethod
    def _index(status: SessionStatus) -> str:
        """Every session in `status` (for the sweeps)."""
        return f"{PREFIX}status:{status}"

    @staticmethod
    def _tenant_index(tenant: str, status: SessionStatus) -> str:
        """Sessions of one tenant in `status` (for the counts)."""
        return f"{PREFIX}count:{tenant}:{status}"

    # -- sessions ------------------------------------------------------------------------------------------------

    @_guarded
    async def create(self, record: SessionRecord) -> None:
        created = await self._create(
            keys=[
                self._key(record.id),
                self._index(record.status),
                self._tenant_index(record.tenant, record.status),
                f"{PREFIX}tenants",
            ],
            args=[
                record.version,
                str(record.status),
                record.to_json(),
                _ms(record.purge_at),
                record.id,
                record.tenant,
                _ms(self._clock()),
            ],
        )
        if not created:
            raise ValueError(f"session {record.id} exists")

    @_guarded
    async def get(self, session_id: str) -> SessionRecord | None:
        body = await self._redis.hget(self._key(session_id), "body")
        return None if body is None else SessionRecord.from_json(body)

    @_guarded
    async def swap(self, old: SessionRecord, new: SessionRecord) -> bool:
        done = await self._swap(
            keys=[
                self._key(old.id),
                self._index(old.status),
                self._index(new.status),
                self._tenant_index(old.tenant, old.status),
                self._tenant_index(new.tenant, new.status),
            ],
            args=[
                old.version,
                new.version,
                str(new.status),
                new.to_json(),
                _ms(new.purge_at),
                old.id,
                _ms(self._clock()),
            ],
        )
        return bool(done)

    async def _members(self, status: SessionStatus) -> list[str]:
        index = self._index(status)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(index, "-inf", _ms(self._clock()))
            pipe.zrange(index, 0, -1)
            _, members = await pipe.execute()
        return [m.decode() for m in members]

    @_guarded
    async def in_progress(self) -> list[SessionRecord]:
        members = await self._members(SessionStatus.IN_PROGRESS)
        if not members:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in members:
                pipe.hget(self._key(session_id), "body")
            bodies = await pipe.execute()
        records = [SessionRecord.from_json(b) for b in bodies if b is not None]
        return [r for r in records if r.status == SessionStatus.IN_PROGRESS]

    @_guarded
    async def counts(self) -> dict[tuple[str, SessionStatus], int]:
        now = _ms(self._clock())
        tenants = sorted(t.decode() for t in await self._redis.smembers(f"{PREFIX}tenants"))  # type: ignore[union-attr]  # bytes: no decode_responses
        keys = [(t, status) for t in tenants for status in SessionStatus]
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant, status in keys:
                pipe.zremrangebyscore(self._tenant_index(tenant, status), "-inf", now)
                pipe.zcard(self._tenant_index(tenant, status))
            replies = await pipe.execute()
        return {key: int(replies[2 * i + 1]) for i, key in enumerate(keys)}

    async def purge(self) -> int:
        return 0  # keys expire by themselves (PEXPIREAT); indexes are pruned when read

    # -- nodes ---------------------------------------------------------------------------------------------------

    @_guarded
    async def beat(self, node_id: str, ttl_s: float) -> None:
        await self._redis.set(f"{PREFIX}node:{node_id}", "1", px=max(1, _ms(ttl_s)))

    @_guarded
    async def alive(self, node_ids: set[str]) -> set[str]:
        """Decided by the keys' TTL on the Redis server: the nodes' clocks do not need to agree."""
        ordered = sorted(node_ids)
        if not ordered:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for node_id in ordered:
                pipe.exists(f"{PREFIX}node:{node_id}")
            found = await pipe.execute()
        return {n for n, exists in zip(ordered, found) if exists}

    # -- items and counters --------------------------------------------------------------------------------------

    @_guarded
    async def put_item(self, kind: str, key: str, value: dict[str, Any], ttl_s: float) -> None:
        now = self._clock()
        await self._put(
            keys=[f"{PREFIX}item:{kind}:{key}", f"{PREFIX}items:{kind}"],
            args=[json.dumps(value, separators=(",", ":")), _ms(now), _ms(now + ttl_s), key],
        )

    @_guarded
    async def get_item(self, kind: str, key: str) -> dict[str, Any] | None:
        body = await self._redis.get(f"{PREFIX}item:{kind}:{key}")
        return None if body is None else dict(json.loads(body))

    @_guarded
    async def count_items(self, kind: str) -> int:
        index = f"{PREFIX}items:{kind}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(index, "-inf", _ms(self._clock()))
            pipe.zcard(index)
            _, count = await pipe.execute()
        return int(count)

    @_guarded
    async def drop_item(self, kind: str, key: str) -> None:
        """The item, its place in its kind's index and in its client's (the one its value names)."""
        item, index = f"{PREFIX}item:{kind}:{key}", f"{PREFIX}items:{kind}"
        for _ in range(DROP_ATTEMPTS):
            by = _holder(await self._redis.get(item))
            if await self._drop(keys=[item, index, f"{index}:by:{by}"], args=[key, by]):
                return
        raise StoreError(f"session store unavailable: item {kind} kept changing while it was dropped")

    @_guarded
    async def admit(self, ticket: Ticket) -> Admission:
        """One Lua script: Redis runs it alone, so two nodes never both take the last place. Times are the
        store's clock (the items' expiry, like put_item's); the client's window key expires by itself."""
        now = _ms(self._clock())
        reply = await self._admit(
            keys=[
                f"{PREFIX}hits:{ticket.rate_key}",
                f"{PREFIX}items:{ticket.kind}",
                f"{PREFIX}item:{ticket.kind}:{ticket.key}",
                f"{PREFIX}items:{ticket.kind}:by:{ticket.rate_key}",
            ],
            args=[
                now,
                _ms(ticket.window_s),
                ticket.rate_limit,
                ticket.cap,
                now + _ms(ticket.ttl_s),
                ticket.key,
                secrets.token_hex(8),
                ticket.share,
                json.dumps({"by": ticket.rate_key}, separators=(",", ":")),
            ],
        )
        outcome = int(reply[0])
        if outcome == 1:
            return Admission(Limit.RATE, int(reply[1]) / 1000)
        return {2: Admission(Limit.CAP), 3: Admission(Limit.SHARE)}.get(outcome, Admission())

    @_guarded
    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        """Times come from the Redis server (TIME), so nodes with skewed clocks share one window."""
        allowed = await self._hit(keys=[f"{PREFIX}hits:{key}"], args=[limit, _ms(window_s), secrets.token_hex(8)])
        return bool(allowed)

    @_guarded
    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
