"""Does the configured Prometheus fit what it will scrape?  Warnings for `pulumi preview`, never errors.

How it estimates (pure, settings in, text out):

- **series**: `prometheus.expectedSeries` when set; otherwise the sum over the enabled services of
  their `expected_series` per target (catalogue: node exporter 1,000 per host, cAdvisor 2,000,
  MongoDB exporter 1,500, Prometheus itself 1,000, 2,000 per backend replica), counting one replica
  per `backendTargets` entry (a DNS name may stand for more: set expectedSeries then);
- **memory**: `BASE_MEMORY_BYTES + MEMORY_BYTES_PER_SERIES x series`, times `MEMORY_HEADROOM`
  (catalogue.prometheus, measured by `python -m benchmarks.capacity`);
- **disk**: `series x samples per day (86,400 / scrapeInterval) x DISK_BYTES_PER_SAMPLE x retention
  days`, against `retentionSize` (Prometheus deletes the oldest blocks past it, so a too-small size
  cuts retentionTime short).
"""

from __future__ import annotations

from typing import Iterable

import catalogue
from catalogue import prometheus

from .settings import Settings, parse_duration_seconds

__all__ = ["disk_bytes", "expected_series", "required_memory_bytes", "sizing_warnings"]


def expected_series(settings: Settings, services: Iterable[catalogue.Service] = catalogue.SERVICES) -> int:
    if settings.prometheus.expected_series:
        return settings.prometheus.expected_series
    total = 0
    for job in catalogue.scrape_jobs(settings, services):
        service = catalogue.by_name(job.job_name, services)
        total += service.expected_series * (len(job.targets) + len(job.discovered))
    return total


def required_memory_bytes(series: int) -> int:
    steady = prometheus.BASE_MEMORY_BYTES + prometheus.MEMORY_BYTES_PER_SERIES * series
    return int(steady * prometheus.MEMORY_HEADROOM)


def disk_bytes(series: int, settings: Settings, seconds: float) -> int:
    samples = series * seconds / parse_duration_seconds(settings.prometheus.scrape_interval)
    return int(samples * prometheus.DISK_BYTES_PER_SAMPLE)


def sizing_warnings(settings: Settings, services: Iterable[catalogue.Service] = catalogue.SERVICES) -> list[str]:
    """What the configured limits cannot hold, each naming the config key to change; empty when all fits."""
    prom = settings.prometheus
    series = expected_series(settings, services)
    how = "prometheus.expectedSeries" if prom.expected_series else "estimated from the enabled services"
    warnings = []
    needed = required_memory_bytes(series)
    if needed > prom.memory_bytes:
        warnings.append(
            f"monstack:prometheus.memoryMb: {prom.memory_mb} MiB is less than the {needed / 2**20:,.0f} MiB that "
            f"{series:,} active series ({how}) need with {_headroom()} "
            f"headroom; raise it (README 'Sizing')"
        )
    retention_s = parse_duration_seconds(prom.retention_time)
    size = prom.retention_size_bytes
    if size:
        stored = disk_bytes(series, settings, retention_s)
        if stored > size:
            per_day = disk_bytes(series, settings, 86400)
            days = size / per_day if per_day else float("inf")
            warnings.append(
                f"monstack:prometheus.retentionSize: {prom.retention_size} holds about {days:.1f} days of "
                f"{series:,} active series ({how}, {per_day / 2**30:.2f} GiB a day), less than "
                f"retentionTime {prom.retention_time}: the oldest data will go first; raise retentionSize "
                f"to at least {stored / 2**30:.1f}GB or shorten retentionTime (README 'Sizing')"
            )
    return warnings


def _headroom() -> str:
    return f"{(prometheus.MEMORY_HEADROOM - 1):.0%}"
