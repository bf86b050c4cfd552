"""Prometheus itself (prom/prometheus v3.5.0, the pinned image): its port, its self-scrape, the
alert every target shares (TargetDown), the Watchdog, the rules about its own health, what it
costs per series (measured by `python -m benchmarks.capacity`), and the alerts that fire before it
runs out of memory or of retention size, from its own metrics (no cAdvisor needed).

The names of its own metrics are also exposed by Debian's prometheus 2.42 (the ci stack's image);
the live e2e test checks that every rule evaluates without error against it. Thresholds and `for`
durations are the prometheus-mixin's (prometheus/prometheus documentation/prometheus-mixin/
alerts.libsonnet); where a rule differs, its comment says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .promql import eq, increase, selector
from .rules import AlertRule
from .service import ScrapeJob, Service, Threshold

__all__ = [
    "BASE_MEMORY_BYTES",
    "DISK_BYTES_PER_SAMPLE",
    "EXPECTED_SERIES",
    "MEMORY_BYTES_PER_SERIES",
    "MEMORY_HEADROOM",
    "THRESHOLDS",
    "Thresholds",
    "capacity_alert_rules",
    "JOB",
    "PORT",
    "SERVICE",
    "VERSION",
    "WATCHDOG",
    "TARGET_DOWN",
    "alert_rules",
    "scrape_job",
    "target_down_rule",
    "CONFIG_LAST_RELOAD_SUCCESSFUL",
    "RULE_EVALUATION_FAILURES_TOTAL",
    "NOTIFICATIONS_ERRORS_TOTAL",
    "NOTIFICATIONS_SENT_TOTAL",
    "NOTIFICATIONS_DROPPED_TOTAL",
    "NOTIFICATIONS_QUEUE_LENGTH",
    "NOTIFICATIONS_QUEUE_CAPACITY",
    "NOTIFICATIONS_ALERTMANAGERS_DISCOVERED",
    "TSDB_COMPACTIONS_FAILED_TOTAL",
    "TSDB_WAL_CORRUPTIONS_TOTAL",
    "LABEL_ALERTMANAGER",
    "LABEL_RULE_GROUP",
]

VERSION = "3.5.0"
JOB = "prometheus"
PORT = 9090  # the image's default listen port inside the container
TARGET_DOWN = "TargetDown"
TARGET_DOWN_FOR = "2m"
WATCHDOG = "Watchdog"

CONFIG_LAST_RELOAD_SUCCESSFUL = "prometheus_config_last_reload_successful"  # gauge 0/1
RULE_EVALUATION_FAILURES_TOTAL = "prometheus_rule_evaluation_failures_total"  # counter {rule_group}
NOTIFICATIONS_ERRORS_TOTAL = "prometheus_notifications_errors_total"  # counter {alertmanager}
NOTIFICATIONS_SENT_TOTAL = "prometheus_notifications_sent_total"  # counter {alertmanager}
NOTIFICATIONS_DROPPED_TOTAL = "prometheus_notifications_dropped_total"  # counter
NOTIFICATIONS_QUEUE_LENGTH = "prometheus_notifications_queue_length"  # gauge
NOTIFICATIONS_QUEUE_CAPACITY = "prometheus_notifications_queue_capacity"  # gauge
NOTIFICATIONS_ALERTMANAGERS_DISCOVERED = "prometheus_notifications_alertmanagers_discovered"  # gauge
TSDB_COMPACTIONS_FAILED_TOTAL = "prometheus_tsdb_compactions_failed_total"  # counter
# Counts WAL repairs when the TSDB opens, at start-up only (tsdb/head.go): 0, or 1 after a repair.
TSDB_WAL_CORRUPTIONS_TOTAL = "prometheus_tsdb_wal_corruptions_total"  # counter

LABEL_ALERTMANAGER = "alertmanager"
LABEL_RULE_GROUP = "rule_group"

# Its own series (self-scrape): about this many on the pinned version.
EXPECTED_SERIES = 1_000

# Measured by `python -m benchmarks.capacity` (README "Sizing", one run on the machine named there):
# resident memory = BASE_MEMORY_BYTES + MEMORY_BYTES_PER_SERIES x active series, at steady state;
# compacted blocks hold DISK_BYTES_PER_SAMPLE per sample.
# Three runs of 2026-11-30 fitted RSS slopes of 5,522, 4,892 and 3,984 B/series (intercepts 79, 53 and
# 77 MiB; the last is docs/capacity-run.json): these constants hold the highest. Blocks of a day of
# history held 3.82-3.86 B/sample (synthetic values compress worse than most: an upper bound).
MEMORY_BYTES_PER_SERIES = 5_500
BASE_MEMORY_BYTES = 80 * 2**20
DISK_BYTES_PER_SAMPLE = 3.9
# Room above the steady state for compaction, queries over long ranges and Go's garbage collector.
MEMORY_HEADROOM = 1.5


@dataclass(frozen=True)
class Thresholds:
    # Resident memory as a share of the container's memory limit; the alert fires above critical.
    memory: Threshold = Threshold(warning=0.7, critical=0.8)
    # Blocks + WAL + head chunks as a share of retentionSize; the alert fires above critical.
    storage: Threshold = Threshold(warning=0.8, critical=0.9)


THRESHOLDS = Thresholds()


def scrape_job(settings: Any) -> ScrapeJob:
    return ScrapeJob(JOB, (f"localhost:{PORT}",))


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


def _health_rules() -> list[AlertRule]:
    job = eq("job", JOB)
    return [
        AlertRule(
            "PrometheusBadConfig",
            f"max_over_time({selector(CONFIG_LAST_RELOAD_SUCCESSFUL, job)}[5m]) == 0",
            "10m",
            "critical",
            "Prometheus failed to reload its configuration",
            "Prometheus at {{ $labels.instance }} runs an older configuration: the last reload failed.",
        ),
        AlertRule(
            "PrometheusRuleFailures",
            f"{increase(selector(RULE_EVALUATION_FAILURES_TOTAL, job), '5m')} > 0",
            "15m",
            "critical",
            "Prometheus is failing to evaluate rules",
            'Prometheus failed to evaluate {{ printf "%.0f" $value }} rules of group '
            "{{ $labels.rule_group }} in the last 5 minutes: those alerts cannot fire.",
        ),
        AlertRule(
            "PrometheusNotificationQueueRunningFull",
            f"predict_linear({selector(NOTIFICATIONS_QUEUE_LENGTH, job)}[5m], 60 * 30) > "
            f"min_over_time({selector(NOTIFICATIONS_QUEUE_CAPACITY, job)}[5m])",
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
            f"{increase(selector(NOTIFICATIONS_DROPPED_TOTAL, job), '5m')} > 0",
            "15m",
            "warning",
            "Prometheus is dropping alert notifications",
            'Prometheus dropped {{ printf "%.0f" $value }} alert notifications in the last 5 minutes.',
        ),
        AlertRule(
            "PrometheusTSDBCompactionsFailing",
            f"{increase(selector(TSDB_COMPACTIONS_FAILED_TOTAL, job), '3h')} > 0",
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
            f"{selector(TSDB_WAL_CORRUPTIONS_TOTAL, job)} > 0",
            "0m",
            "warning",
            "Prometheus repaired a corrupted write-ahead log at start-up",
            "Prometheus at {{ $labels.instance }} found {{ $value }} WAL corruption(s) when it started "
            "and dropped the samples after the corruption.",
        ),
    ]


def target_down_rule(discovered_jobs: tuple[str, ...] = ()) -> AlertRule:
    """`up == 0` for every target; and for each job whose targets are discovered by DNS, the job
    having no target at all: when every replica behind a name is gone, DNS answers NXDOMAIN,
    Prometheus drops the targets (discovery/dns: an empty answer is a valid one) and no `up`
    series is left to be 0."""
    expr = " or ".join(["up == 0", *(f"absent({selector('up', eq('job', job))})" for job in discovered_jobs)])
    return AlertRule(
        TARGET_DOWN,
        expr,
        TARGET_DOWN_FOR,
        "critical",
        "Prometheus cannot scrape a target",
        # `$for` is the rule's `for` duration, overrides included (catalogue.rules).
        "{{ $labels.job }} {{ with $labels.instance }}at {{ . }} has not answered a scrape{{ else }}"
        "has no target left to scrape (none is discovered){{ end }} for $for.",
    )


def alert_rules() -> list[AlertRule]:
    return [target_down_rule(), watchdog_rule(), *_health_rules()]


def capacity_alert_rules(settings: Any) -> list[AlertRule]:
    """Alerts before Prometheus reaches its memory limit or its retention size, the configured limits
    written into the rules as constants (Prometheus does not know its container's limit)."""
    t = THRESHOLDS
    job = eq("job", JOB)
    limit = settings.prometheus.memory_bytes
    rules = [
        AlertRule(
            "PrometheusNearMemoryLimit",
            f"{selector('process_resident_memory_bytes', job)} / {limit} > {t.memory.critical:g}",
            "10m",
            "warning",
            f"Prometheus uses more than {t.memory.critical:.0%} of its {limit // 2**20} MiB memory limit",
            "Resident memory is {{ $value | humanizePercentage }} of the limit: raise prometheus.memoryMb or "
            "reduce series before it is OOM-killed (README 'Sizing').",
        )
    ]
    size = settings.prometheus.retention_size_bytes
    if size:
        stored = " + ".join(
            selector(metric, job)
            for metric in ("prometheus_tsdb_storage_blocks_bytes", "prometheus_tsdb_wal_storage_size_bytes",
                           "prometheus_tsdb_head_chunks_storage_size_bytes")
        )
        rules.append(
            AlertRule(
                "PrometheusNearRetentionSize",
                f"({stored}) / {size} > {t.storage.critical:g}",
                "30m",
                "warning",
                f"Prometheus' storage is above {t.storage.critical:.0%} of retentionSize "
                f"({settings.prometheus.retention_size})",
                "Blocks, WAL and head chunks take {{ $value | humanizePercentage }} of retentionSize: Prometheus "
                "will delete data younger than retentionTime. Raise prometheus.retentionSize (and the volume).",
            )
        )
    return rules


SERVICE = Service(
    JOB,
    port=PORT,
    scrape=scrape_job,
    alert_rules=alert_rules,
    settings_alert_rules=capacity_alert_rules,
    expected_series=EXPECTED_SERIES,
)
