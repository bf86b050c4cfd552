"""cAdvisor (ghcr.io/google/cadvisor v0.60.5, the pinned image): job, port, flags and the names the
Containers dashboard reads.

Why v0.60.5: since v0.54 (google/cadvisor 7eda1904, "add containerd-snapshotter support") cAdvisor
reads a container's root filesystem through containerd when Docker uses the containerd image store
(the default of new Docker Engine 29+ installs); v0.52.1 failed there with "failed to identify the
read-write layer ID" and listed no containers. Images moved from gcr.io/cadvisor/cadvisor to
ghcr.io/google/cadvisor with v0.53.0.

Source: google/cadvisor at tag v0.60.5, lib/metrics/prometheus.go (the families read here keep the
names and labels they had in v0.52.1).  With the flags
the stack passes (``--docker_only=true --store_container_labels=false``) and the
version's default ``--disable_metrics``, each container series carries the base
labels ``id``, ``name`` (the Docker container name) and ``image``; the root cgroup
(``id="/"``) has no ``name``.  There is no ``container`` label outside Kubernetes:
the dashboard's ``$container`` variable selects on ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .rules import RecordingRule
from .service import NODE_LABEL, ScrapeJob, Service, Threshold

__all__ = [
    "CONTAINERD_SOCKET",
    "JOB",
    "PORT",
    "SERVICE",
    "THRESHOLDS",
    "Thresholds",
    "VERSION",
    "flags",
    "scrape_job",
    "CPU_USAGE_SECONDS_TOTAL",
    "MEMORY_WORKING_SET_BYTES",
    "SPEC_MEMORY_LIMIT_BYTES",
    "NETWORK_RECEIVE_BYTES_TOTAL",
    "NETWORK_TRANSMIT_BYTES_TOTAL",
    "FS_READS_BYTES_TOTAL",
    "FS_WRITES_BYTES_TOTAL",
    "LAST_SEEN",
    "LABEL_NAME",
    "LABEL_IMAGE",
    "LABEL_ID",
    "LABEL_CPU",
    "LABEL_INTERFACE",
    "LABEL_DEVICE",
    "RECORDED_CPU",
    "RECORDED_FS_READS",
    "RECORDED_FS_WRITES",
    "RECORDED_MEMORY_LIMIT",
    "RECORDED_NETWORK_RECEIVE",
    "RECORDED_NETWORK_TRANSMIT",
    "RECORDED_WORKING_SET",
    "recording_rules",
]

VERSION = "0.60.5"
JOB = "cadvisor"
PORT = 8080
# containerd's socket as Docker Engine's packages (containerd.io) place it; cAdvisor's default.
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"


def flags(housekeeping_interval: str) -> tuple[str, ...]:
    """cAdvisor's command line.

    Housekeeping (collecting each container's stats) runs at the scrape interval, and never
    stretches: with dynamic housekeeping (the default) an idle container's interval grows to 60 s
    and more, and `rate()` over Grafana's `$__rate_interval` then finds fewer than two samples.
    """
    return (
        "--docker_only=true",
        "--store_container_labels=false",
        f"--housekeeping_interval={housekeeping_interval}",
        "--allow_dynamic_housekeeping=false",
        f"--containerd={CONTAINERD_SOCKET}",
        f"--port={PORT}",
    )

CPU_USAGE_SECONDS_TOTAL = "container_cpu_usage_seconds_total"  # counter {cpu}
MEMORY_WORKING_SET_BYTES = "container_memory_working_set_bytes"  # gauge
SPEC_MEMORY_LIMIT_BYTES = "container_spec_memory_limit_bytes"  # gauge, 0 when unlimited
NETWORK_RECEIVE_BYTES_TOTAL = "container_network_receive_bytes_total"  # counter {interface}
NETWORK_TRANSMIT_BYTES_TOTAL = "container_network_transmit_bytes_total"  # counter {interface}
FS_READS_BYTES_TOTAL = "container_fs_reads_bytes_total"  # counter {device} (blkio)
FS_WRITES_BYTES_TOTAL = "container_fs_writes_bytes_total"  # counter {device} (blkio)
LAST_SEEN = "container_last_seen"  # gauge, one per container: used to list containers

LABEL_NAME = "name"
LABEL_IMAGE = "image"
LABEL_ID = "id"
LABEL_CPU = "cpu"
LABEL_INTERFACE = "interface"
LABEL_DEVICE = "device"


@dataclass(frozen=True)
class Thresholds:
    """Levels of the Containers dashboard."""

    # CPU of the selection in cores (1.0 is one full core).
    cpu_cores_total: Threshold = Threshold(warning=1.5, critical=1.9)
    # CPU of one container in cores.
    cpu_cores_per_container: Threshold = Threshold(warning=0.8, critical=1.0)
    # Working set as a share of the container's memory limit.
    memory_of_limit: Threshold = Threshold(warning=0.8, critical=0.9)


THRESHOLDS = Thresholds()


# What the Containers dashboard reads, recorded once a minute per container (catalogue.rules): one
# series per container and target instead of one per cgroup, CPU, interface and device, and a
# quarter of the samples over a day. The labels kept are those the dashboard selects on.
PER_CONTAINER = ("job", "instance", NODE_LABEL, LABEL_NAME)
_CPU_RULE = RecordingRule.summed_rate(CPU_USAGE_SECONDS_TOTAL, PER_CONTAINER)
_NETWORK_RECEIVE_RULE = RecordingRule.summed_rate(NETWORK_RECEIVE_BYTES_TOTAL, PER_CONTAINER)
_NETWORK_TRANSMIT_RULE = RecordingRule.summed_rate(NETWORK_TRANSMIT_BYTES_TOTAL, PER_CONTAINER)
_FS_READS_RULE = RecordingRule.summed_rate(FS_READS_BYTES_TOTAL, PER_CONTAINER)
_FS_WRITES_RULE = RecordingRule.summed_rate(FS_WRITES_BYTES_TOTAL, PER_CONTAINER)
_WORKING_SET_RULE = RecordingRule.summed_gauge(MEMORY_WORKING_SET_BYTES, PER_CONTAINER)
_MEMORY_LIMIT_RULE = RecordingRule.summed_gauge(SPEC_MEMORY_LIMIT_BYTES, PER_CONTAINER)
RECORDED_CPU = _CPU_RULE.record
RECORDED_NETWORK_RECEIVE = _NETWORK_RECEIVE_RULE.record
RECORDED_NETWORK_TRANSMIT = _NETWORK_TRANSMIT_RULE.record
RECORDED_FS_READS = _FS_READS_RULE.record
RECORDED_FS_WRITES = _FS_WRITES_RULE.record
RECORDED_WORKING_SET = _WORKING_SET_RULE.record
RECORDED_MEMORY_LIMIT = _MEMORY_LIMIT_RULE.record


def recording_rules() -> list[RecordingRule]:
    return [_CPU_RULE, _NETWORK_RECEIVE_RULE, _NETWORK_TRANSMIT_RULE, _FS_READS_RULE, _FS_WRITES_RULE,
            _WORKING_SET_RULE, _MEMORY_LIMIT_RULE]


def scrape_job(settings: Any) -> ScrapeJob:
    return ScrapeJob(JOB, (f"{JOB}:{PORT}",))


# Active series per cAdvisor (one host): about 50 per container with the flags the stack passes, 40 containers.
EXPECTED_SERIES = 2_000

SERVICE = Service(JOB, settings_key="cadvisor", port=PORT, scrape=scrape_job, dashboard="containers",
                  recording_rules=recording_rules, expected_series=EXPECTED_SERIES)
