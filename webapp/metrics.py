"""`/metrics` on prometheus_client: request, verdict and model-stage counters and histograms, and the gauges a
feature reads at each scrape (the session registry's, the worker pool's).

Every label comes from a closed set, so nothing a client sends can add a series: the endpoint is the route rule
(never the raw path; `unmatched` for none), the method one of `http.HTTPMethod` or `other`, the status an HTTP
status code the app itself chose; verdict endpoints and model stages are names in the code.

`serve --processes N` (webapp/server.py) gives every process one PROMETHEUS_MULTIPROC_DIR: counters and histograms
are then written there by each process and a scrape, whichever process answers it, sums them over all of them
(prometheus_client's multi-process mode). Gauges read at scrape time (workers, requests in flight, this node's
live checks) are the answering process's own; the session counts read from the store are the cluster's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from http import HTTPMethod

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# name -> {labels: value}; a feature's live figures (the session registry's, say), read at each scrape
LabeledGauges = dict[str, dict[tuple[tuple[str, str], ...], float]]

LATENCY_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STAGE_BUCKETS_S = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format generate_latest writes
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable (read when it is first imported)
OTHER_METHOD = "other"
_METHODS = frozenset(HTTPMethod)

# No `*_created` series: the exposition stays the one the docs and dashboards name.
disable_created_metrics()  # type: ignore[no-untyped-call]


def method_label(method: str) -> str:
    """A request method as a label: a standard method as is, anything a client invents as `other`."""
    return method if method in _METHODS else OTHER_METHOD


class _ScrapeGauges(Collector):
    """Gauges computed when scraped: the fixed ones given to `Metrics.render` and the features' sources."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics.gauge_families()


class Metrics:
    """Thread-safe (prometheus_client's metrics are); one instance per app (on the services object), each on a
    registry of its own so that several apps in one process (the tests) keep their figures apart."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir if multiprocess_dir is not None else os.environ.get(MULTIPROC_ENV)
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "livecheck_requests",
            "HTTP requests by endpoint, method and status.",
            ("endpoint", "method", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "livecheck_request_seconds",
            "HTTP request latency by endpoint.",
            ("endpoint",),
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._verdicts = Counter(
            "livecheck_verdicts", "Verdicts by endpoint and outcome.", ("endpoint", "alive"), registry=self.registry
        )
        self._stages = Histogram(
            "livecheck_inference_seconds",
            "Time per request spent in each model stage.",
            ("model",),
            buckets=STAGE_BUCKETS_S,
            registry=self.registry,
        )
        self._lock = threading.Lock()
        self._fixed: Mapping[str, float] = {}
        self._gauge_sources: dict[str, Callable[[], LabeledGauges]] = {}
        self._refreshers: dict[str, Callable[[], Awaitable[None]]] = {}
        self._gauges = _ScrapeGauges(self)
        self.registry.register(self._gauges)

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
        self._requests.labels(endpoint, method_label(method), str(status)).inc()
        self._latency.labels(endpoint).observe(seconds)

    def verdict(self, endpoint: str, alive: bool, timings_ms: Mapping[str, float]) -> None:
        self._verdicts.labels(endpoint, "true" if alive else "false").inc()
        for stage, ms in timings_ms.items():
            if stage != "total":
                self._stages.labels(stage).observe(ms / 1000)

    def gauge_families(self) -> list[Metric]:
        with self._lock:
            fixed = dict(self._fixed)
            sources = list(self._gauge_sources.values())
        families: list[Metric] = [GaugeMetricFamily(name, name, value=value) for name, value in sorted(fixed.items())]
        for source in sources:
            for name, series in sorted(source().items()):
                names = [label for label, _ in next(iter(series), ())]
                family = GaugeMetricFamily(name, name, labels=names)
                for labels, value in sorted(series.items()):
                    family.add_metric([value for _, value in labels], value)
                families.append(family)
        return families

    def render(self, gauges: Mapping[str, float] | None = None) -> str:
        """The text exposition; `gauges` are plain gauges read for this scrape. With a multi-process directory the
        counters and histograms are every process's, summed."""
        with self._lock:
            self._fixed = dict(gauges or {})
        if self.multiprocess_dir:
            scrape = CollectorRegistry()
            MultiProcessCollector(scrape, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            scrape.register(self._gauges)
            return generate_latest(scrape).decode()
        return generate_latest(self.registry).decode()
