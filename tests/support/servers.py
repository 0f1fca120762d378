"""Real servers for the cluster tests: Debian's redis-server and nginx, and `livecheck serve` nodes, each started
on a free loopback port with its own temporary directory, and stopped by the fixture that started it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from evaluation.local_server import ServeError, ServeProcess, free_port
from realtime.status import SessionStatus
from tests.support.paths import MODELS_DIR

MODELS = str(MODELS_DIR)
REDIS_SERVER = shutil.which("redis-server")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, workdir: Path, *extra: str) -> Redis:
        assert REDIS_SERVER, "redis-server is not installed (make test installs Debian's redis-server)"
        port = free_port()
        log = workdir / f"redis-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(workdir),
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "yes",
                    *extra,
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        wait_port(port, process, log)
        return cls(port, process)

    def flush(self) -> None:
        import redis  # noqa: PLC0415 - only the tests that use a Redis server need the client

        client = redis.Redis(port=self.port)
        client.flushall()
        client.close()

    def stop(self) -> None:
        stop(self.process)


SLOTS = 16384


@dataclass
class RedisCluster:
    """A Redis Cluster of `shards` masters on loopback ports (no replicas), its slots split evenly, as an operator's
    managed cluster would route keys: a script whose keys hash to two slots is refused (CROSSSLOT)."""

    nodes: list[Redis]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @classmethod
    def start(cls, workdir: Path, shards: int = 3, timeout_s: float = 30) -> RedisCluster:
        import redis  # noqa: PLC0415 - only the tests that use a Redis server need the client

        buses = [free_port() for _ in range(shards)]  # the default bus port (port + 10000) may lie past 65535
        nodes = [
            Redis.start(
                workdir,
                *("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{i}.conf"),
                *("--cluster-port", str(bus)),
            )
            for i, bus in enumerate(buses)
        ]
        cluster = cls(nodes)
        clients = [redis.Redis(port=n.port) for n in nodes]
        try:
            for i, client in enumerate(clients):
                client.cluster("ADDSLOTSRANGE", i * SLOTS // shards, (i + 1) * SLOTS // shards - 1)
            for node, bus in zip(nodes[1:], buses[1:]):
                clients[0].cluster("MEET", "127.0.0.1", node.port, bus)
            deadline = time.monotonic() + timeout_s
            while not all(c.cluster("INFO").get("cluster_state") == "ok" for c in clients):
                if time.monotonic() > deadline:
                    cluster.stop()
                    raise RuntimeError("the Redis cluster never reached cluster_state:ok")
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()
        return cluster

    def flush(self) -> None:
        for node in self.nodes:
            node.flush()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@dataclass
class Node:
    """One `livecheck serve` process."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path
    api_key: str
    env: dict[str, str] = field(default_factory=dict)

    def api(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=timeout)

    def create_session(self, **body: Any) -> dict[str, Any]:
        with self.api() as client:
            res = client.post("/v1/sessions", json=body)
        assert res.status_code == 201, res.text
        return res.json()  # type: ignore[no-any-return]

    def session(self, session_id: str) -> dict[str, Any]:
        with self.api() as client:
            res = client.get(f"/v1/sessions/{session_id}")
        assert res.status_code == 200, res.text
        return res.json()  # type: ignore[no-any-return]

    def wait_status(self, session_id: str, statuses: tuple[str, ...], timeout_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body = self.session(session_id)
            if body["status"] in statuses or time.monotonic() > deadline:
                return body
            time.sleep(0.2)

    def wait_decided(self, session_id: str, timeout_s: float = 30) -> dict[str, Any]:
        return self.wait_status(session_id, tuple(s.value for s in SessionStatus if s.decided), timeout_s)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start_node(
    workdir: Path,
    name: str,
    store_url: str,
    api_key: str,
    *,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
    timeout_s: float = 120,
) -> Node:
    """Starts `livecheck serve` on a free loopback port (evaluation.local_server) and waits until /readyz is 200."""
    env = {
        "LIVECHECK_API_KEYS": api_key,
        "LIVECHECK_STORE__URL": store_url,
        "LIVECHECK_MODELS": MODELS,
        "LIVECHECK_REALTIME__ICE_HOST_ADDRESSES": "127.0.0.1",
        "LIVECHECK_SERVER__WORKERS": "1",
        "LIVECHECK_SERVER__LANDMARKERS": "2",
        **(extra_env or {}),
    }
    serve = ServeProcess.start(workdir / f"{name}.log", env=env, args=args, port=port, new_session=True)
    try:
        serve.wait_ready(timeout_s)
    except ServeError as exc:
        raise RuntimeError(f"{name}: {exc}") from None
    return Node(serve.url, serve.process, serve.log_path, api_key, serve.env)


NGINX_CONF = """
worker_processes 1;
user {user};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$request_method $uri $status $upstream_addr';
    access_log {dir}/access.log upstreams;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 16m;
    upstream livecheck {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://livecheck;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workdir: Path, upstreams: list[str]) -> Nginx:
        """Round-robin over `upstreams` (host:port), as docs/deploy.md configures it."""
        assert NGINX, "nginx is not installed (make test installs Debian's nginx)"
        port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server {u};" for u in upstreams)
        conf = workdir / "nginx.conf"
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")  # workers write temp files in workdir
        conf.write_text(NGINX_CONF.format(dir=workdir, servers=servers, port=port, user=user))
        log = workdir / "nginx.out"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [NGINX, "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"], stdout=sink, stderr=subprocess.STDOUT
            )
        wait_port(port, process, log)
        return cls(port, process, workdir)

    def upstreams_used(self) -> set[str]:
        """The upstream addresses nginx sent requests to (from its access log)."""
        log = self.workdir / "access.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return {line.split()[-1] for line in lines if line.split() and line.split()[-1] != "-"}

    def stop(self) -> None:
        stop(self.process)
