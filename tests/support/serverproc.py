"""A real `livecheck serve` (Hypercorn) on a loopback port, for tests and benchmarks that attack it as a client
would: raw HTTP with a timeout, and the server process's memory (VmRSS / VmHWM from /proc, with the peak reset
through /proc/<pid>/clear_refs so each attack's growth is measured on its own)."""

from __future__ import annotations

import http.client
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evaluation.local_server import ServeProcess, free_port


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (connection closed or timed out)
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str = ""


class Server:
    """A `livecheck serve` (evaluation.local_server) with a raw HTTP client and its memory figures; `cwd` is where
    a relative path in an upload would point (its log goes there too, else to a temporary file)."""

    def __init__(self, env: Mapping[str, str], cwd: Path | None = None, models_dir: Path | None = None) -> None:
        extra = {**env, **({"LIVECHECK_MODELS": str(models_dir)} if models_dir is not None else {})}
        port = free_port()
        log_path = (cwd / f".livecheck-serve-{port}.log") if cwd else Path(tempfile.mkdtemp()) / "serve.log"
        self.serve = ServeProcess.start(log_path, env=extra, port=port, cwd=cwd)
        self.port = self.serve.port
        self.proc = self.serve.process

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        self.serve.wait_ready(timeout_s)

    def log(self) -> str:
        return self.serve.tail(10_000_000)

    def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None, timeout: float = 30.0
    ) -> Reply:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body or None, headers=dict(headers or {}))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before the whole body was sent (e.g. 413) and closed: read that answer
            response = conn.getresponse()
            data = response.read()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, data, time.monotonic() - started
            )
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
        self.serve.stop(15)
