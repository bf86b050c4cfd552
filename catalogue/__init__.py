"""The service catalogue: what each service of monstack is, written once.

One module per service (`prometheus`, `grafana`, `backend`, `mongodb_exporter`, `node_exporter`,
`cadvisor`) holds its job name, container port, network alias, the metric names of the pinned
version it runs, its thresholds, its alert rules and its scrape job. `SERVICES` lists them; the
stack (Pulumi), the dashboards (grafanalib) and the tests all read this list, and this package
imports neither of them (see docs/architecture.md).
"""

from __future__ import annotations

from typing import Any, Iterable

from . import backend, cadvisor, grafana, mongodb_exporter, node_exporter, prometheus
from .rules import AlertRule, render_rule_groups
from .service import ScrapeJob, Service, Threshold

__all__ = [
    "SERVICES",
    "AlertRule",
    "ScrapeJob",
    "Service",
    "Threshold",
    "alert_rules",
    "by_name",
    "enabled_services",
    "render_alert_rules",
    "scrape_jobs",
]

# The registry. Order is the order of scrape jobs, alert rules and dashboards.
SERVICES: tuple[Service, ...] = (
    prometheus.SERVICE,
    backend.SERVICE,
    mongodb_exporter.SERVICE,
    node_exporter.SERVICE,
    cadvisor.SERVICE,
    grafana.SERVICE,
)


def by_name(name: str, services: Iterable[Service] = SERVICES) -> Service:
    for service in services:
        if service.name == name:
            return service
    raise KeyError(f"no service {name!r} in the catalogue")


def enabled_services(settings: Any, services: Iterable[Service] = SERVICES) -> tuple[Service, ...]:
    """The services these settings switch on, in registry order: the one place that decides it."""
    return tuple(service for service in services if service.enabled(settings))


def scrape_jobs(settings: Any, services: Iterable[Service] = SERVICES) -> tuple[ScrapeJob, ...]:
    """The scrape jobs of the enabled services, in registry order."""
    return tuple(s.scrape(settings) for s in enabled_services(settings, services) if s.scrape is not None)


def alert_rules(settings: Any, services: Iterable[Service] = SERVICES) -> list[AlertRule]:
    """The alert rules of the enabled services, in registry order."""
    return [rule for service in enabled_services(settings, services) for rule in service.alert_rules()]


def render_alert_rules(settings: Any, services: Iterable[Service] = SERVICES) -> dict:
    return render_rule_groups(alert_rules(settings, services))
