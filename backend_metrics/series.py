"""Where the HTTP counter and histogram keep their values.

Two interchangeable stores hand the recorder one *cell* per (method, route,
status): a function; ``cell(duration)`` counts the request and observes its
duration.

- `FastHttpSeries` (single process, the default): a prometheus_client
  `Collector` holding plain Python numbers.  One lock round per request
  updates the counter, the histogram bucket and the sum together, where
  prometheus_client's child objects take three locks and several method calls.
  Its exposition is the same as a `Counter` and a `Histogram` with those labels
  (including ``_created`` unless prometheus_client's created series are
  disabled), so readers cannot tell the difference.
- `ClientHttpSeries` (multiprocess mode): prometheus_client's own `Counter` and
  `Histogram`, whose values live in the per-worker files that
  `MultiProcessCollector` sums.

Both cap the label sets per metric (`max_series`); later ones fold into one
series whose labels are all `OVERFLOW_VALUE`, counted by `on_overflow`.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client import metrics as _client_metrics
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from backend_metrics.guard import LabelGuard
from backend_metrics.names import (
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_TOTAL,
    LABEL_METHOD,
    LABEL_ROUTE,
    LABEL_STATUS,
    OVERFLOW_VALUE,
)

__all__ = ["ClientHttpSeries", "FastHttpSeries", "REQUESTS_HELP", "DURATION_HELP"]

REQUESTS_HELP = "HTTP requests answered, by method, route template and status code."
DURATION_HELP = "Time from receiving an HTTP request to sending its last byte, by method and route template."
_COUNTER_LABELS = (LABEL_METHOD, LABEL_ROUTE, LABEL_STATUS)
_HISTOGRAM_LABELS = (LABEL_METHOD, LABEL_ROUTE)


def _fast_cell(count: list, hist: list, bounds: tuple, lock: threading.Lock) -> Callable[[float], None]:
    """A cell: count one request and observe its duration, in one lock round.

    A closure rather than an object: its free variables are the cheapest loads Python has.
    The lock's bound acquire/release are closed over too: on CPython 3.11 that is about
    half the cost of a ``with lock:`` block, which looks up and calls __enter__/__exit__.
    """
    acquire = lock.acquire
    release = lock.release
    total = len(hist) - 2  # index of the sum
    first = bounds[0] if bounds else float("inf")

    def observe(duration: float) -> None:
        # le is inclusive: the first bound >= duration.  Most API requests fall in the first
        # bucket, where one float comparison replaces the bisect call.
        index = 0 if duration <= first else bisect_left(bounds, duration)
        acquire()
        try:
            count[0] += 1.0
            hist[index] += 1
            hist[total] += duration
        finally:
            release()

    return observe


class FastHttpSeries(Collector):
    """The HTTP counter and histogram as one collector with plain values (single process)."""

    def __init__(
        self, buckets: Sequence[float], max_series: int, on_overflow: Callable[[str], None], registry: CollectorRegistry | None
    ) -> None:
        bounds = tuple(sorted(float(b) for b in buckets if b != float("inf")))
        self._bounds = bounds
        self._max_series = max_series
        self._on_overflow = on_overflow
        self._lock = threading.Lock()
        # counter: (method, route, status) -> [value, created]
        self._counts: dict[tuple[str, str, str], list] = {}
        # histogram: (method, route) -> [bucket_0 .. bucket_n, +Inf bucket, sum, created]
        self._hists: dict[tuple[str, str], list] = {}
        if registry is not None:
            registry.register(self)

    def cell(self, method: str, route: str, status: str) -> tuple[Callable[[float], None], bool]:
        """The cell for these labels and whether the caller may cache it (False once folded)."""
        with self._lock:
            now = time.time()
            count_key: tuple[str, ...] = (method, route, status)
            folded = False
            count = self._counts.get(count_key)
            if count is None:
                if len(self._counts) >= self._max_series:
                    count_key, folded = (OVERFLOW_VALUE,) * 3, True
                    self._on_overflow(HTTP_REQUESTS_TOTAL)
                count = self._counts.setdefault(count_key, [0.0, now])
            hist_key: tuple[str, ...] = (method, route)
            hist = self._hists.get(hist_key)
            if hist is None:
                if len(self._hists) >= self._max_series:
                    hist_key, folded = (OVERFLOW_VALUE,) * 2, True
                    self._on_overflow(HTTP_REQUEST_DURATION_SECONDS)
                hist = self._hists.setdefault(hist_key, [0] * (len(self._bounds) + 1) + [0.0, now])
            return _fast_cell(count, hist, self._bounds, self._lock), not folded

    def describe(self) -> list[Metric]:
        return [
            CounterMetricFamily(HTTP_REQUESTS_TOTAL, REQUESTS_HELP, labels=_COUNTER_LABELS),
            HistogramMetricFamily(HTTP_REQUEST_DURATION_SECONDS, DURATION_HELP, labels=_HISTOGRAM_LABELS),
        ]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts = [(key, cell[0], cell[1]) for key, cell in self._counts.items()]
            hists = [(key, list(cell)) for key, cell in self._hists.items()]
        use_created = _client_metrics._use_created
        requests = CounterMetricFamily(HTTP_REQUESTS_TOTAL, REQUESTS_HELP, labels=_COUNTER_LABELS)
        for labels, value, created in counts:
            requests.add_metric(labels, value, created=created if use_created else None)
        yield requests
        duration = HistogramMetricFamily(HTTP_REQUEST_DURATION_SECONDS, DURATION_HELP, labels=_HISTOGRAM_LABELS)
        upper = [floatToGoString(b) for b in self._bounds] + ["+Inf"]
        for labels, cell in hists:
            cumulative, running = [], 0
            for bound, count in zip(upper, cell[:-2], strict=True):
                running += count
                cumulative.append((bound, float(running)))
            duration.add_metric(labels, cumulative, cell[-2])
            if use_created:
                duration.samples.append(
                    Sample(HTTP_REQUEST_DURATION_SECONDS + "_created", dict(zip(_HISTOGRAM_LABELS, labels, strict=True)), cell[-1])
                )
        yield duration


def _client_cell(counter_child: Any, histogram_child: Any) -> Callable[[float], None]:
    inc = counter_child.inc
    observe_duration = histogram_child.observe

    def observe(duration: float) -> None:
        inc()
        observe_duration(duration)

    return observe


class ClientHttpSeries:
    """The HTTP counter and histogram as prometheus_client metrics (multiprocess mode)."""

    def __init__(
        self, buckets: Sequence[float], max_series: int, on_overflow: Callable[[str], None], registry: CollectorRegistry | None
    ) -> None:
        self.requests = Counter(HTTP_REQUESTS_TOTAL, REQUESTS_HELP, _COUNTER_LABELS, registry=registry)
        self.duration = Histogram(
            HTTP_REQUEST_DURATION_SECONDS, DURATION_HELP, _HISTOGRAM_LABELS, registry=registry, buckets=tuple(buckets)
        )
        self.requests_guard = LabelGuard(self.requests, max_series, lambda: on_overflow(HTTP_REQUESTS_TOTAL))
        self.duration_guard = LabelGuard(self.duration, max_series, lambda: on_overflow(HTTP_REQUEST_DURATION_SECONDS))

    def cell(self, method: str, route: str, status: str) -> tuple[Callable[[float], None], bool]:
        cacheable = not (self.requests_guard.would_overflow(method, route, status) or self.duration_guard.would_overflow(method, route))
        return _client_cell(self.requests_guard.labels(method, route, status), self.duration_guard.labels(method, route)), cacheable
