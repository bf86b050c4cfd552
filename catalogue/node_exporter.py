"""node exporter (prom/node-exporter v1.9.1, the pinned image): job, how Prometheus reaches it, the names
the Host dashboard and the host alerts read, their thresholds, and the alert rules.

Every name here is also emitted by Debian's prometheus-node-exporter 1.5.0,
whose live output the metric contract test checks (the families used are
unchanged between 1.5 and 1.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .promql import eq, nre, selector
from .rules import AlertRule
from .service import ScrapeJob, Service, Threshold

__all__ = [
    "HOST_ALIAS",
    "JOB",
    "SERVICE",
    "THRESHOLDS",
    "Thresholds",
    "VERSION",
    "alert_rules",
    "scrape_job",
    "CPU_SECONDS_TOTAL",
    "LOAD1",
    "LOAD5",
    "LOAD15",
    "MEMORY_MEMTOTAL_BYTES",
    "MEMORY_MEMAVAILABLE_BYTES",
    "FILESYSTEM_AVAIL_BYTES",
    "FILESYSTEM_SIZE_BYTES",
    "DISK_READ_BYTES_TOTAL",
    "DISK_WRITTEN_BYTES_TOTAL",
    "DISK_IO_TIME_SECONDS_TOTAL",
    "NETWORK_RECEIVE_BYTES_TOTAL",
    "NETWORK_TRANSMIT_BYTES_TOTAL",
    "UNAME_INFO",
    "LABEL_CPU",
    "LABEL_MODE",
    "LABEL_DEVICE",
    "LABEL_FSTYPE",
    "LABEL_MOUNTPOINT",
    "LABEL_NODENAME",
    "MODE_IDLE",
    "PSEUDO_FILESYSTEMS",
    "LOOPBACK_DEVICE",
]

VERSION = "1.9.1"
JOB = "node-exporter"
# node exporter runs in the host's network namespace; Prometheus reaches it by this name,
# an /etc/hosts entry in the Prometheus container pointing at its listen address.
HOST_ALIAS = "node-exporter.host"

# cpu collector
CPU_SECONDS_TOTAL = "node_cpu_seconds_total"  # counter {cpu, mode}
# loadavg collector
LOAD1 = "node_load1"
LOAD5 = "node_load5"
LOAD15 = "node_load15"
# meminfo collector (one gauge per /proc/meminfo field)
MEMORY_MEMTOTAL_BYTES = "node_memory_MemTotal_bytes"
MEMORY_MEMAVAILABLE_BYTES = "node_memory_MemAvailable_bytes"
# filesystem collector: gauges {device, fstype, mountpoint}
FILESYSTEM_AVAIL_BYTES = "node_filesystem_avail_bytes"
FILESYSTEM_SIZE_BYTES = "node_filesystem_size_bytes"
# diskstats collector: counters {device}
DISK_READ_BYTES_TOTAL = "node_disk_read_bytes_total"
DISK_WRITTEN_BYTES_TOTAL = "node_disk_written_bytes_total"
DISK_IO_TIME_SECONDS_TOTAL = "node_disk_io_time_seconds_total"
# netdev collector: counters {device}
NETWORK_RECEIVE_BYTES_TOTAL = "node_network_receive_bytes_total"
NETWORK_TRANSMIT_BYTES_TOTAL = "node_network_transmit_bytes_total"
# uname collector: one series per host, used to list nodes and their instances
UNAME_INFO = "node_uname_info"  # gauge 1 {nodename, release, ...}

LABEL_CPU = "cpu"
LABEL_MODE = "mode"
LABEL_DEVICE = "device"
LABEL_FSTYPE = "fstype"
LABEL_MOUNTPOINT = "mountpoint"
# node_uname_info: the host name as uname(2) gives it. On Swarm node exporter runs with hostname
# {{.Node.Hostname}}, so this names the node even where no target carries a node label.
LABEL_NODENAME = "nodename"

MODE_IDLE = "idle"
# Filesystems that are not disks (kept out of "disk space"); a regex alternation.
PSEUDO_FILESYSTEMS = "tmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs|autofs"
LOOPBACK_DEVICE = "lo"


@dataclass(frozen=True)
class Thresholds:
    """Levels of host resources in use, read by the host alerts and the Host dashboard alike."""

    # Share in use of CPU, memory and the fullest filesystem; the alerts fire above the critical level.
    usage: Threshold = Threshold(warning=0.8, critical=0.9)
    # 1-minute load per CPU.
    load_per_cpu: Threshold = Threshold(warning=1.0, critical=2.0)


THRESHOLDS = Thresholds()


def scrape_job(settings: Any) -> ScrapeJob:
    return ScrapeJob(JOB, (f"{HOST_ALIAS}:{settings.node_exporter.port}",))


def alert_rules() -> list[AlertRule]:
    job = eq("job", JOB)
    real_filesystems = nre(LABEL_FSTYPE, PSEUDO_FILESYSTEMS)
    avail = selector(FILESYSTEM_AVAIL_BYTES, job, real_filesystems)
    size = selector(FILESYSTEM_SIZE_BYTES, job, real_filesystems)
    memory_available = selector(MEMORY_MEMAVAILABLE_BYTES, job)
    memory_total = selector(MEMORY_MEMTOTAL_BYTES, job)
    free = 1 - THRESHOLDS.usage.critical  # alert on what is left
    return [
        AlertRule(
            "HostDiskAlmostFull",
            f"{avail} / {size} < {free:.2f}",
            "15m",
            "warning",
            f"A host filesystem has less than {free:.0%} space left",
            "{{ $labels.mountpoint }} has {{ $value | humanizePercentage }} free.",
        ),
        AlertRule(
            "HostMemoryLow",
            f"{memory_available} / {memory_total} < {free:.2f}",
            "10m",
            "warning",
            f"The host has less than {free:.0%} memory available",
            "{{ $value | humanizePercentage }} of memory is available.",
        ),
    ]


# Active series per host with the default collectors (Debian's node exporter shows about 800 on a 2-CPU VM).
EXPECTED_SERIES = 1_000

SERVICE = Service(JOB, settings_key="node_exporter", scrape=scrape_job, alert_rules=alert_rules, dashboard="host",
                  expected_series=EXPECTED_SERIES)
