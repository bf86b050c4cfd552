"""Rules about the monitoring pipeline itself: the Watchdog, Prometheus' and Alertmanager's health.

Thresholds and `for` durations are those of the upstream mixins (prometheus/prometheus
documentation/prometheus-mixin/alerts.libsonnet, prometheus/alertmanager
doc/alertmanager-mixin/alerts.libsonnet), with one stack's selectors (`job`).  Where a rule
differs, the comment says why.
"""

from __future__ import annotations

from dashboards.metrics import alertmanager_v0_34 as am
from dashboards.metrics import prometheus_v3_5 as prom
from dashboards.promql import eq, increase, rate, selector

from . import names
from .alerts import AlertRule
from .settings import Settings

__all__ = ["WATCHDOG", "alertmanager_rules", "prometheus_rules", "watchdog_rule"]

WATCHDOG = "Watchdog"


def watchdog_rule() -> AlertRule:
    # Always firing: Alertmanager sends it to a dead man's switch every
    # alertmanager.route.watchdogRepeatInterval; silence from it means the pipeline is broken.
    return AlertRule(
        WATCHDOG,
        "vector(1)",
        "0m",
        "none",
        "The alerting pipeline works (this alert always fires)",
        "Prometheus evaluates rules and Alertmanager delivers notifications. "
        "If the dead man's switch stops receiving this alert, one of them is down.",
    )


def prometheus_rules(settings: Settings) -> list[AlertRule]:
    job = eq("job", names.JOB_PROMETHEUS)
    errors = rate(selector(prom.NOTIFICATIONS_ERRORS_TOTAL, job), "5m")
    sent = rate(selector(prom.NOTIFICATIONS_SENT_TOTAL, job), "5m")
    rules = [
        AlertRule(
            "PrometheusBadConfig",
            f"max_over_time({selector(prom.CONFIG_LAST_RELOAD_SUCCESSFUL, job)}[5m]) == 0",
            "10m",
            "critical",
            "Prometheus failed to reload its configuration",
            "Prometheus at {{ $labels.instance }} runs an older configuration: the last reload failed.",
        ),
        AlertRule(
            "PrometheusRuleFailures",
            f"{increase(selector(prom.RULE_EVALUATION_FAILURES_TOTAL, job), '5m')} > 0",
            "15m",
            "critical",
            "Prometheus is failing to evaluate rules",
            'Prometheus failed to evaluate {{ printf "%.0f" $value }} rules of group '
            "{{ $labels.rule_group }} in the last 5 minutes: those alerts cannot fire.",
        ),
        AlertRule(
            "PrometheusNotificationQueueRunningFull",
            f"predict_linear({selector(prom.NOTIFICATIONS_QUEUE_LENGTH, job)}[5m], 60 * 30) > "
            f"min_over_time({selector(prom.NOTIFICATIONS_QUEUE_CAPACITY, job)}[5m])",
            "15m",
            "warning",
            "Prometheus' alert notification queue is running full",
            "At the current rate the queue of alerts to send ({{ $value | humanize }} predicted) "
            "overflows within 30 minutes: alerts will be dropped.",
        ),
        AlertRule(
            "PrometheusNotificationsDropped",
            # Not in the mixin: dropped alerts are notifications that never reached any
            # Alertmanager (queue overflow, or every Alertmanager failed).
            f"{increase(selector(prom.NOTIFICATIONS_DROPPED_TOTAL, job), '5m')} > 0",
            "15m",
            "warning",
            "Prometheus is dropping alert notifications",
            'Prometheus dropped {{ printf "%.0f" $value }} alert notifications in the last 5 minutes.',
        ),
        AlertRule(
            "PrometheusTSDBCompactionsFailing",
            f"{increase(selector(prom.TSDB_COMPACTIONS_FAILED_TOTAL, job), '3h')} > 0",
            "4h",
            "warning",
            "Prometheus' TSDB compactions are failing",
            'Prometheus at {{ $labels.instance }} failed {{ printf "%.0f" $value }} compactions in the last 3 hours: '
            "the disk fills with uncompacted blocks.",
        ),
        AlertRule(
            "PrometheusWALCorrupted",
            # The mixin dropped an increase() alert on this counter (commit dd17496): it only
            # moves when the TSDB opens, at start-up. Its value says whether this process
            # started by repairing a corrupted write-ahead log.
            f"{selector(prom.TSDB_WAL_CORRUPTIONS_TOTAL, job)} > 0",
            "0m",
            "warning",
            "Prometheus repaired a corrupted write-ahead log at start-up",
            "Prometheus at {{ $labels.instance }} found {{ $value }} WAL corruption(s) when it started "
            "and dropped the samples after the corruption.",
        ),
    ]
    if settings.alertmanager.enabled:
        rules += [
            AlertRule(
                "PrometheusNotConnectedToAlertmanagers",
                f"max_over_time({selector(prom.NOTIFICATIONS_ALERTMANAGERS_DISCOVERED, job)}[5m]) < 1",
                "10m",
                "warning",
                "Prometheus is not connected to any Alertmanager",
                "Prometheus at {{ $labels.instance }} knows {{ $value }} Alertmanagers: no alert reaches anyone.",
            ),
            AlertRule(
                "PrometheusErrorSendingAlertsToAnyAlertmanager",
                f"min without ({prom.LABEL_ALERTMANAGER}) ({errors} / {sent}) * 100 > 3",
                "15m",
                "critical",
                "Prometheus fails to send alerts to every Alertmanager",
                "{{ $value | humanize }}% of the alerts sent by Prometheus to Alertmanager failed over 5 minutes.",
            ),
        ]
    return rules


def alertmanager_rules(settings: Settings) -> list[AlertRule]:
    if not settings.alertmanager.enabled:
        return []
    job = eq("job", names.JOB_ALERTMANAGER)
    failed = rate(selector(am.NOTIFICATIONS_FAILED_TOTAL, job), "15m")
    total = rate(selector(am.NOTIFICATIONS_TOTAL, job), "15m")
    return [
        AlertRule(
            "AlertmanagerFailedReload",
            f"max_over_time({selector(am.CONFIG_LAST_RELOAD_SUCCESSFUL, job)}[5m]) == 0",
            "10m",
            "critical",
            "Alertmanager failed to reload its configuration",
            "Alertmanager at {{ $labels.instance }} runs an older configuration: the last reload failed.",
        ),
        AlertRule(
            "AlertmanagerFailedToSendAlerts",
            f"({failed} / ignoring ({am.LABEL_REASON}) group_left {total}) > 0.01",
            "5m",
            "warning",
            "Alertmanager fails to deliver notifications",
            "Alertmanager at {{ $labels.instance }} failed to send {{ $value | humanizePercentage }} of "
            "its {{ $labels.integration }} notifications over 15 minutes.",
        ),
    ]

