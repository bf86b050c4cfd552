"""The framework-neutral hot path: one finished request -> one counter and one histogram update.

The ASGI and WSGI middlewares find (method, route template, status, duration)
and call `HttpRecorder.record`.  Cells (see series.py) are cached per (method,
route, status) behind the series cap, so a steady-state request costs one dict
lookup and one ``cell(duration)`` call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry

from backend_metrics.factory import DEFAULT_BUCKETS, HttpMetrics, http_metrics
from backend_metrics.guard import DEFAULT_MAX_SERIES
from backend_metrics.multiprocess import check_multiprocess_dir
from backend_metrics.names import DEFAULT_METRICS_PATH, METHOD_OTHER, STANDARD_METHODS, STATUS_CLIENT_CLOSED

__all__ = ["CLIENT_CLOSED", "MAX_DEPTH", "HttpRecorder"]

_STANDARD_METHODS = STANDARD_METHODS

CLIENT_CLOSED = int(STATUS_CLIENT_CLOSED)
"""The status of a response whose client went away before its last byte (nginx's 499)."""

MAX_DEPTH = 16
"""How deep the middlewares follow wrapped apps, mounts and dispatchers (a guard against cycles)."""


class HttpRecorder:
    """Records finished HTTP requests into the HTTP metrics of one registry.

    Options (shared by `asgi.instrument` and `wsgi.instrument`):
      registry: where the metrics live (default: prometheus_client's global registry).
      buckets: histogram buckets in seconds (default `DEFAULT_BUCKETS`).
      max_series: cap on label sets per metric; later ones fold into "__overflow__".
      in_progress: also keep the `http_requests_in_progress` gauge (costs two more
        locked updates per request, so it is off unless asked for).
      exclude_routes: route templates not to record (e.g. "/healthz").
      metrics_path: where the exposition is served (None: not served by the middleware).
      count_metrics_path: record requests to the metrics path too (default False).
      storage: "auto", "fast" or "prometheus_client" (see `backend_metrics.factory.http_metrics`).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        max_series: int = DEFAULT_MAX_SERIES,
        in_progress: bool = False,
        exclude_routes: Iterable[str] = (),
        metrics_path: str | None = DEFAULT_METRICS_PATH,
        count_metrics_path: bool = False,
        storage: str = "auto",
    ) -> None:
        check_multiprocess_dir()
        self.registry = registry
        self.metrics: HttpMetrics = http_metrics(registry, buckets=buckets, max_series=max_series, in_progress=in_progress, storage=storage)
        self._series = self.metrics.series
        self.in_progress = self.metrics.in_progress if in_progress else None
        excluded = set(exclude_routes)
        if metrics_path and not count_metrics_path:
            excluded.add(metrics_path)
        self.excluded = frozenset(excluded)
        self.metrics_path = metrics_path
        self.count_metrics_path = count_metrics_path
        self._cells: dict[tuple[str, str, int], object] = {}

    def record(self, method: str, route: str, status: int, duration: float) -> None:
        """Count one request; `method` may be anything the client sent, `route` is a template."""
        if method not in _STANDARD_METHODS:
            method = METHOD_OTHER
        cell = self._cells.get((method, route, status))
        if cell is None:
            cell, _ = self.cell(method, route, status)
        cell(duration)

    def cell(self, method: str, route: str, status: int) -> tuple[object, bool]:
        """The cell recording (method, route, status), and whether a caller may cache it.

        Excluded routes get a cell that records nothing.  Folded (over-cap) label sets
        are not cacheable, so every cache stays bounded by the cap.
        """
        if method not in _STANDARD_METHODS:
            method = METHOD_OTHER
        if route in self.excluded:
            return _IGNORED, True
        cell = self._cells.get((method, route, status))
        if cell is not None:
            return cell, True
        cell, cacheable = self._series.cell(method, route, str(status))
        if cacheable:
            self._cells[(method, route, status)] = cell
        return cell, cacheable


def _IGNORED(duration: float) -> None:
    """The cell of an excluded route: records nothing."""
