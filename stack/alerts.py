"""Alerting rules, rendered from typed rules and the shared metric names (no name typed here).

Prometheus evaluates them and sends the firing ones to Alertmanager (stack/alertmanager_config.py
routes them by severity).  Every rule links its runbook: a section of docs/runbooks.md whose
anchor is the alert's name in lower case.  The rules about the monitoring pipeline itself
(Watchdog, Prometheus' and Alertmanager's health) are in stack/health_rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from backend_metrics import names as backend
from dashboards.metrics import mongodb_exporter_v0_47 as mongodb
from dashboards.metrics import node_exporter_v1_9 as node
from dashboards.promql import aggregate, eq, increase, nre, rate, re, selector

from . import names
from .settings import Settings

__all__ = ["AlertRule", "alert_rules", "render_alert_rules", "runbook_anchor", "unknown_for_overrides"]

# Windows of the rates the alerts use: long enough to hold several scrapes at any allowed interval.
_WINDOW = "5m"


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    description: str
    labels: dict = field(default_factory=dict)

    def to_dict(self, *, runbook_base_url: str) -> dict:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity, **self.labels},
            "annotations": {
                "summary": self.summary,
                # `$for` in a description is the rule's `for` duration (overrides included).
                "description": self.description.replace("$for", self.duration),
                "runbook_url": f"{runbook_base_url}#{runbook_anchor(self.name)}",
            },
        }


def runbook_anchor(alert: str) -> str:
    """The anchor of the alert's section in docs/runbooks.md (`## TargetDown` -> `targetdown`)."""
    return alert.lower()


def _backend_rules() -> list[AlertRule]:
    job = eq("job", names.JOB_BACKEND)
    requests = aggregate("sum", rate(selector(backend.HTTP_REQUESTS_TOTAL, job), _WINDOW))
    errors = aggregate("sum", rate(selector(backend.HTTP_REQUESTS_TOTAL, job, re(backend.LABEL_STATUS, "5..")), _WINDOW))
    buckets = rate(selector(f"{backend.HTTP_REQUEST_DURATION_SECONDS}_bucket", job), _WINDOW)
    attempts = aggregate("sum", rate(selector(backend.AUTH_ATTEMPTS_TOTAL, job), _WINDOW))
    failures = aggregate(
        "sum", rate(selector(backend.AUTH_ATTEMPTS_TOTAL, job, eq(backend.LABEL_OUTCOME, "failure")), _WINDOW)
    )
    overflow = aggregate("sum", increase(selector(backend.SERIES_OVERFLOW_TOTAL, job), "15m"), by=("instance",))
    return [
        AlertRule(
            "BackendHighErrorRatio",
            f"({errors}) / ({requests}) > 0.05",
            "5m",
            "critical",
            "More than 5% of backend requests fail with a 5xx status",
            "{{ $value | humanizePercentage }} of requests answered 5xx over the last 5 minutes.",
        ),
        AlertRule(
            "BackendSlowRoute",
            f"histogram_quantile(0.99, {aggregate('sum', buckets, by=('le', backend.LABEL_ROUTE))}) > 1",
            "10m",
            "warning",
            "A backend route's p99 latency is above 1 s",
            "p99 of {{ $labels.route }} is {{ $value | humanizeDuration }}.",
        ),
        AlertRule(
            "LoginFailureSpike",
            f"({failures}) / ({attempts}) > 0.5 and ({attempts}) > 0.2",
            "10m",
            "warning",
            "Most login attempts fail",
            "{{ $value | humanizePercentage }} of authentication attempts failed: a broken client, or password guessing.",
        ),
        AlertRule(
            "BackendMetricsSeriesCapped",
            f"{overflow} > 0",
            "0m",
            "info",
            "backend_metrics folded new label sets into __overflow__",
            "A metric reached its series cap on {{ $labels.instance }}: look for unbounded label values.",
        ),
    ]


def _mongodb_rules() -> list[AlertRule]:
    return [
        AlertRule(
            "MongoDBDown",
            f"{selector(mongodb.UP, eq('job', names.JOB_MONGODB_EXPORTER))} == 0",
            "2m",
            "critical",
            "The MongoDB exporter cannot reach MongoDB",
            f"{mongodb.UP} is 0 on {{{{ $labels.instance }}}}: MongoDB is down or the exporter's URI is wrong.",
        )
    ]


def _host_rules() -> list[AlertRule]:
    job = eq("job", names.JOB_NODE_EXPORTER)
    real_filesystems = nre(node.LABEL_FSTYPE, node.PSEUDO_FILESYSTEMS)
    avail = selector(node.FILESYSTEM_AVAIL_BYTES, job, real_filesystems)
    size = selector(node.FILESYSTEM_SIZE_BYTES, job, real_filesystems)
    memory_available = selector(node.MEMORY_MEMAVAILABLE_BYTES, job)
    memory_total = selector(node.MEMORY_MEMTOTAL_BYTES, job)
    return [
        AlertRule(
            "HostDiskAlmostFull",
            f"{avail} / {size} < 0.10",
            "15m",
            "warning",
            "A host filesystem has less than 10% space left",
            "{{ $labels.mountpoint }} has {{ $value | humanizePercentage }} free.",
        ),
        AlertRule(
            "HostMemoryLow",
            f"{memory_available} / {memory_total} < 0.10",
            "10m",
            "warning",
            "The host has less than 10% memory available",
            "{{ $value | humanizePercentage }} of memory is available.",
        ),
    ]


def _service_rules(settings: Settings) -> list[AlertRule]:
    rules = [
        AlertRule(
            "TargetDown",
            "up == 0",
            "2m",
            "critical",
            "Prometheus cannot scrape a target",
            "{{ $labels.job }} at {{ $labels.instance }} has not answered a scrape for $for.",
        ),
        *_backend_rules(),
    ]
    if settings.mongodb_exporter.enabled:
        rules += _mongodb_rules()
    if settings.node_exporter.enabled:
        rules += _host_rules()
    return rules


def _groups(settings: Settings) -> dict[str, list[AlertRule]]:
    # Imported here: stack.health_rules builds on AlertRule from this module.
    from .health_rules import alertmanager_rules, prometheus_rules, watchdog_rule

    overrides = settings.alert_rules.for_overrides
    groups = {
        "monstack": _service_rules(settings),
        "monstack-meta": [watchdog_rule(), *prometheus_rules(settings), *alertmanager_rules(settings)],
    }
    return {
        group: [replace(rule, duration=overrides.get(rule.name, rule.duration)) for rule in rules]
        for group, rules in groups.items()
    }


def alert_rules(settings: Settings) -> list[AlertRule]:
    """The rules for the services these settings deploy (with alertRules.forOverrides applied)."""
    return [rule for rules in _groups(settings).values() for rule in rules]


def unknown_for_overrides(settings: Settings) -> list[str]:
    """Names in alertRules.forOverrides that are no rule of these settings."""
    known = {rule.name for rule in alert_rules(settings)}
    return sorted(set(settings.alert_rules.for_overrides) - known)


def render_alert_rules(settings: Settings) -> dict:
    base = settings.alert_rules.runbook_base_url
    return {
        "groups": [
            {"name": group, "rules": [rule.to_dict(runbook_base_url=base) for rule in rules]}
            for group, rules in _groups(settings).items()
        ]
    }
