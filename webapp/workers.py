"""Bounded worker pool: decoding and inference run on threads, never on the event loop.

At most `workers` jobs run and `queue` more wait; the next request is refused at once (Busy -> 503 with
Retry-After) instead of piling up without bound. Every wait is bounded too: a job that has not started within
`queue_wait_s` is withdrawn, and a request whose job is still running after `job_timeout_s` is answered 503
(the thread finishes its job and only then frees its slot), so no client ever waits until its connection drops.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """Every worker is busy and the waiting queue is full, or a bounded wait ran out."""

    def __init__(self, retry_after_s: int, message: str | None = None) -> None:
        super().__init__(message or f"All workers are busy; retry in {retry_after_s} s.")
        self.retry_after_s = retry_after_s


class WorkerPool:
    def __init__(
        self, workers: int, queue: int, *, queue_wait_s: float | None = None, job_timeout_s: float | None = None
    ) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("workers must be >= 1 and queue >= 0")
        self.workers = workers
        self.queue = queue
        self.queue_wait_s = queue_wait_s
        self.job_timeout_s = job_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="livecheck-worker")
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting (a job abandoned by its request still counts until it ends)
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
        """Runs fn(*args) on a worker thread; raises Busy at once when the pool and its queue are full, and
        when the job waits for a thread longer than queue_wait_s or runs longer than job_timeout_s."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise Busy(self.retry_after())
            self._admitted += 1
        loop = asyncio.get_running_loop()
        started = asyncio.Event()
        try:
            job: Future[T] = self._executor.submit(
                self._timed, fn, args, lambda: loop.call_soon_threadsafe(started.set)
            )
        except BaseException:
            self._leave(None)
            raise
        job.add_done_callback(self._leave)
        began = time.monotonic()
        if self.queue_wait_s is not None:
            try:
                await asyncio.wait_for(started.wait(), self.queue_wait_s)
            except TimeoutError:
                if job.cancel():
                    raise Busy(
                        self.retry_after(),
                        f"No worker became free within {self.queue_wait_s:g} s; retry in {self.retry_after()} s.",
                    ) from None
        remaining = None if self.job_timeout_s is None else max(0.0, self.job_timeout_s - (time.monotonic() - began))
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job)), remaining)
        except TimeoutError:
            if job.done() and not job.cancelled() and job.exception() is None:
                return job.result()
            raise Busy(
                self.retry_after(),
                f"The analysis did not finish within {self.job_timeout_s:g} s; retry in {self.retry_after()} s.",
            ) from None

    def _leave(self, _job: object) -> None:
        with self._lock:
            self._admitted -= 1

    def _timed(self, fn: Callable[..., T], args: tuple[object, ...], on_start: Callable[[], object]) -> T:
        try:
            on_start()
        except RuntimeError:  # the event loop is gone (shutdown): nobody waits for the start any more
            pass
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self._avg_job_s = 0.8 * self._avg_job_s + 0.2 * elapsed

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
