"""Host dashboard (node exporter): CPU, load, memory, disk space and I/O, network."""

from __future__ import annotations

from catalogue import node_exporter as ne
from catalogue.promql import aggregate, eq, ne as not_eq, nre, rate, re, selector, var
from grafanalib import formatunits as units

from .panels import Query, Row, dashboard, query_variable, stat, timeseries

__all__ = ["UID", "TITLE", "FILENAME", "build"]

UID = "monstack-host"
TITLE = "Host"
FILENAME = "host.json"

# Panels filter on instance; the node picker reaches them through the hidden $instance variable,
# which lists the instances whose node_uname_info names a selected node. That works wherever node
# exporter runs: one engine, Swarm with DNS discovery (no node target label), Swarm service discovery.
_TARGET = (eq("job", var("job")), re("instance", var("instance")))
_REAL_FS = (*_TARGET, nre(ne.LABEL_FSTYPE, ne.PSEUDO_FILESYSTEMS))


def _cpu(*extra: str) -> str:
    return rate(selector(ne.CPU_SECONDS_TOTAL, *_TARGET, *extra))


def _fs_used() -> str:
    return f"1 - {selector(ne.FILESYSTEM_AVAIL_BYTES, *_REAL_FS)} / {selector(ne.FILESYSTEM_SIZE_BYTES, *_REAL_FS)}"


def build():
    _USAGE = ne.THRESHOLDS.usage.steps()  # the same levels the host alerts fire at
    idle = eq(ne.LABEL_MODE, ne.MODE_IDLE)
    mem_total = selector(ne.MEMORY_MEMTOTAL_BYTES, *_TARGET)
    mem_available = selector(ne.MEMORY_MEMAVAILABLE_BYTES, *_TARGET)
    cpus = aggregate("count", selector(ne.CPU_SECONDS_TOTAL, *_TARGET, idle))
    devices = (*_TARGET, not_eq(ne.LABEL_DEVICE, ne.LOOPBACK_DEVICE))

    overview = Row("Overview", [
        stat("CPU utilisation", Query(f"1 - {aggregate('avg', _cpu(idle))}"), unit=units.PERCENT_UNIT,
             thresholds=_USAGE, description="Share of CPU time not idle, averaged over all CPUs."),
        stat("Memory used", Query(f"1 - {aggregate('sum', mem_available)} / {aggregate('sum', mem_total)}"),
             unit=units.PERCENT_UNIT, thresholds=_USAGE,
             description="1 - MemAvailable / MemTotal: memory the kernel cannot hand out without swapping."),
        stat("Fullest filesystem", Query(aggregate("max", _fs_used())), unit=units.PERCENT_UNIT,
             thresholds=_USAGE, description="Used share of the fullest real (non-tmpfs/overlay) filesystem."),
        stat("Load (1m) per CPU", Query(f"{aggregate('sum', selector(ne.LOAD1, *_TARGET))} / {cpus}"),
             unit=units.SHORT, thresholds=ne.THRESHOLDS.load_per_cpu.steps(),
             description="1-minute load average divided by the number of CPUs; above 1 means a run queue."),
    ])
    cpu = Row("CPU and load", [
        timeseries("CPU utilisation by mode",
                   Query(aggregate("avg", _cpu(not_eq(ne.LABEL_MODE, ne.MODE_IDLE)), by=("instance", ne.LABEL_MODE)),
                         "{{instance}} {{%s}}" % ne.LABEL_MODE),
                   unit=units.PERCENT_UNIT, stacked=True, thresholds=_USAGE,
                   description="Share of CPU time per mode (user, system, iowait...), averaged over CPUs."),
        timeseries("Load average",
                   *(Query(selector(metric, *_TARGET), "%s {{instance}}" % label)
                     for metric, label in ((ne.LOAD1, "1m"), (ne.LOAD5, "5m"), (ne.LOAD15, "15m"))),
                   unit=units.SHORT, description="1, 5 and 15 minute load averages."),
    ])
    memory = Row("Memory", [
        timeseries("Memory",
                   Query(f"{mem_total} - {mem_available}", "used {{instance}}"),
                   Query(mem_available, "available {{instance}}"),
                   Query(mem_total, "total {{instance}}"),
                   unit=units.BYTES_IEC, width=24, description="Used (total - available), available and total memory."),
    ])
    disk = Row("Disk", [
        timeseries("Disk space used by mountpoint",
                   Query(_fs_used(), "{{instance}} {{%s}}" % ne.LABEL_MOUNTPOINT),
                   unit=units.PERCENT_UNIT, thresholds=_USAGE, width=8,
                   description="Used share of each real filesystem (tmpfs, overlay and similar left out)."),
        timeseries("Disk throughput",
                   Query(aggregate("sum", rate(selector(ne.DISK_READ_BYTES_TOTAL, *_TARGET)), by=("instance", ne.LABEL_DEVICE)),
                         "read {{instance}} {{%s}}" % ne.LABEL_DEVICE),
                   Query(aggregate("sum", rate(selector(ne.DISK_WRITTEN_BYTES_TOTAL, *_TARGET)), by=("instance", ne.LABEL_DEVICE)),
                         "written {{instance}} {{%s}}" % ne.LABEL_DEVICE),
                   unit=units.BYTES_SEC, width=8, description="Bytes read and written per second, by block device."),
        timeseries("Disk busy time",
                   Query(aggregate("sum", rate(selector(ne.DISK_IO_TIME_SECONDS_TOTAL, *_TARGET)), by=("instance", ne.LABEL_DEVICE)),
                         "{{instance}} {{%s}}" % ne.LABEL_DEVICE),
                   unit=units.PERCENT_UNIT, thresholds=_USAGE, width=8,
                   description="Share of time each device had I/O in flight (saturation when near 100%)."),
    ])
    network = Row("Network", [
        timeseries("Network traffic",
                   Query(aggregate("sum", rate(selector(ne.NETWORK_RECEIVE_BYTES_TOTAL, *devices)), by=("instance", ne.LABEL_DEVICE)),
                         "in {{instance}} {{%s}}" % ne.LABEL_DEVICE),
                   Query(aggregate("sum", rate(selector(ne.NETWORK_TRANSMIT_BYTES_TOTAL, *devices)), by=("instance", ne.LABEL_DEVICE)),
                         "out {{instance}} {{%s}}" % ne.LABEL_DEVICE),
                   unit=units.BYTES_SEC, width=24, description="Bytes received and sent per second, by interface (loopback left out)."),
    ])
    return dashboard(
        title=TITLE,
        uid=UID,
        description="The Docker host as node exporter sees it: CPU, load, memory, disks and network.",
        tags=["host", "node-exporter"],
        variables=[
            query_variable("job", "Job", f"label_values({ne.UNAME_INFO}, job)", default=ne.JOB,
                           include_all=False, multi=False),
            query_variable("node", "Node", f"label_values({selector(ne.UNAME_INFO, eq('job', var('job')))}, "
                                           f"{ne.LABEL_NODENAME})"),
            # "All" here is the alternation of the instances listed, not ".+": with one node picked,
            # "All" must mean that node's instances only.
            query_variable("instance", "Instance",
                           f"label_values({selector(ne.UNAME_INFO, eq('job', var('job')), re(ne.LABEL_NODENAME, var('node')))}, "
                           "instance)", all_value=None, hidden=True),
        ],
        rows=[overview, cpu, memory, disk, network],
    )
