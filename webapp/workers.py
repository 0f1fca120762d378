"""Bounded worker pool: decoding and inference run on threads, never on the event loop.

At most `workers` jobs run and `queue` more wait; the next request is refused at once (Busy -> 503 with
Retry-After) instead of piling up without bound.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the waiting queue is full."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"All workers are busy; retry in {retry_after_s} s.")
        self.retry_after_s = retry_after_s


class WorkerPool:
    def __init__(self, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("workers must be >= 1 and queue >= 0")
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="livecheck-worker")
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting
        self._avg_job_s = 1.0  # moving average, for Retry-After

    @property
    def capacity(self) -> int:
        return self.workers + self.queue

    @property
    def in_flight(self) -> int:
        return self._admitted

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead of a new request, drained by all workers."""
        return max(1, math.ceil(self._avg_job_s * (self.queue + 1) / self.workers))

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Runs fn(*args) on a worker thread; raises Busy at once when the pool and its queue are full."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise Busy(self.retry_after())
            self._admitted += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._timed, fn, args)
        finally:
            with self._lock:
                self._admitted -= 1

    def _timed(self, fn: Callable[..., T], args: tuple[object, ...]) -> T:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self._avg_job_s = 0.8 * self._avg_job_s + 0.2 * elapsed

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
