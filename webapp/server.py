"""`livecheck serve`: config -> app -> Hypercorn. Bad config or models end the process with a clear message.

SIGTERM (or Ctrl-C) drains first: /readyz answers 503 at once, new offers are refused, running checks and uploads
finish (up to check-timeout-s), then the process exits 0. `--processes N` runs N such server processes sharing
one listening socket and the session store (see docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from models import ModelError
from webapp.app import create_app
from webapp.config import ConfigError, ServiceConfig, load_config
from webapp.huawei_auth import HuaweiAuth
from webapp.metrics import MULTIPROC_ENV
from webapp.services import services

EXIT_CONFIG = 2
LISTEN_FD = "LIVECHECK_LISTEN_FD"  # set by `serve --processes N` for its children: the shared listening socket
MAX_RESTARTS, RESTART_WINDOW_S = 5, 60.0  # `--processes N`: more restarts than this within the window stops them all


def hypercorn_config(config: ServiceConfig) -> HypercornConfig:
    hc = HypercornConfig()
    inherited = os.environ.get(LISTEN_FD)
    hc.bind = [f"fd://{int(inherited)}"] if inherited else [config.listen]
    hc.graceful_timeout = 5.0  # after the drain: requests still open get this long
    hc.accesslog = None
    hc.errorlog = "-"
    hc.keep_alive_timeout = config.server.keep_alive_timeout_s
    hc.read_timeout = max(1, math.ceil(config.server.read_timeout_s))  # Hypercorn wants whole seconds
    return hc


def keyless_surfaces(config: ServiceConfig) -> list[str]:
    """Every way in that needs no credential and is on, named with the setting that turns it off: the operator
    reads them in the start-up line (a reachable server is never silently open)."""
    found = []
    if config.server.demo:
        found.append("demo page and /demo/sessions ([server] demo = true)")
    for name, api in (("findface", config.findface), ("silent", config.silent)):
        if not api.require_key:
            found.append(f"{name} ([{name}] require-key = false)")
    if config.huawei.auth == HuaweiAuth.NONE:
        found.append('huawei ([huawei] auth = "none")')
    found.append("/metrics (always: let only your monitoring reach it)")
    return found


def serve(
    config_path: str | None = None, listen: str | None = None, models_dir: str | None = None, processes: int = 1
) -> int:
    try:
        config = load_config(config_path, listen=listen, models_dir=models_dir)
    except ConfigError as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if processes > 1:
        return supervise(config, processes, config_path, models_dir)
    early: list[int] = []  # a SIGTERM while the models load (a supervisor stopping a process it just started)
    for sig in (signal.SIGINT, signal.SIGTERM):  # is a stop asked for, not a death by the default action
        signal.signal(sig, lambda signum, _frame: early.append(signum))
    try:
        app = create_app(config)
    except (ModelError, ConfigError) as exc:
        print(f"livecheck: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    keyless = keyless_surfaces(config)
    print(
        f"livecheck: serving on http://{config.listen} ({config.server.workers} workers, "
        f"{len(config.api_keys)} API keys)" + (f"; WITHOUT API KEY: {'; '.join(keyless)}" if keyless else ""),
        file=sys.stderr,
    )

    lifecycle = services(app).lifecycle
    print(f"livecheck: node {lifecycle.node_id}, session store {services(app).store.url}", file=sys.stderr)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if early:
            stop.set()

        async def drained() -> None:
            await stop.wait()
            print(
                f"livecheck: draining node {lifecycle.node_id} (/readyz answers 503; running checks finish)",
                file=sys.stderr,
            )
            if not await lifecycle.drain(config.realtime.check_timeout_s):
                print("livecheck: check-timeout-s passed while draining; stopping the remaining work", file=sys.stderr)

        await hypercorn_serve(app, hypercorn_config(config), shutdown_trigger=drained)  # type: ignore[arg-type]

    asyncio.run(run())
    return 0


def supervise(config: ServiceConfig, processes: int, config_path: str | None, models_dir: str | None) -> int:
    """Runs `processes` server processes on one listening socket (the kernel spreads connections over them).
    Each is its own node (node id, heartbeat, WebRTC peers); they share sessions through the store, so the store
    must be one every process can open: SQLite (WAL) on this machine, or Redis. A process that dies is started
    again (its running checks are failed `node_lost` by the others' sweep), unless processes keep dying: more than
    `MAX_RESTARTS` in `RESTART_WINDOW_S` stops them all (exit 1; a broken config or store, not a crash, is the
    likely cause). SIGTERM/SIGINT are passed on; the exit status is 0 when every process drained and exited 0.
    They share one Prometheus multi-process directory (PROMETHEUS_MULTIPROC_DIR, a fresh temporary one unless set),
    so that /metrics counts every process's requests whichever process answers."""
    listener = _listen(config)
    if listener is None:
        return EXIT_CONFIG
    metrics_dir = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="livecheck-metrics-")
    command = [sys.executable, "-m", "webapp.cli", "serve", "--listen", config.listen]
    command += ["--config", config_path] if config_path else []
    command += ["--models", models_dir] if models_dir else []
    env = {**os.environ, LISTEN_FD: str(listener.fileno()), MULTIPROC_ENV: metrics_dir}
    try:
        return _Supervisor(lambda: subprocess.Popen(command, env=env, pass_fds=(listener.fileno(),))).run(
            processes, config.listen
        )
    finally:
        listener.close()
        if metrics_dir != os.environ.get(MULTIPROC_ENV):
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _listen(config: ServiceConfig) -> socket.socket | None:
    """The listening socket the processes inherit; None (after saying why) when it cannot be bound."""
    host, port = config.host_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        print(f"livecheck: cannot listen on {config.listen}: {exc}", file=sys.stderr)
        listener.close()
        return None
    listener.listen(1024)
    listener.set_inheritable(True)
    return listener


class _Supervisor:
    """The children of `supervise`: started, restarted when one dies (within the restart budget), signalled."""

    def __init__(self, spawn: Callable[[], subprocess.Popen[bytes]]) -> None:
        self.spawn = spawn
        self.children: list[subprocess.Popen[bytes]] = []
        self.stopping = False
        self.restarts: list[float] = []
        self.codes: dict[int, int] = {}  # child index -> exit status, once it is not restarted

    def forward(self, signum: int, _frame: object = None) -> None:
        self.stopping = True
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signum)

    def run(self, processes: int, listen: str) -> int:
        self.children = [self.spawn() for _ in range(processes)]
        pids = ", ".join(str(c.pid) for c in self.children)
        print(f"livecheck: {processes} server processes on http://{listen} (pids {pids})", file=sys.stderr)
        signal.signal(signal.SIGTERM, self.forward)
        signal.signal(signal.SIGINT, self.forward)
        while len(self.codes) < len(self.children):
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index = next((i for i, c in enumerate(self.children) if c.pid == pid), None)
            if index is not None:
                self.exited(index, os.waitstatus_to_exitcode(status))
        failed = [code for code in self.codes.values() if code != 0]
        return failed[0] if failed else 0

    def exited(self, index: int, code: int) -> None:
        """Child `index` exited with `code`: recorded when stopping or past the restart budget, else replaced."""
        pid = self.children[index].pid
        self.children[index].returncode = code
        if self.stopping:
            self.codes[index] = code
            return
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self.restarts) > MAX_RESTARTS:
            print(
                f"livecheck: server processes keep exiting ({len(self.restarts)} in {RESTART_WINDOW_S:g} s, last "
                f"pid {pid} with {code}); stopping",
                file=sys.stderr,
            )
            self.forward(signal.SIGTERM)
            self.codes[index] = code or 1
            return
        self.children[index] = self.spawn()
        print(
            f"livecheck: server process {pid} exited with {code}; started pid {self.children[index].pid} in its place",
            file=sys.stderr,
        )
