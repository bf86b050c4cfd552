"""prom/node-exporter v1.9.1 (the pinned image): the names the Host dashboard reads.

Every name here is also emitted by Debian's prometheus-node-exporter 1.5.0,
whose live output the metric contract test checks (the families used are
unchanged between 1.5 and 1.9).
"""

__all__ = [
    "VERSION",
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
    "MODE_IDLE",
    "PSEUDO_FILESYSTEMS",
    "LOOPBACK_DEVICE",
]

VERSION = "1.9.1"

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
# uname collector: one series per host, used to list instances
UNAME_INFO = "node_uname_info"

LABEL_CPU = "cpu"
LABEL_MODE = "mode"
LABEL_DEVICE = "device"
LABEL_FSTYPE = "fstype"
LABEL_MOUNTPOINT = "mountpoint"

MODE_IDLE = "idle"
# Filesystems that are not disks (kept out of "disk space"); a regex alternation.
PSEUDO_FILESYSTEMS = "tmpfs|ramfs|overlay|squashfs|nsfs|fuse.lxcfs|autofs"
LOOPBACK_DEVICE = "lo"
