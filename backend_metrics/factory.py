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

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from backend_metrics.guard import DEFAULT_MAX_SERIES
from backend_metrics.multiprocess import multiprocess_dir
from backend_metrics.names import (
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_IN_PROGRESS,
    HTTP_REQUESTS_TOTAL,
    LABEL_METRIC,
    SERIES_OVERFLOW_TOTAL,
)
from backend_metrics.series import ClientHttpSeries, FastHttpSeries

__all__ = ["DEFAULT_BUCKETS", "STORAGES", "HttpMetrics", "get_or_create", "http_metrics", "resolve_registry"]

DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""API latencies: a few milliseconds to ten seconds (+Inf is added by prometheus_client)."""

T = TypeVar("T")

_cache: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Any]] = weakref.WeakKeyDictionary()
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


STORAGES = ("auto", "fast", "prometheus_client")


@dataclass(eq=False)
class HttpMetrics:
    """The HTTP metric families of one registry.

    `series` stores the request counter and duration histogram (see series.py):
    `FastHttpSeries` in a single process, `ClientHttpSeries` (prometheus_client's
    own metrics, multiprocess-capable) when `PROMETHEUS_MULTIPROC_DIR` is set.
    """

    series: FastHttpSeries | ClientHttpSeries
    overflow: Counter
    buckets: tuple[float, ...]
    max_series: int
    storage: str
    in_progress: Gauge | None = None
    _registry: CollectorRegistry | None = field(default=None, repr=False)

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
    storage: str = "auto",
) -> HttpMetrics:
    """The HTTP metrics of `registry` (default: the global one), built on first call.

    storage: "auto" (prometheus_client metrics in multiprocess mode, the fast
      in-process store otherwise), or "fast" / "prometheus_client" explicitly.
    Later calls return the same `HttpMetrics`; asking for different buckets, cap or
    storage raises `ValueError` (the first build wins, and silently ignoring the
    request would hide a configuration mistake).
    """
    buckets = tuple(sorted(float(b) for b in buckets))
    if max_series < 1:
        raise ValueError(f"max_series must be at least 1, got {max_series}")
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}, got {storage!r}")
    resolved = storage
    if storage == "auto":
        resolved = "prometheus_client" if multiprocess_dir() is not None else "fast"

    def build(reg: CollectorRegistry) -> HttpMetrics:
        overflow = Counter(
            SERIES_OVERFLOW_TOTAL,
            "Label sets folded into the overflow series because a metric reached its series cap.",
            (LABEL_METRIC,),
            registry=reg,
        )
        children = {name: overflow.labels(name) for name in (HTTP_REQUESTS_TOTAL, HTTP_REQUEST_DURATION_SECONDS)}

        def on_overflow(name: str) -> None:
            children[name].inc()

        store = FastHttpSeries if resolved == "fast" else ClientHttpSeries
        return HttpMetrics(
            series=store(buckets, max_series, on_overflow, reg),
            overflow=overflow,
            buckets=buckets,
            max_series=max_series,
            storage=resolved,
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
    if metrics.storage != resolved:
        raise ValueError(f"this registry's HTTP metrics already use storage={metrics.storage!r}; asked for {resolved!r}")
    if in_progress:
        metrics.ensure_in_progress()
    return metrics
