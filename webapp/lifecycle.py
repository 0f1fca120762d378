"""The process's own lifecycle: its node id in the cluster, and graceful shutdown.

On SIGTERM the node drains: /readyz answers 503 at once (a load balancer stops sending it work), new offers and
fallback claims are refused (503 `server_draining`), and the server waits until running checks, uploads and
analyses are done (up to check-timeout-s) before it stops and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def new_node_id() -> str:
    """Unique per process start: a restarted node is a new node (its predecessor's checks are node_lost)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class Lifecycle:
    node_id: str = field(default_factory=new_node_id)
    draining: bool = False
    requests: int = 0  # HTTP requests being handled right now (uploads included)
    _probes: list[Callable[[], int]] = field(default_factory=list)

    def add_probe(self, busy: Callable[[], int]) -> None:
        """Another source of work the drain waits for (the session registry's running checks, say)."""
        self._probes.append(busy)

    def busy(self) -> int:
        return self.requests + sum(probe() for probe in self._probes)

    async def drain(self, timeout_s: float, poll_s: float = 0.1) -> bool:
        """Refuses new work from now on and waits until nothing is busy; False if timeout_s passed first."""
        self.draining = True
        deadline = time.monotonic() + timeout_s
        while self.busy() > 0:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll_s)
        return True
