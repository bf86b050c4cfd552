"""Prometheus itself: its port, its self-scrape, the alert every target shares (TargetDown), what it
costs per series (measured by `python -m benchmarks.capacity`), and the alerts that fire before it
runs out of memory or of retention size, from its own metrics (no cAdvisor needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .promql import eq, selector
from .rules import AlertRule
from .service import ScrapeJob, Service, Threshold

__all__ = [
    "BASE_MEMORY_BYTES",
    "DISK_BYTES_PER_SAMPLE",
    "EXPECTED_SERIES",
    "JOB",
    "MEMORY_BYTES_PER_SERIES",
    "MEMORY_HEADROOM",
    "PORT",
    "SERVICE",
    "THRESHOLDS",
    "Thresholds",
    "alert_rules",
    "capacity_alert_rules",
    "scrape_job",
]

JOB = "prometheus"
PORT = 9090  # the image's default listen port inside the container
TARGET_DOWN_FOR = "2m"
# Its own series (self-scrape): about this many on the pinned version.
EXPECTED_SERIES = 1_000

# Measured by `python -m benchmarks.capacity` (README "Sizing", one run on the machine named there):
# resident memory = BASE_MEMORY_BYTES + MEMORY_BYTES_PER_SERIES x active series, at steady state;
# compacted blocks hold DISK_BYTES_PER_SAMPLE per sample.
# Run of 2026-11-30 (docs/capacity-run.json): RSS slope 5,522 B/series, intercept 79 MiB; blocks of
# 22.5 h of history 3.86 B/sample (synthetic values compress worse than most: an upper bound).
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


def alert_rules() -> list[AlertRule]:
    return [
        AlertRule(
            "TargetDown",
            "up == 0",
            TARGET_DOWN_FOR,
            "critical",
            "Prometheus cannot scrape a target",
            f"{{{{ $labels.job }}}} at {{{{ $labels.instance }}}} has been down for {_minutes(TARGET_DOWN_FOR)}.",
        )
    ]


def _minutes(duration: str) -> str:
    count = int(duration.removesuffix("m"))
    return f"{count} minute{'s' if count != 1 else ''}"


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
