"""A real `livecheck serve` in a subprocess on a loopback port: what `livecheck eval --live`, the tests, the
end-to-end tests and the benchmarks talk to as a client would. One way to start, wait for and stop it, so a
change to how the server starts is made once."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ServeError(RuntimeError):
    """The server exited or did not become ready; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(port: int, path: str, timeout_s: float = 5.0) -> int:
    """GET 127.0.0.1:port/path -> status, 0 when nothing answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


@dataclass
class ServeProcess:
    """`python -m webapp.cli serve --listen 127.0.0.1:PORT ARGS...`, its stdout and stderr in `log_path`."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
        cwd: Path | None = None,
        new_session: bool = False,
    ) -> ServeProcess:
        """`env` is added to this process's environment (native logging quiet unless it says otherwise);
        `new_session` puts the server in a process group of its own (signals to the test runner's group miss it)."""
        port = port or free_port()
        full_env = {**os.environ, "GLOG_minloglevel": "2", **(env or {})}
        command = [sys.executable, "-m", "webapp.cli", "serve", "--listen", f"127.0.0.1:{port}", *args]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as sink:
            process = subprocess.Popen(
                command,
                cwd=cwd or ROOT,
                env=full_env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=new_session,
            )
        return cls(port, process, log_path, full_env)

    def wait_ready(self, timeout_s: float = 120.0, path: str = "/readyz") -> None:
        """Until `path` answers 200. Raises ServeError (the server killed) if it exits or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise ServeError(f"livecheck serve exited with {self.process.returncode}:\n{self.tail()}")
            if http_status(self.port, path, timeout_s=2.0) == 200:
                return
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise ServeError(f"livecheck serve did not become ready within {timeout_s:g} s:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM (the server drains), then SIGKILL after `timeout_s`; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)
