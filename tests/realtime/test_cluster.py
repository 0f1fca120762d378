"""Several `livecheck serve` nodes sharing one session store, against real servers: Debian's redis-server on a
loopback port, real node processes, real WebRTC from the Python client. Run in the loopback-only namespace:
    unshare -n sh -c 'ip link set lo up && .venv/bin/python -m pytest -q tests/realtime/test_cluster.py'
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_client

from realtime.client import FramesTrack, LiveClient, read_clip
from realtime.errors import SessionError
from realtime.modes import SessionMode
from realtime.peer import offer_host_addresses
from realtime.reasons import LiveReason
from realtime.registry import SessionOptions, SessionRegistry
from realtime.results import failed_result
from realtime.settings import RealtimeSettings, StoreSettings
from realtime.status import SessionStatus
from realtime.store import open_store
from tests.support.servers import Node, Redis, RedisCluster, free_port, start_node, stop
from tests.support.session_support import ShiftedClock
from webapp.app import create_app
from webapp.config import load_config
from webapp.server import MAX_RESTARTS
from webapp.sessions import registry
from webapp.signing import derived_key, verify

pytestmark = pytest.mark.webrtc
KEY = "cluster-test-key"
DEMO_ENV = {"LIVECHECK_REALTIME__DEMO_PER_CLIENT_PER_MINUTE": "3", "LIVECHECK_REALTIME__DEMO_MAX_OPEN": "5"}
D12_ACTIONS = ["turn_left", "turn_right", "open_mouth"]  # what d12.mp4 does, in order (MEDIA.md)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nodes")


@pytest.fixture(scope="module")
def pair(redis_server: Redis, workdir: Path) -> Iterator[tuple[Node, Node]]:
    """Nodes A and B on one Redis."""
    a = start_node(workdir, "a", redis_server.url, KEY, extra_env=DEMO_ENV)
    b = start_node(workdir, "b", redis_server.url, KEY, extra_env=DEMO_ENV)
    yield a, b
    for node in (a, b):
        stop(node.process)


@pytest.fixture(scope="module")
def cluster_pair(redis_cluster: RedisCluster, workdir: Path) -> Iterator[tuple[Node, Node]]:
    """Nodes C and D on a three-shard Redis Cluster (`redis+cluster://`)."""
    c = start_node(workdir, "c", redis_cluster.url, KEY)
    d = start_node(workdir, "d", redis_cluster.url, KEY)
    yield c, d
    for node in (c, d):
        stop(node.process)


@pytest.fixture(params=["redis", "redis-cluster"])
def nodes(request: pytest.FixtureRequest) -> tuple[Node, Node]:
    """Two nodes on one Redis server, or on a Redis Cluster."""
    return request.getfixturevalue("pair" if request.param == "redis" else "cluster_pair")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def d12(media: Path) -> tuple[list[Any], float]:
    return read_clip(str(media / "videos" / "d12.mp4"))


def offer_to(node: Node, session: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The SDP exchange of the Python client, through `node`'s HTTP offer endpoint."""

    async def post(sdp: str) -> dict[str, str]:
        async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
            res = await client.post(
                f"/v1/sessions/{session['session_id']}/offer",
                json={"sdp": sdp, "type": "offer"},
                headers={"Authorization": f"Bearer {session['client_token']}"},
            )
        assert res.status_code == 200, res.text
        return res.json()  # type: ignore[no-any-return]

    return post


def assert_signed(view: dict[str, Any]) -> dict[str, Any]:
    claims = verify(view["signed_result"], derived_key(KEY))
    canonical = json.dumps(view["result"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert claims["sub"] == view["session_id"] and claims["status"] == view["status"]
    assert claims["result_sha256"] == hashlib.sha256(canonical).hexdigest()
    return claims


async def run_live(node: Node, session: dict[str, Any], frames: list[Any], fps: float, timeout: float = 60) -> str:
    client = LiveClient(FramesTrack(frames, fps, lead_s=1.5))
    try:
        await client.connect(offer_to(node, session))
        run = await client.wait_result(timeout)
    finally:
        await client.close()
    return str(run.status)


async def test_session_created_on_a_is_checked_on_b_and_read_from_a(nodes, d12):
    a, b = nodes
    frames, fps = d12
    session = a.create_session(actions=D12_ACTIONS)
    assert b.session(session["session_id"])["status"] == "CREATED"  # any node reads any session
    shown = await run_live(b, session, frames, fps)
    view = a.wait_status(session["session_id"], ("SUCCEEDED", "FAILED"))
    # what B's client was shown is what A reads: B decided, wrote the result to Redis, A serves it signed
    assert view["status"] == shown and view["result"]["mode"] == "live", view
    assert [x["action"] for x in view["result"]["actions"]] == D12_ACTIONS
    assert assert_signed(view)["alive"] is (shown == "SUCCEEDED")
    assert assert_signed(b.session(session["session_id"]))["result_sha256"] == assert_signed(view)["result_sha256"]


async def test_ten_concurrent_offers_for_one_session_get_exactly_one_answer(nodes, d12):
    a, b = nodes
    frames, fps = d12
    session = a.create_session(actions=["nod"])
    clients = [LiveClient(FramesTrack(frames[:30], fps)) for _ in range(10)]
    offers = []
    for client in clients:
        offer = await client.pc.createOffer()
        await client.pc.setLocalDescription(offer)
        offers.append(client.pc.localDescription.sdp)

    async def send(i: int, sdp: str) -> httpx.Response:
        node = (a, b)[i % 2]
        async with httpx.AsyncClient(base_url=node.base, timeout=30) as http:
            return await http.post(
                f"/v1/sessions/{session['session_id']}/offer",
                json={"sdp": sdp, "type": "offer"},
                headers={"Authorization": f"Bearer {session['client_token']}"},
            )

    try:
        replies = await asyncio.gather(*(send(i, sdp) for i, sdp in enumerate(offers)))
    finally:
        for client in clients:
            await client.close()
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] + [409] * 9, [(r.status_code, r.text[:120]) for r in replies]
    assert all(r.json()["error"]["code"] == "token_used" for r in replies if r.status_code == 409)
    assert a.session(session["session_id"])["status"] == "IN_PROGRESS"


async def test_a_node_killed_mid_check_leaves_its_session_failed_node_lost(redis_server, pair, workdir, d12):
    a, _ = pair
    frames, fps = d12
    doomed = start_node(workdir, "doomed", redis_server.url, KEY)
    session = a.create_session(actions=["nod"])  # d12 never nods: the check runs until it is killed
    client = LiveClient(FramesTrack(frames, fps, lead_s=1.5))
    try:
        await client.connect(offer_to(doomed, session))
        await asyncio.wait_for(client.prompted.wait(), 30)
        assert a.session(session["session_id"])["status"] == "IN_PROGRESS"
        os.killpg(doomed.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        view = await asyncio.to_thread(a.wait_status, session["session_id"], ("SUCCEEDED", "FAILED"), 20)
        took = time.monotonic() - killed_at
    finally:
        await client.close()
        stop(doomed.process)
    assert view["status"] == "FAILED" and view["result"]["reasons"] == ["node_lost"], view
    assert took < 15, took
    assert_signed(view)


async def test_sigterm_during_a_check_lets_it_finish_then_exits_0(redis_server, pair, workdir, d12):
    a, _ = pair
    frames, fps = d12
    leaving = start_node(workdir, "leaving", redis_server.url, KEY)
    session = a.create_session(actions=D12_ACTIONS)
    other = a.create_session()
    client = LiveClient(FramesTrack(frames, fps, lead_s=1.5))
    readiness: list[int] = []
    try:
        await client.connect(offer_to(leaving, session))
        await asyncio.wait_for(client.prompted.wait(), 30)
        leaving.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=leaving.base, timeout=5) as http:
            readiness.append((await http.get("/readyz")).status_code)
            refused = await http.post(f"/v1/sessions/{other['session_id']}/offer", json={"sdp": "v=0", "type": "offer"})
        run = await client.wait_result(60)
    finally:
        await client.close()
    code = await asyncio.to_thread(leaving.process.wait, 60)
    assert readiness == [503]
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "server_draining"
    view = a.wait_status(session["session_id"], ("SUCCEEDED", "FAILED"))
    # the check ran to its own decision (all three actions judged), not cut short by the shutdown
    assert run.status == view["status"] and "server_shutdown" not in view["result"]["reasons"], view["result"]
    assert [x["action"] for x in view["result"]["actions"]] == D12_ACTIONS
    assert view["result"]["frames_analyzed"] > 0 and view["result"]["duration_s"] > 3
    assert code == 0, leaving.tail()


async def test_sqlite_result_survives_a_restart_with_its_signature(workdir, d12):
    frames, fps = d12
    url = f"sqlite:///{workdir / 'restart' / 'livecheck.db'}"
    node = start_node(workdir, "sqlite-1", url, KEY)
    try:
        session = node.create_session(actions=D12_ACTIONS)
        shown = await run_live(node, session, frames, fps)
        before = node.wait_status(session["session_id"], ("SUCCEEDED", "FAILED"))
        assert before["status"] == shown
    finally:
        assert stop(node.process) == 0
    again = start_node(workdir, "sqlite-2", url, KEY)
    try:
        after = again.session(session["session_id"])
    finally:
        stop(again.process)
    assert after["status"] == before["status"] and after["result"] == before["result"]
    assert assert_signed(after)["result_sha256"] == assert_signed(before)["result_sha256"]


# -- two nodes in one process, sharing one SQLite file (what `serve --processes 2` does) --------------------------


async def test_the_cluster_wide_cap_counts_checks_on_every_node(engine, d12, tmp_path):
    """[store] max-live-checks = 1: a check running on node A makes node B refuse the next offer, though B's own
    cap (max-sessions 2) has room."""
    frames, fps = d12
    url = f"sqlite:///{tmp_path / 'livecheck.db'}"
    settings = RealtimeSettings(ice_host_addresses=("127.0.0.1",), max_sessions=2)
    cluster = StoreSettings(max_live_checks=1)
    a = SessionRegistry(engine, settings, open_store(url), cluster=cluster, node_id="a")
    b = SessionRegistry(engine, settings, open_store(url), cluster=cluster, node_id="b")
    client = LiveClient(FramesTrack(frames, fps, lead_s=1.5))
    try:
        first, token = await a.create(SessionOptions(actions=("nod",)))
        await client.connect(lambda sdp: a.offer(first.id, token, sdp))
        second, second_token = await b.create(SessionOptions(actions=("nod",)))
        live, sdp = await _offer_sdp(frames[:1], fps)
        try:
            with pytest.raises(SessionError) as refused:
                await b.offer(second.id, second_token, sdp)
        finally:
            await live.close()
        assert (refused.value.code, refused.value.status) == ("too_many_sessions", 503)
        assert b.counts()["live"] == 0 and (await b.get(second.id)).status == "CREATED"  # nothing was taken
    finally:
        await client.close()
        for reg in (a, b):
            await reg.close()
            await reg.store.close()


async def _offer_sdp(frames: list[Any], fps: float) -> tuple[LiveClient, str]:
    live = LiveClient(FramesTrack(frames, fps))
    offer = await live.pc.createOffer()
    offer_host_addresses(live.pc, ("127.0.0.1",))
    await live.pc.setLocalDescription(offer)
    return live, live.pc.localDescription.sdp


async def test_each_step_of_a_recording_fallback_may_go_to_another_node(engine, media_bytes, tmp_path):
    """Start on A, the prompt from B, the state from A, the upload to B: the plan (with the time each prompt was
    issued) lives in the store, so the nodes agree; a second upload, to A, is token_used."""
    config = load_config(None, {}, api_keys=KEY, store={"url": f"sqlite:///{tmp_path / 'livecheck.db'}"})
    config = replace(config, realtime=replace(config.realtime, ice_host_addresses=("127.0.0.1",)))
    apps = [create_app(config, engine=engine) for _ in range(2)]
    clock = ShiftedClock()
    auth = {"Authorization": f"Bearer {KEY}"}
    async with apps[0].test_app() as app_a, apps[1].test_app() as app_b:
        a, b = app_a.test_client(), app_b.test_client()
        for app in apps:
            registry(app).clock = clock
        assert registry(apps[0]).node_id != registry(apps[1]).node_id
        body = await (
            await a.post("/v1/sessions", json={"actions": ["nod"], "recording_fallback": True}, headers=auth)
        ).get_json()
        token = {"Authorization": f"Bearer {body['client_token']}"}
        fallback = f"/v1/sessions/{body['session_id']}/fallback"
        start = await (await a.post(fallback, headers=token)).get_json()
        clock.advance(start["next_prompt_ms"] / 1000 + 0.1)
        prompt = await b.post(f"{fallback}/next", headers=token)
        assert prompt.status_code == 200 and (await prompt.get_json())["action"] == "nod"
        state = await (await a.get(fallback, headers=token)).get_json()
        assert state["issued"] == 1 and state["stop_at_ms"] is not None
        clock.advance((state["stop_at_ms"] - state["elapsed_ms"]) / 1000 + 0.5)
        with clock.stopped():
            done = await b.post(
                f"/v1/sessions/{body['session_id']}/recording",
                data=media_bytes("videos/d12.mp4"),
                headers={**token, "Content-Type": "video/mp4"},
            )
        assert done.status_code == 200, await done.get_json()
        again = await a.post(f"/v1/sessions/{body['session_id']}/recording", data=b"x", headers=token)
        assert again.status_code == 409 and (await again.get_json())["error"]["code"] == "token_used"
        view = await (await a.get(f"/v1/sessions/{body['session_id']}", headers=auth)).get_json()
        assert view["status"] == (await done.get_json())["status"] and view["result"]["mode"] == "recording"
        assert [x["action"] for x in view["result"]["actions"]] == ["nod"]  # judged against the prompt B issued


def test_processes_2_shares_one_port_and_one_store_and_drains_on_sigterm(workdir):
    """`serve --processes 2`: two nodes answer on one port (two node ids behind it), a session created through one
    is read through the other, and SIGTERM to the parent drains both and exits 0."""
    url = f"sqlite:///{workdir / 'processes' / 'livecheck.db'}"
    node = start_node(workdir, "processes-2", url, KEY, args=("--processes", "2"))
    try:
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:
            with httpx.Client(base_url=node.base, timeout=10) as fresh:  # a new connection each time
                ready = fresh.get("/readyz").json()
            if ready["status"] == "ready":
                seen.setdefault(ready["node"], ready["node"])
            time.sleep(0.1)
        assert len(seen) == 2, seen
        created = node.create_session()
        for _ in range(6):  # new connections land on either process: each reads the session
            assert node.session(created["session_id"])["status"] == "CREATED"
    finally:
        code = stop(node.process, 60)
    assert code == 0, node.tail()


def _children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(x) for x in text.split()}


def _nodes_behind(base: str, timeout_s: float = 60) -> set[str]:
    """Node ids answering /readyz on one port (new connections spread over the processes)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while len(seen) < 2 and time.monotonic() < deadline:
        with httpx.Client(base_url=base, timeout=10) as fresh:
            ready = fresh.get("/readyz").json()
        if ready["status"] == "ready":
            seen.add(ready["node"])
        time.sleep(0.1)
    return seen


def test_processes_2_restarts_a_process_that_dies(workdir):
    """kill -9 of one of `serve --processes 2`'s processes: the supervisor starts another in its place (a new node
    on the same port, sessions still readable), and SIGTERM afterwards still drains everything and exits 0."""
    url = f"sqlite:///{workdir / 'restart' / 'livecheck.db'}"
    node = start_node(workdir, "processes-restart", url, KEY, args=("--processes", "2"))
    try:
        before = _nodes_behind(node.base)
        assert len(before) == 2, before
        created = node.create_session()
        victims = _children(node.process.pid)
        assert len(victims) == 2, victims
        victim = min(victims)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            victim in _children(node.process.pid) or len(_children(node.process.pid)) < 2
        ):
            time.sleep(0.2)
        now = _children(node.process.pid)
        assert victim not in now and len(now) == 2, (victim, now, node.tail())
        after = _nodes_behind(node.base)
        assert len(after) == 2 and after != before, (before, after)  # a new node id took the dead one's place
        assert node.session(created["session_id"])["status"] == "CREATED"
        assert f"server process {victim} exited" in node.tail()
    finally:
        code = stop(node.process, 60)
    assert code == 0, node.tail()


def test_processes_that_keep_dying_stop_the_supervisor(workdir, tmp_path):
    """Children that cannot start (no models here) are restarted a bounded number of times, then the supervisor
    gives up with their exit status instead of restarting them forever."""
    port = free_port()
    env = {
        **os.environ,
        "LIVECHECK_MODELS": str(tmp_path / "no-models"),
        "LIVECHECK_API_KEYS": KEY,
        "LIVECHECK_STORE__URL": f"sqlite:///{tmp_path / 'livecheck.db'}",
        "GLOG_minloglevel": "2",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "serve", "--processes", "2", "--listen", f"127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "keep exiting" in result.stderr
    assert result.stderr.count("started pid") == MAX_RESTARTS, result.stderr[-3000:]
    assert time.monotonic() - started < 150


async def test_a_paused_node_cannot_overwrite_the_node_lost_decision(engine, d12, tmp_path):
    """Node A runs a check but stops heart-beating (paused: its sweep never runs); node B fails the session
    node_lost. When A's check then ends, A's own decision is discarded: a decided session never changes."""
    frames, fps = d12
    url = f"sqlite:///{tmp_path / 'livecheck.db'}"
    settings = RealtimeSettings(ice_host_addresses=("127.0.0.1",))
    cluster = StoreSettings(heartbeat_s=0.2, node_lost_s=0.6)
    clock = ShiftedClock()  # the stores' clock: A's heartbeat lapses without a sleep
    a = SessionRegistry(engine, settings, open_store(url, clock), cluster=cluster, node_id="a")  # never start()ed
    b = SessionRegistry(engine, settings, open_store(url, clock), cluster=cluster, node_id="b")
    client = LiveClient(FramesTrack(frames, fps, lead_s=1.5))
    try:
        await a.store.beat("a", cluster.node_lost_s)  # A's one and only heartbeat
        session, token = await a.create(SessionOptions(actions=("nod",)))
        await client.connect(lambda sdp: a.offer(session.id, token, sdp))
        await asyncio.wait_for(client.prompted.wait(), 30)
        assert (await b.get(session.id)).status == "IN_PROGRESS"
        clock.advance(cluster.node_lost_s + 0.2)
        await b.sweep()
        lost = await b.get(session.id)
        assert lost.status == "FAILED" and lost.result is not None and lost.result["reasons"] == ["node_lost"]
        await client.close()  # A's check ends now: it decides, too late
        for _ in range(200):
            if a.counts()["peers"] == 0:
                break
            await asyncio.sleep(0.05)
        assert a.counts()["peers"] == 0
        after = await b.get(session.id)
        assert (after.status, after.result, after.version) == (lost.status, lost.result, lost.version)
    finally:
        await client.close()
        for reg in (a, b):
            await reg.close()
            await reg.store.close()


# -- the keyless demo's quota is the cluster's --------------------------------------------------------------------


def demo_post(node: Node, source: str = "127.0.0.1", headers: dict[str, str] | None = None) -> httpx.Response:
    """POST /demo/sessions as the demo page does (Origin = the node), from the loopback address `source`."""
    with httpx.Client(base_url=node.base, timeout=30, transport=httpx.HTTPTransport(local_address=source)) as client:
        return client.post("/demo/sessions", json={}, headers={"Origin": node.base, **(headers or {})})


def test_demo_quota_holds_across_two_real_nodes_whatever_the_headers_say(pair):
    """Over real sockets, nodes A and B on one Redis (per client 3/min, 5 open): a script alternating between the
    nodes with a new X-Forwarded-For each time gets 3 sessions in all; then scripts from ten other addresses get
    the 2 open places left in all, not 5 per node."""
    a, b = pair
    per_client, max_open = (int(DEMO_ENV[k]) for k in DEMO_ENV)
    forged = [
        demo_post((a, b)[i % 2], headers={"X-Forwarded-For": f"192.0.2.{i}", "X-Real-IP": f"192.0.2.{i}"})
        for i in range(per_client + 3)
    ]
    assert [r.status_code for r in forged] == [200] * per_client + [429] * 3, [r.text[:100] for r in forged]
    assert all(
        r.json()["error"]["code"] == "demo_rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 60
        for r in forged[per_client:]
    )
    others = [demo_post((a, b)[i % 2], source=f"127.0.0.{20 + i}") for i in range(10)]
    assert sum(r.status_code == 200 for r in others) == max_open - per_client, [r.text[:100] for r in others]
    busy = [r for r in others if r.status_code != 200]
    assert all(r.status_code == 503 and r.json()["error"]["code"] == "demo_busy" for r in busy)
    created = [r.json()["session_id"] for r in forged + others if r.status_code == 200]
    assert len(set(created)) == max_open


# One client may hold every place here (the per-client share of places is tested in tests/security/test_security_server.py):
# these tests are about the rate window and the cluster-wide cap.
DEMO = RealtimeSettings(
    ice_host_addresses=("127.0.0.1",), demo_max_open=5, demo_max_open_per_client=5, demo_per_client_per_minute=3
)
ORIGIN = "https://demo.example"


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store for two nodes: a SQLite file, a Redis database of its own (the pair above uses db 0), or the
    Redis Cluster (emptied: its nodes above keep only their heartbeats there)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'livecheck.db'}"
    if request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        return cluster.url
    server: Redis = request.getfixturevalue("redis_server")
    direct = redis_client.Redis(port=server.port, db=5)
    direct.flushdb()
    direct.close()
    return f"redis://127.0.0.1:{server.port}/5"


@pytest.fixture
async def demo_nodes(engine, shared_url: str) -> AsyncIterator[tuple[SessionRegistry, SessionRegistry, ShiftedClock]]:
    """Nodes A and B on one store, each with its own store connection, on a clock the test moves."""
    clock = ShiftedClock()
    nodes = [SessionRegistry(engine, DEMO, open_store(shared_url, clock), node_id=name, clock=clock) for name in "ab"]
    yield nodes[0], nodes[1], clock
    for node in nodes:
        await node.close()
        await node.store.close()


async def demo_outcome(node: SessionRegistry, client: str) -> str:
    try:
        await node.create_demo(client, ORIGIN)
    except SessionError as exc:
        return f"{exc.status} {exc.code}"
    return "ok"


async def test_demo_rate_per_client_is_one_window_across_nodes(demo_nodes):
    a, b, clock = demo_nodes
    outcomes = [await demo_outcome((a, b)[i % 2], "198.51.100.7") for i in range(8)]
    assert outcomes == ["ok"] * 3 + ["429 demo_rate_limited"] * 5
    with pytest.raises(SessionError) as limited:
        await b.create_demo("198.51.100.7", ORIGIN)
    assert limited.value.retry_after_s is not None and 1 <= limited.value.retry_after_s <= 60
    assert await demo_outcome(a, "198.51.100.8") == "ok"  # another client has its own window
    clock.advance(61)  # a window, not a ban
    assert await demo_outcome(b, "198.51.100.7") == "ok"


async def test_demo_open_cap_holds_across_nodes_and_either_node_frees_a_place(demo_nodes):
    a, b, clock = demo_nodes
    made = []
    for i in range(10):
        node = (a, b)[i % 2]
        try:
            made.append((await node.create_demo(f"203.0.113.{i}", ORIGIN))[0])
        except SessionError as exc:
            assert (exc.status, exc.code, exc.retry_after_s) == (503, "demo_busy", 10)
    assert (
        len(made) == DEMO.demo_max_open
        and await a.demo_quota.open_sessions() == await b.demo_quota.open_sessions() == DEMO.demo_max_open
    )
    # a session created on A, claimed by A and decided by B: B frees the place, A may create again
    first = made[0]
    await a.book.claim(first.id)
    failed = failed_result(b.engine, SessionMode.LIVE, [LiveReason.CANCELLED])
    await b.book.decide(first.id, SessionStatus.FAILED, failed, lambda r: True)
    assert await demo_outcome(a, "203.0.113.100") == "ok"
    assert await demo_outcome(b, "203.0.113.101") == "503 demo_busy"
    # past its ttl a session expires as it is read (here by B, created on A): its place is free too
    clock.advance(DEMO.demo_ttl_s + 1)
    assert (await b.get(made[2].id)).status == SessionStatus.EXPIRED
    assert await b.demo_quota.open_sessions() == DEMO.demo_max_open - 1
    # sessions nobody reads stop counting once their ttl and one check have passed
    clock.advance(DEMO.check_timeout_s)
    assert await a.demo_quota.open_sessions() == 0


async def test_concurrent_demo_creations_on_two_nodes_take_exactly_the_open_places(demo_nodes):
    a, b, _ = demo_nodes
    outcomes = await asyncio.gather(*(demo_outcome((a, b)[i % 2], f"192.0.2.{i}") for i in range(16)))
    assert outcomes.count("ok") == DEMO.demo_max_open and outcomes.count("503 demo_busy") == 16 - DEMO.demo_max_open
    assert await a.demo_quota.open_sessions() == DEMO.demo_max_open
