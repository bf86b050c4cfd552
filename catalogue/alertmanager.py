"""Alertmanager (prom/alertmanager v0.34.0, the pinned image): job, port and alias, the names of its
own metrics, the uid of its Grafana datasource, and the rules about the alerting path (Prometheus
to Alertmanager to people).

Every metric name is also exposed by Debian's prometheus-alertmanager 0.25 (the ci stack's
image). Thresholds and `for` durations are the alertmanager-mixin's (prometheus/alertmanager
doc/alertmanager-mixin/alerts.libsonnet) and the prometheus-mixin's for the notifier.
"""

from __future__ import annotations

from typing import Any

from . import prometheus
from .promql import eq, rate, selector
from .rules import AlertRule
from .service import ScrapeJob, Service

__all__ = [
    "DATASOURCE_UID",
    "JOB",
    "PORT",
    "SERVICE",
    "TARGET",
    "VERSION",
    "alert_rules",
    "scrape_job",
    "CONFIG_LAST_RELOAD_SUCCESSFUL",
    "NOTIFICATIONS_FAILED_TOTAL",
    "NOTIFICATIONS_TOTAL",
    "LABEL_INTEGRATION",
    "LABEL_REASON",
]

VERSION = "0.34.0"
JOB = "alertmanager"
PORT = 9093  # the image's default listen port inside the container
TARGET = f"{JOB}:{PORT}"
# The uid of Grafana's provisioned Alertmanager datasource.
DATASOURCE_UID = "monstack-alertmanager"

CONFIG_LAST_RELOAD_SUCCESSFUL = "alertmanager_config_last_reload_successful"  # gauge 0/1
NOTIFICATIONS_FAILED_TOTAL = "alertmanager_notifications_failed_total"  # counter {integration[, reason]}
NOTIFICATIONS_TOTAL = "alertmanager_notifications_total"  # counter {integration}
LABEL_INTEGRATION = "integration"
# Added in 0.26 (absent in 0.25); the rules ignore it so that they hold for both.
LABEL_REASON = "reason"


def scrape_job(settings: Any) -> ScrapeJob:
    return ScrapeJob(JOB, (TARGET,))


def alert_rules() -> list[AlertRule]:
    own = eq("job", JOB)
    prom = eq("job", prometheus.JOB)
    failed = rate(selector(NOTIFICATIONS_FAILED_TOTAL, own), "15m")
    total = rate(selector(NOTIFICATIONS_TOTAL, own), "15m")
    errors = rate(selector(prometheus.NOTIFICATIONS_ERRORS_TOTAL, prom), "5m")
    sent = rate(selector(prometheus.NOTIFICATIONS_SENT_TOTAL, prom), "5m")
    return [
        AlertRule(
            "PrometheusNotConnectedToAlertmanagers",
            f"max_over_time({selector(prometheus.NOTIFICATIONS_ALERTMANAGERS_DISCOVERED, prom)}[5m]) < 1",
            "10m",
            "warning",
            "Prometheus is not connected to any Alertmanager",
            "Prometheus at {{ $labels.instance }} knows {{ $value }} Alertmanagers: no alert reaches anyone.",
        ),
        AlertRule(
            "PrometheusErrorSendingAlertsToAnyAlertmanager",
            f"min without ({prometheus.LABEL_ALERTMANAGER}) ({errors} / {sent}) * 100 > 3",
            "15m",
            "critical",
            "Prometheus fails to send alerts to every Alertmanager",
            "{{ $value | humanize }}% of the alerts sent by Prometheus to Alertmanager failed over 5 minutes.",
        ),
        AlertRule(
            "AlertmanagerFailedReload",
            f"max_over_time({selector(CONFIG_LAST_RELOAD_SUCCESSFUL, own)}[5m]) == 0",
            "10m",
            "critical",
            "Alertmanager failed to reload its configuration",
            "Alertmanager at {{ $labels.instance }} runs an older configuration: the last reload failed.",
        ),
        AlertRule(
            "AlertmanagerFailedToSendAlerts",
            f"({failed} / ignoring ({LABEL_REASON}) group_left {total}) > 0.01",
            "5m",
            "warning",
            "Alertmanager fails to deliver notifications",
            "Alertmanager at {{ $labels.instance }} failed to send {{ $value | humanizePercentage }} of "
            "its {{ $labels.integration }} notifications over 15 minutes.",
        ),
    ]


SERVICE = Service(JOB, settings_key="alertmanager", port=PORT, scrape=scrape_job, alert_rules=alert_rules)
