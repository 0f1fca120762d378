"""A real `livecheck serve` (Hypercorn) on a loopback port, for tests and benchmarks that attack it as a client
would: raw HTTP with a timeout, and the server process's memory (VmRSS / VmHWM from /proc, with the peak reset
through /proc/<pid>/clear_refs so each attack's growth is measured on its own)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from collections.abc import Mapping

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (connection closed or timed out)
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str = ""


class Server:
    """`python -m webapp.cli serve` in a subprocess; `cwd` is where a relative path in an upload would point."""

    def __init__(self, env: Mapping[str, str], cwd: Path | None = None, models_dir: Path | None = None) -> None:
        self.port = free_port()
        full_env = {**os.environ, "GLOG_minloglevel": "2", "PYTHONPATH": str(ROOT), **env}
        if models_dir is not None:
            full_env["LIVECHECK_MODELS"] = str(models_dir)
        self.stderr_path = Path(cwd or ROOT) / f".livecheck-serve-{self.port}.log" if cwd else None
        self._log: IO[bytes] | None = open(self.stderr_path, "wb") if self.stderr_path else None
        self.proc = subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--listen", f"127.0.0.1:{self.port}"],
                                     cwd=cwd or ROOT, env=full_env, stdout=subprocess.DEVNULL,
                                     stderr=self._log or subprocess.DEVNULL)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"livecheck serve exited {self.proc.returncode}: {self.log()[-2000:]}")
            if self.request("GET", "/healthz", timeout=5).status == 200:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"livecheck serve did not come up within {timeout_s:g} s")
            time.sleep(0.2)

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path and self.stderr_path.exists() else ""

    def request(self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None,
                timeout: float = 30.0) -> Reply:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body or None, headers=dict(headers or {}))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before the whole body was sent (e.g. 413) and closed: read that answer
            response = conn.getresponse()
            data = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                         time.monotonic() - started)
        except (OSError, http.client.HTTPException) as exc:
            return Reply(0, {}, b"", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def _status_kb(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def rss_mb(self) -> float:
        return self._status_kb("VmRSS") / 1024

    def peak_mb(self) -> float:
        """VmHWM: the most resident memory the server has had since the last `reset_peak()`."""
        return self._status_kb("VmHWM") / 1024

    def reset_peak(self) -> bool:
        """Sets VmHWM back to the current RSS (Linux clear_refs 5); False where the kernel does not allow it."""
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._log is not None:
            self._log.close()
