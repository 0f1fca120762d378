"""Real Redis servers for the store and cluster tests (tests/support/servers.py), one of each per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import REDIS_SERVER, Redis, RedisCluster


def _needs_redis() -> None:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make test installs it)")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """One redis-server on a loopback port."""
    _needs_redis()
    server = Redis.start(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """Three masters, the slots split among them: every script must keep its keys in one slot (before the hash
    tag, each script touching a session and an index failed with CROSSSLOT)."""
    _needs_redis()
    cluster = RedisCluster.start(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.stop()
