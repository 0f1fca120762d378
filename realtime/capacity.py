"""Admission control of live checks: a node starts a check only while it can hold every running one at the
guaranteed rate (issue 22).

What a check costs is measured, not assumed: every analyzed frame reports how long it held a frame worker
(`FrameMeter.add`, wall time: contention with everything else on the machine shows up in it), and the process's
CPU time beyond the frame workers (the event loop, RTP, VP8 decoding of every received frame) is spread over the
running checks. A check needs `guaranteed_fps` frames a second, so it takes
    demand = guaranteed_fps * frame_s / workers + overhead_s
of the node (as a fraction of this process's frame workers); the node holds
    capacity = max(1, floor(admit_utilisation / demand))
checks (one at least: with nothing running there is nobody to protect). A new check is admitted while running + starting < capacity and every running check that has been
analyzing for a while still reaches the guaranteed rate, or the rate its camera delivers when that is lower (a
node already falling behind takes nobody).

`admit_frame_ms` > 0 replaces the measured frame cost by a fixed one and ignores the overhead: a deterministic
capacity (tests force saturation with it; an operator can pin a node's capacity).
"""

from __future__ import annotations

import math
import resource
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

BUSY = "busy"  # the error code: the same `busy` (503 + Retry-After) as the REST APIs' full worker pool
EWMA_ALPHA = 0.05  # per frame: ~20 frames of memory (two seconds of one check at 10 fps)
PRIOR_FRAME_S = 0.012  # before any frame was measured: landmarks + a third of anti-spoof + decode (issue 22)
OVERHEAD_WINDOW_S = 5.0  # the process CPU rate is taken over this long
RATE_GRACE_S = 2.0  # a check's own rate is judged only after it analyzed this long
RATE_SLACK = 0.9  # ... and counts as falling behind below this fraction of the guaranteed rate
DEFAULT_CHECK_S = 15.0  # Retry-After before any check ended here
MAX_RETRY_AFTER_S = 30


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Headroom:
    """What /readyz and /metrics show: checks this node holds at the guaranteed rate, running (or starting) now,
    and the figures behind them."""

    capacity: int
    running: int
    frame_ms: float  # measured (or fixed) frame-worker time per analyzed frame
    overhead: float  # fraction of the frame workers one check takes outside them (event loop, decoding)
    behind: int  # running checks below the guaranteed rate
    workers: int
    guaranteed_fps: float

    @property
    def free(self) -> int:
        """New checks this node admits now (0 while any running check falls behind)."""
        return 0 if self.behind else max(0, self.capacity - self.running)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "capacity": self.capacity,
            "running": self.running,
            "headroom": self.free,
            "behind": self.behind,
            "frame_ms": round(self.frame_ms, 2),
            "guaranteed_fps": self.guaranteed_fps,
            "frame_workers": self.workers,
        }


class FrameMeter:
    """Per-frame worker time (EWMA) and the process's CPU beyond it; thread-safe (frames report from workers)."""

    def __init__(self, cpu_clock: Callable[[], float] = _process_cpu_s, clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._frame_s = PRIOR_FRAME_S
        self._measured = 0
        self._cpu_clock, self._clock = cpu_clock, clock
        self._window_start = clock()
        self._window_cpu = cpu_clock()
        self._window_busy = 0.0  # frame-worker seconds in the current window
        self._overhead_s = 0.0  # per check, CPU-seconds a second outside the frame workers (EWMA of windows)
        self._overhead_windows = 0

    def add(self, seconds: float) -> None:
        with self._lock:
            self._measured += 1
            alpha = max(EWMA_ALPHA, 1.0 / self._measured)  # the first frames set it; later ones move it slowly
            self._frame_s += alpha * (seconds - self._frame_s)
            self._window_busy += seconds

    @property
    def frame_s(self) -> float:
        with self._lock:
            return self._frame_s

    def overhead_s(self, running: int) -> float:
        """CPU-seconds per second one check costs outside the frame workers, refreshed every OVERHEAD_WINDOW_S
        from the process's CPU time (what the frame workers spent is taken out)."""
        now = self._clock()
        with self._lock:
            elapsed = now - self._window_start
            if elapsed >= OVERHEAD_WINDOW_S:
                cpu = self._cpu_clock()
                if running > 0:
                    outside = max(0.0, (cpu - self._window_cpu) - self._window_busy) / elapsed / running
                    weight = 0.5 if self._overhead_windows else 1.0  # the first window sets it
                    self._overhead_s += weight * (outside - self._overhead_s)
                    self._overhead_windows += 1
                self._window_start, self._window_cpu, self._window_busy = now, cpu, 0.0
            return self._overhead_s


@dataclass(frozen=True)
class CheckRate:
    """One running check's figures the admission needs."""

    analyzing_s: float  # how long it has been analyzing frames
    recent_fps: float  # analyzed frames a second over its last few seconds
    offered_fps: float = float("inf")  # frames its camera delivered a second, over the same stretch

    def behind(self, guaranteed_fps: float) -> bool:
        """Below the guaranteed rate by the node's fault: a camera that delivers fewer frames (low light, a slow
        phone, a stalled network) sets its own, lower target."""
        target = min(guaranteed_fps, self.offered_fps)
        return self.analyzing_s >= RATE_GRACE_S and self.recent_fps < RATE_SLACK * target


class Admission:
    """The node's admission rule (see the module docstring); `headroom` is cheap (no await, no lock held long)."""

    def __init__(
        self,
        meter: FrameMeter,
        workers: int,
        guaranteed_fps: float,
        utilisation: float,
        fixed_frame_ms: float = 0.0,
    ) -> None:
        self.meter = meter
        self.workers = max(1, workers)
        self.guaranteed_fps = guaranteed_fps
        self.utilisation = utilisation
        self.fixed_frame_s = fixed_frame_ms / 1000.0
        self._durations: deque[float] = deque(maxlen=32)  # of checks that ended here, seconds

    def headroom(self, running: int, rates: Iterable[CheckRate]) -> Headroom:
        if self.fixed_frame_s > 0:
            frame_s, overhead = self.fixed_frame_s, 0.0
        else:
            frame_s = self.meter.frame_s
            overhead = self.meter.overhead_s(running) / self.workers
        demand = self.guaranteed_fps * frame_s / self.workers + overhead
        # At least one: with nothing running there is no check to protect, and refusing the only one helps nobody.
        capacity = max(1, int(math.floor(self.utilisation / demand + 1e-9))) if demand > 0 else 1
        behind = sum(1 for r in rates if r.behind(self.guaranteed_fps))
        return Headroom(capacity, running, frame_s * 1000, overhead, behind, self.workers, self.guaranteed_fps)

    def ended(self, duration_s: float) -> None:
        """A check that ran here ended after `duration_s` (for Retry-After)."""
        self._durations.append(duration_s)

    def retry_after_s(self, oldest_running_s: float) -> int:
        """Seconds until a place is likely free: a typical check's length less the oldest running check's age."""
        typical = sum(self._durations) / len(self._durations) if self._durations else DEFAULT_CHECK_S
        return max(1, min(MAX_RETRY_AFTER_S, math.ceil(typical - oldest_running_s)))
