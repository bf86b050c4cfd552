"""Containers dashboard (cAdvisor): CPU, memory working set, network and disk I/O per container."""

from __future__ import annotations

from catalogue import cadvisor as ca
from catalogue.promql import aggregate, eq, re, selector, var
from catalogue.service import NODE_LABEL
from grafanalib import formatunits as units

from .panels import Query, Row, dashboard, query_variable, stat, timeseries

__all__ = ["UID", "TITLE", "FILENAME", "build"]

UID = "monstack-containers"
TITLE = "Containers"
FILENAME = "containers.json"

# $container's "All" is ".+": the root cgroup (no name label) and other unnamed cgroups stay out.
# $node's "All" is ".*": only Swarm service discovery (swarm.nodeNameLabels) gives targets a node
# label, and node=~".*" also matches a series without one (one engine, Swarm with DNS discovery).
_JOB = eq("job", var("job"))
_NODE = re(NODE_LABEL, var("node"))
_INSTANCE = re("instance", var("instance"))
_SELECTED = (_JOB, _NODE, _INSTANCE, re(ca.LABEL_NAME, var("container")))
_LEGEND = "{{%s}}" % ca.LABEL_NAME
# Every panel but the container count reads the per-container series cAdvisor's recording rules
# keep once a minute (catalogue.cadvisor.recording_rules): at 100k active series a day of raw
# cAdvisor samples took 1.6 s to load (README "Sizing"). They are already one series per container
# and target, so the per-container panels select them as they are: a `sum by (name)` over a day
# costs Prometheus eight times the selection itself (a grouping at each of 1,440 steps), and would
# add up two containers of one name on two hosts.


def _per_container(recorded: str) -> str:
    return selector(recorded, *_SELECTED)


def build():
    working_set = _per_container(ca.RECORDED_WORKING_SET)
    limit = _per_container(ca.RECORDED_MEMORY_LIMIT)
    overview = Row("Overview", [
        stat("Containers", Query(aggregate("count", selector(ca.LAST_SEEN, *_SELECTED))), unit=units.SHORT,
             thresholds=(("red", None), ("green", 1)), description="Containers cAdvisor reports for the selection."),
        stat("CPU in use", Query(aggregate("sum", _per_container(ca.RECORDED_CPU))),
             unit=units.PERCENT_UNIT, thresholds=ca.THRESHOLDS.cpu_cores_total.steps(),
             description="CPU time used by the selected containers (5-minute rate, recorded); 100% is one core."),
        stat("Memory working set", Query(aggregate("sum", working_set)), unit=units.BYTES_IEC,
             thresholds=(("blue", None),), description="Working set (what the OOM killer counts) of the selection."),
    ])
    cpu_memory = Row("CPU and memory", [
        timeseries("CPU usage per container", Query(_per_container(ca.RECORDED_CPU), _LEGEND),
                   unit=units.PERCENT_UNIT, thresholds=ca.THRESHOLDS.cpu_cores_per_container.steps(),
                   description="CPU time per second, summed over CPUs (5-minute rate, recorded); 100% is one full core."),
        timeseries("Memory working set per container", Query(working_set, _LEGEND),
                   unit=units.BYTES_IEC, description="Working set bytes (usage minus inactive file cache)."),
        timeseries("Memory working set / limit",
                   Query(f"{working_set} / ({limit} > 0)", _LEGEND),
                   unit=units.PERCENT_UNIT, thresholds=ca.THRESHOLDS.memory_of_limit.steps(), width=24,
                   description="Working set as a share of the container's memory limit (containers without "
                               "a limit are left out). Near 100% the container is OOM-killed."),
    ])
    io = Row("Network and disk", [
        timeseries("Network received per container",
                   Query(_per_container(ca.RECORDED_NETWORK_RECEIVE), _LEGEND), unit=units.BYTES_SEC,
                   description="Bytes received per second over all the container's interfaces (5-minute rate, recorded)."),
        timeseries("Network sent per container",
                   Query(_per_container(ca.RECORDED_NETWORK_TRANSMIT), _LEGEND), unit=units.BYTES_SEC,
                   description="Bytes sent per second over all the container's interfaces (5-minute rate, recorded)."),
        timeseries("Disk read per container", Query(_per_container(ca.RECORDED_FS_READS), _LEGEND),
                   unit=units.BYTES_SEC, description="Bytes read per second from block devices (blkio; 5-minute rate, recorded)."),
        timeseries("Disk written per container", Query(_per_container(ca.RECORDED_FS_WRITES), _LEGEND),
                   unit=units.BYTES_SEC, description="Bytes written per second to block devices (blkio; 5-minute rate, recorded)."),
    ])
    return dashboard(
        title=TITLE,
        uid=UID,
        description="Per-container resources from cAdvisor: CPU, memory working set, network and disk I/O.",
        tags=["containers", "cadvisor"],
        variables=[
            query_variable("job", "Job", f"label_values({ca.LAST_SEEN}, job)", default=ca.JOB,
                           include_all=False, multi=False),
            query_variable("node", "Node", f"label_values({selector(ca.LAST_SEEN, _JOB)}, {NODE_LABEL})", all_value=".*"),
            query_variable("instance", "Instance", f"label_values({selector(ca.LAST_SEEN, _JOB, _NODE)}, instance)"),
            query_variable("container", "Container",
                           f"label_values({selector(ca.LAST_SEEN, _JOB, _NODE, _INSTANCE)}, {ca.LABEL_NAME})"),
        ],
        rows=[overview, cpu_memory, io],
    )
