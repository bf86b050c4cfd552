"""Builds the package's metrics into a registry, once per registry.

Building an app twice (tests, reloads, two middlewares sharing a registry) must
neither raise prometheus_client's duplicate-registration error nor quietly
create metrics nobody scrapes.  So every family is built at most once per
registry and cached there (weakly: a dropped test registry frees its metrics);
a second build with the same options returns the same objects, and a second
build with different options raises instead of silently ignoring them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from backend_metrics.guard import DEFAULT_MAX_SERIES, LabelGuard
from backend_metrics.names import (
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_IN_PROGRESS,
    HTTP_REQUESTS_TOTAL,
    LABEL_METHOD,
    LABEL_METRIC,
    LABEL_ROUTE,
    LABEL_STATUS,
    SERIES_OVERFLOW_TOTAL,
)

__all__ = ["DEFAULT_BUCKETS", "HttpMetrics", "get_or_create", "http_metrics", "resolve_registry"]

DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""API latencies: a few milliseconds to ten seconds (+Inf is added by prometheus_client)."""

T = TypeVar("T")

_cache: "weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Any]]" = weakref.WeakKeyDictionary()
_cache_lock = threading.RLock()


def resolve_registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    """`registry`, or prometheus_client's global one when None (looked up at call time)."""
    return REGISTRY if registry is None else registry


def get_or_create(registry: CollectorRegistry | None, key: str, build: Callable[[CollectorRegistry], T]) -> T:
    """The object cached under `key` for `registry`, built by `build(registry)` on first use.

    Use it for your own metric families to get the same build-twice safety.
    """
    registry = resolve_registry(registry)
    with _cache_lock:
        per_registry = _cache.setdefault(registry, {})
        if key not in per_registry:
            per_registry[key] = build(registry)
        return per_registry[key]


@dataclass(eq=False)
class HttpMetrics:
    """The HTTP metric families of one registry, with their label guards."""

    requests: Counter
    duration: Histogram
    overflow: Counter
    buckets: tuple[float, ...]
    max_series: int
    in_progress: Gauge | None = None
    requests_guard: LabelGuard = field(init=False)
    duration_guard: LabelGuard = field(init=False)
    _registry: CollectorRegistry | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        requests_overflow = self.overflow.labels(HTTP_REQUESTS_TOTAL)
        duration_overflow = self.overflow.labels(HTTP_REQUEST_DURATION_SECONDS)
        self.requests_guard = LabelGuard(self.requests, self.max_series, requests_overflow.inc)
        self.duration_guard = LabelGuard(self.duration, self.max_series, duration_overflow.inc)

    def ensure_in_progress(self) -> Gauge:
        """Create the in-progress gauge if this registry does not have it yet."""
        with _cache_lock:
            if self.in_progress is None:
                self.in_progress = Gauge(
                    HTTP_REQUESTS_IN_PROGRESS,
                    "HTTP requests being served right now.",
                    registry=self._registry,
                    multiprocess_mode="livesum",
                )
            return self.in_progress


def http_metrics(
    registry: CollectorRegistry | None = None,
    *,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
    max_series: int = DEFAULT_MAX_SERIES,
    in_progress: bool = False,
) -> HttpMetrics:
    """The HTTP metrics of `registry` (default: the global one), built on first call.

    Later calls return the same `HttpMetrics`; asking for different buckets or a
    different cap raises `ValueError` (the first build wins, and silently ignoring
    the request would hide a configuration mistake).
    """
    buckets = tuple(float(b) for b in buckets)

    def build(reg: CollectorRegistry) -> HttpMetrics:
        return HttpMetrics(
            requests=Counter(
                HTTP_REQUESTS_TOTAL,
                "HTTP requests answered, by method, route template and status code.",
                (LABEL_METHOD, LABEL_ROUTE, LABEL_STATUS),
                registry=reg,
            ),
            duration=Histogram(
                HTTP_REQUEST_DURATION_SECONDS,
                "Time from receiving an HTTP request to sending its last byte, by method and route template.",
                (LABEL_METHOD, LABEL_ROUTE),
                registry=reg,
                buckets=buckets,
            ),
            overflow=Counter(
                SERIES_OVERFLOW_TOTAL,
                "Label sets folded into the overflow series because a metric reached its series cap.",
                (LABEL_METRIC,),
                registry=reg,
            ),
            buckets=buckets,
            max_series=max_series,
            _registry=reg,
        )

    metrics = get_or_create(registry, "http", build)
    if metrics.buckets != buckets:
        raise ValueError(
            f"this registry's HTTP metrics already use buckets {metrics.buckets}; asked for {buckets}. "
            "Use one bucket layout per registry (or a separate registry)."
        )
    if metrics.max_series != max_series:
        raise ValueError(f"this registry's HTTP metrics already use max_series={metrics.max_series}; asked for {max_series}")
    if in_progress:
        metrics.ensure_in_progress()
    return metrics
