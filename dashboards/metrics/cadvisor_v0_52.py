"""gcr.io/cadvisor/cadvisor v0.52.1 (the pinned image): the names the Containers dashboard reads.

Source: google/cadvisor at tag v0.52.1, metrics/prometheus.go.  With the flags
the stack passes (``--docker_only=true --store_container_labels=false``) and the
version's default ``--disable_metrics``, each container series carries the base
labels ``id``, ``name`` (the Docker container name) and ``image``; the root cgroup
(``id="/"``) has no ``name``.  There is no ``container`` label outside Kubernetes:
the dashboard's ``$container`` variable selects on ``name``.
"""

__all__ = [
    "VERSION",
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
]

VERSION = "0.52.1"

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
