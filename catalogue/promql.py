"""Building PromQL text from named metrics and labels (no metric name is typed here)."""

from __future__ import annotations

from typing import Iterable

__all__ = [
    "RATE_INTERVAL",
    "eq",
    "ne",
    "re",
    "nre",
    "var",
    "selector",
    "rate",
    "increase",
    "aggregate",
]

# Grafana's interval for rate(): at least four scrape intervals, so a rate never has fewer than two samples.
RATE_INTERVAL = "$__rate_interval"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def eq(label: str, value: str) -> str:
    return f"{label}={_quote(value)}"


def ne(label: str, value: str) -> str:
    return f"{label}!={_quote(value)}"


def re(label: str, pattern: str) -> str:  # noqa: A001 - PromQL's name for the operator
    return f"{label}=~{_quote(pattern)}"


def nre(label: str, pattern: str) -> str:
    return f"{label}!~{_quote(pattern)}"


def var(name: str) -> str:
    """A Grafana template variable reference."""
    return f"${name}"


def selector(metric: str, *matchers: str) -> str:
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def rate(series: str, interval: str = RATE_INTERVAL) -> str:
    return f"rate({series}[{interval}])"


def increase(series: str, interval: str = RATE_INTERVAL) -> str:
    return f"increase({series}[{interval}])"


def aggregate(op: str, expr: str, by: Iterable[str] = ()) -> str:
    labels = ", ".join(by)
    return f"{op} by ({labels}) ({expr})" if labels else f"{op}({expr})"
