"""What Grafana sends Prometheus when a dashboard opens: its queries with variables substituted, at Grafana's step.

Pure.  Follows Grafana 12's Prometheus data source:

- the browser asks for ``intervalMs = roundInterval(range / maxDataPoints)`` (maxDataPoints is
  the panel's width in pixels), never below the data source's ``timeInterval`` (the scrape
  interval; @grafana/data ``rangeutil.calculateInterval``/``roundInterval``, strict ``<`` bounds);
- the backend (pkg/promlib/models/query.go ``calculatePrometheusInterval``) takes that as the
  minimum, recomputes ``range / maxDataPoints`` and rounds with the SDK's ``gtime.RoundInterval``
  (``<=`` bounds), never below 1/11000 of the range (the safe resolution); that is the step;
- ``$__rate_interval = max($__interval + scrape interval, 4 * scrape interval)``, written with Go's
  ``Duration.String()``; ``$__interval`` with ``gtime.FormatInterval``; ``$__range`` in seconds;
- start and end are aligned down to a multiple of the step (``AlignTimeRange``);
- a template variable set to "All" becomes its ``allValue``; others their current value;
- ``label_values(selector, label)`` variables ask ``/api/v1/label/<label>/values?match[]=selector``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

__all__ = [
    "PANEL_WIDTH_PX",
    "Query",
    "Variable",
    "dashboard_queries",
    "dashboard_variables",
    "go_duration",
    "grafana_step",
    "rate_interval",
    "substitute",
]

PANEL_WIDTH_PX = 1920
_SAFE_RESOLUTION = 11000

# (upper bound ms, rounded ms): the browser's roundInterval uses `<`, the backend's `<=`.
_ROUNDING = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
    (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
    (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
    (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (172800000, 86400000), (604800000, 86400000), (1814400000, 604800000),
    (3628800000, 2592000000),
)


def _round(interval_ms: float, *, inclusive: bool) -> int:
    for bound, rounded in _ROUNDING:
        if interval_ms < bound or (inclusive and interval_ms == bound):
            return rounded
    return 31536000000


def grafana_step(range_s: float, scrape_interval_s: float, width_px: int = PANEL_WIDTH_PX) -> float:
    """The step (seconds) Grafana's Prometheus data source uses for a panel this wide over this range."""
    range_ms = range_s * 1000
    browser_ms = max(_round(range_ms / width_px, inclusive=False), scrape_interval_s * 1000)
    calculated = range_ms / width_px
    step_ms = _round(max(calculated, browser_ms) if calculated >= browser_ms else browser_ms, inclusive=True)
    safe_ms = _round(range_ms / _SAFE_RESOLUTION, inclusive=True)
    return max(step_ms, safe_ms) / 1000


def rate_interval(step_s: float, scrape_interval_s: float) -> float:
    return max(step_s + scrape_interval_s, 4 * scrape_interval_s)


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for whole seconds: 1m15s, 1m0s, 15s, 1h0m0s."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _grafana_interval(seconds: float) -> str:
    """gtime.FormatInterval: the largest whole unit."""
    total = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total >= size:
            return f"{total // size}{unit}"
    return f"{total}s"


_VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str, variables: dict[str, str], *, step_s: float, range_s: float, scrape_interval_s: float) -> str:
    """`expr` as Grafana sends it: built-in and template variables replaced."""
    builtins = {
        "__rate_interval": go_duration(rate_interval(step_s, scrape_interval_s)),
        "__rate_interval_ms": str(int(rate_interval(step_s, scrape_interval_s) * 1000)),
        "__interval": _grafana_interval(step_s),
        "__interval_ms": str(int(step_s * 1000)),
        "__range": f"{int(round(range_s))}s",
        "__range_s": str(int(round(range_s))),
        "__range_ms": str(int(range_s * 1000)),
    }

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name in builtins:
            return builtins[name]
        if name in variables:
            return variables[name]
        raise KeyError(f"{expr!r} uses ${name}, which neither Grafana nor the dashboard defines")

    return _VAR_RE.sub(replace, expr)


@dataclass(frozen=True)
class Variable:
    name: str
    value: str  # what a panel query gets
    label: str | None  # label_values(selector, label): the label asked for
    selector: str | None


@dataclass(frozen=True)
class Query:
    panel: str
    expr: str


_LABEL_VALUES_RE = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


def dashboard_variables(document: dict[str, Any]) -> list[Variable]:
    out = []
    for item in document.get("templating", {}).get("list", []):
        current = (item.get("current") or {}).get("value")
        if isinstance(current, list):
            current = current[0] if len(current) == 1 else "|".join(current)
        if current in ("$__all", None, "") and item.get("includeAll"):
            value = item.get("allValue") or ".*"
        else:
            value = current or ""
        query = item.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        match = _LABEL_VALUES_RE.match((query or "").strip())
        out.append(Variable(item["name"], value, match["label"] if match else None,
                            match["selector"] if match else None))
    return out


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def dashboard_queries(document: dict[str, Any]) -> list[Query]:
    """Every panel query of the dashboard (rows expanded, hidden targets skipped)."""
    return [
        Query(panel.get("title", ""), target["expr"])
        for panel in _panels(document.get("panels", []))
        for target in panel.get("targets") or []
        if target.get("expr") and not target.get("hide")
    ]
