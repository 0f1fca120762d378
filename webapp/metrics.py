"""Prometheus text exposition without a client library: counters and fixed-bucket histograms.

Labels: requests and latency by endpoint (the route rule, never the raw path) and status; verdicts by
endpoint and outcome; inference time by model stage (landmarks, antispoof, embedding, decode, ...).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# name -> {labels: value}; a feature's live figures (the session registry's, say), read at each scrape
LabeledGauges = dict[str, dict[tuple[tuple[str, str], ...], float]]

LATENCY_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STAGE_BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class _Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.n += 1


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    escaped = (f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in pairs)
    return "{" + ",".join(escaped) + "}"


class Metrics:
    """Thread-safe; one instance per app (on the services object)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[tuple[str, str], ...], int] = {}
        self._latency: dict[tuple[tuple[str, str], ...], _Histogram] = {}
        self._verdicts: dict[tuple[tuple[str, str], ...], int] = {}
        self._stages: dict[tuple[tuple[str, str], ...], _Histogram] = {}
        self._busy = 0
        self._gauge_sources: dict[str, Callable[[], LabeledGauges]] = {}
        self._refreshers: dict[str, Callable[[], Awaitable[None]]] = {}

    def add_gauges(
        self, name: str, source: Callable[[], LabeledGauges], refresh: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """`source()` is called at each scrape (on the event loop) for labelled gauges; `refresh()`, when given,
        is awaited first (figures read from the session store, say)."""
        with self._lock:
            self._gauge_sources[name] = source
            if refresh is not None:
                self._refreshers[name] = refresh

    def remove_gauges(self, name: str) -> None:
        with self._lock:
            self._gauge_sources.pop(name, None)
            self._refreshers.pop(name, None)

    async def refresh(self) -> None:
        """Awaits every gauge source's refresh (before a scrape renders)."""
        with self._lock:
            refreshers = list(self._refreshers.values())
        for refresh in refreshers:
            await refresh()

    def request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (("endpoint", endpoint), ("method", method), ("status", str(status)))
            self._requests[key] = self._requests.get(key, 0) + 1
            lkey = (("endpoint", endpoint),)
            self._latency.setdefault(lkey, _Histogram(LATENCY_BUCKETS_S)).observe(seconds)
            if status == 503:
                self._busy += 1

    def verdict(self, endpoint: str, alive: bool, timings_ms: dict[str, float]) -> None:
        with self._lock:
            key = (("endpoint", endpoint), ("alive", "true" if alive else "false"))
            self._verdicts[key] = self._verdicts.get(key, 0) + 1
            for stage, ms in timings_ms.items():
                if stage == "total":
                    continue
                skey = (("model", stage),)
                self._stages.setdefault(skey, _Histogram(STAGE_BUCKETS_S)).observe(ms / 1000)

    def render(self, gauges: dict[str, float] | None = None) -> str:
        lines: list[str] = []
        with self._lock:
            lines += [
                "# HELP livecheck_requests_total HTTP requests by endpoint, method and status.",
                "# TYPE livecheck_requests_total counter",
            ]
            lines += [f"livecheck_requests_total{_labels(k)} {v}" for k, v in sorted(self._requests.items())]
            lines += self._histogram("livecheck_request_seconds", "HTTP request latency by endpoint.", self._latency)
            lines += [
                "# HELP livecheck_verdicts_total Verdicts by endpoint and outcome.",
                "# TYPE livecheck_verdicts_total counter",
            ]
            lines += [f"livecheck_verdicts_total{_labels(k)} {v}" for k, v in sorted(self._verdicts.items())]
            lines += self._histogram(
                "livecheck_inference_seconds", "Time per request spent in each model stage.", self._stages
            )
        for name, value in sorted((gauges or {}).items()):
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        with self._lock:
            sources = list(self._gauge_sources.values())
        for source in sources:
            for name, series in sorted(source().items()):
                lines.append(f"# TYPE {name} gauge")
                lines += [f"{name}{_labels(labels)} {value:g}" for labels, value in sorted(series.items())]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _histogram(name: str, help_text: str, series: dict[tuple[tuple[str, str], ...], _Histogram]) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for key, hist in sorted(series.items()):
            cumulative = 0
            for bound, count in zip(hist.buckets, hist.counts):
                cumulative += count
                lines.append(f"{name}_bucket{_labels(key + (('le', repr(bound)),))} {cumulative}")
            lines.append(f"{name}_bucket{_labels(key + (('le', '+Inf'),))} {hist.n}")
            lines.append(f"{name}_sum{_labels(key)} {hist.total:.6f}")
            lines.append(f"{name}_count{_labels(key)} {hist.n}")
        return lines
