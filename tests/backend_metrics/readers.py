"""Readers for a registry's samples, shared by the backend_metrics tests."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from backend_metrics.names import HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL


def sample_values(registry: CollectorRegistry, sample_name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted label items: value} for every sample called `sample_name` (e.g. "http_requests_total")."""
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == sample_name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_by(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    """http_requests_total as {(method, route, status): count}."""
    return {
        (labels["method"], labels["route"], labels["status"]): value
        for items, value in sample_values(registry, HTTP_REQUESTS_TOTAL).items()
        for labels in [dict(items)]
    }


def routes_seen(registry: CollectorRegistry) -> set[str]:
    return {route for _, route, _ in requests_by(registry)}


def duration_sum(registry: CollectorRegistry, method: str, route: str) -> float:
    values = sample_values(registry, HTTP_REQUEST_DURATION_SECONDS + "_sum")
    return values[(("method", method), ("route", route))]


def duration_count(registry: CollectorRegistry, method: str, route: str) -> float:
    values = sample_values(registry, HTTP_REQUEST_DURATION_SECONDS + "_count")
    return values.get((("method", method), ("route", route)), 0.0)
