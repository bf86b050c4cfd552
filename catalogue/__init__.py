"""The service catalogue: what each service of monstack is, written once.

One module per service (`prometheus`, `grafana`, `backend`, `mongodb_exporter`, `node_exporter`,
`cadvisor`, `alertmanager`) holds its job name, container port, network alias, the metric names of the pinned
version it runs, its thresholds, its alert rules and its scrape job. `SERVICES` lists them; the
stack (Pulumi), the dashboards (grafanalib) and the tests all read this list, and this package
imports neither of them (see docs/architecture.md).
"""

from __future__ import annotations

from typing import Any, Iterable

from dataclasses import replace

from . import alertmanager, backend, cadvisor, grafana, mongodb_exporter, node_exporter, prometheus
from .rules import RUNBOOK_BASE_URL, AlertRule, render_rule_groups
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
    alertmanager.SERVICE,
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


def _alert_rule_settings(settings: Any) -> tuple[dict, str]:
    """The stack's `alertRules` knobs (for overrides, runbook base), when its settings have them."""
    knobs = getattr(settings, "alert_rules", None)
    return (getattr(knobs, "for_overrides", None) or {}, getattr(knobs, "runbook_base_url", None) or RUNBOOK_BASE_URL)


def alert_rules(settings: Any, services: Iterable[Service] = SERVICES) -> list[AlertRule]:
    """The alert rules of the enabled services, in registry order (alertRules.forOverrides applied)."""
    overrides, _ = _alert_rule_settings(settings)
    # Jobs whose targets come from DNS: TargetDown also fires when such a job has none left.
    discovered = tuple(job.job_name for job in scrape_jobs(settings, services) if job.discovered)
    rules = []
    for service in enabled_services(settings, services):
        for rule in service.alert_rules():
            if rule.name == prometheus.TARGET_DOWN and discovered:
                rule = replace(rule, expr=prometheus.target_down_rule(discovered).expr)
            rules.append(replace(rule, duration=overrides.get(rule.name, rule.duration)))
    return rules


def render_alert_rules(settings: Any, services: Iterable[Service] = SERVICES) -> dict:
    _, runbook_base_url = _alert_rule_settings(settings)
    return render_rule_groups(alert_rules(settings, services), runbook_base_url=runbook_base_url)
