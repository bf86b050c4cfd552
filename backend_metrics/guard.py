"""A hard cap on the number of label sets a metric may grow.

Scanners and bots cause most series explosions in production.  A `LabelGuard`
wraps a labelled prometheus_client metric: the first `max_series` distinct label
sets get their own child, every later new one folds into one child whose labels
are all `OVERFLOW_VALUE`, and the fold is counted so operators can see it.
Children are cached, so the hot path is one dict lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from backend_metrics.names import OVERFLOW_VALUE

__all__ = ["DEFAULT_MAX_SERIES", "LabelGuard"]

DEFAULT_MAX_SERIES = 2000
"""Per metric.  Generous for an API (routes x methods x statuses) yet far below what hurts Prometheus."""


class LabelGuard:
    """Cached, capped children of one labelled metric.

    `labels(*values)` returns the child for `values` (strings, in label order) while the
    metric has fewer than `max_series` label sets, and the overflow child afterwards.
    The overflow child itself does not count against the cap.  `on_overflow` is called
    (without arguments) each time a label set is folded.
    """

    __slots__ = ("metric", "max_series", "_children", "_overflow", "_lock", "_on_overflow")

    def __init__(self, metric: Any, max_series: int = DEFAULT_MAX_SERIES, on_overflow: Callable[[], None] | None = None) -> None:
        if max_series < 1:
            raise ValueError(f"max_series must be at least 1, got {max_series}")
        if not getattr(metric, "_labelnames", ()):
            raise ValueError(f"{metric!r} has no labels; a guard only makes sense for a labelled metric")
        self.metric = metric
        self.max_series = max_series
        self._children: dict[tuple[str, ...], Any] = {}
        self._overflow: Any = None
        self._lock = threading.Lock()
        self._on_overflow = on_overflow

    def __len__(self) -> int:
        """The number of distinct (non-overflow) label sets handed out."""
        return len(self._children)

    def labels(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is not None:
            return child
        with self._lock:
            child = self._children.get(values)
            if child is not None:
                return child
            if len(self._children) < self.max_series:
                child = self.metric.labels(*values)
                self._children[values] = child
                return child
            if self._overflow is None:
                self._overflow = self.metric.labels(*([OVERFLOW_VALUE] * len(values)))
            overflow = self._overflow
        if self._on_overflow is not None:
            self._on_overflow()
        return overflow

    def would_overflow(self, *values: str) -> bool:
        """True when `values` is new and the cap is reached (nothing is created)."""
        return values not in self._children and len(self._children) >= self.max_series
