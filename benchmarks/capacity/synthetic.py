"""Synthetic targets for the capacity benchmark: the series the stack's exporters expose, at a chosen count.

Pure: series in, text out.  Every metric and label name comes from where the stack and the
dashboards take it (backend_metrics.names, the catalogue), so the dashboards' queries
select these series exactly as they select the real ones.

One *scale* sets how many of each there are:

- ``backend``: one exposition (a backend replica: ROUTES route templates x 2 methods, each with a
  request counter per status and the request duration histogram), served under many replica
  names; the stack's backend job scrapes each name as one target, so every replica's series
  are distinct (the ``instance`` label) and the replica count carries most of the scale;
- ``cadvisor``: containers on the host, more of them as the scale grows;
- ``mongodb`` and ``node``: one MongoDB and one host, a fixed shape.

Values move like real ones: counters grow by a per-series pseudo-random increment at every
scrape index ``k`` (time // scrape interval), histogram buckets are fractions of their count
(monotonic in ``le``), gauges wander.  The same value function feeds the live files and the
backfilled history, so a series continues where its history ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

from backend_metrics import names as bm
from backend_metrics.factory import DEFAULT_BUCKETS
from catalogue import cadvisor as ca
from catalogue import mongodb_exporter as mx
from catalogue import node_exporter as ne

__all__ = [
    "ROUTES",
    "Series",
    "Targets",
    "exposition",
    "history_lines",
    "plan",
    "value_text",
]

ROUTES = 50
METHODS = ("GET", "POST")
STATUSES = ("200", "400", "404", "500")
_CLASSES = 16  # distinct value sequences; series cycle through them

# A value kind: ("c", cls) counter, ("b", cls, fraction) bucket of counter cls, ("s", cls) sum
# of counter cls, ("g", cls) gauge, ("k", value) constant.
Kind = tuple


@dataclass(frozen=True)
class Series:
    name: str
    labels: tuple[tuple[str, str], ...]
    kind: Kind

    def selector_text(self, extra: tuple[tuple[str, str], ...] = ()) -> str:
        pairs = sorted(self.labels + extra)
        if not pairs:
            return self.name
        return self.name + "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"


def _hash(k: int, cls: int) -> int:
    return ((k * 2654435761) ^ (cls * 40503 + 0x9E37)) & 0xFFFF


def _counter(cls: int, k: int) -> int:
    inc = 1 + (cls % 7) * 3
    return k * inc + _hash(k, cls) % inc  # strictly increasing in k


def value_text(kind: Kind, k: int) -> str:
    """The sample value of a series of this kind at scrape index k, as exposition text."""
    tag = kind[0]
    if tag == "c":
        return str(_counter(kind[1], k))
    if tag == "b":
        return str(math.floor(_counter(kind[1], k) * kind[2]))
    if tag == "s":
        return f"{_counter(kind[1], k) * 0.0137:.3f}"
    if tag == "g":
        return str((k * 7 + kind[1] * 3 + _hash(k, kind[1]) % 5) % 23)
    if tag == "k":
        return kind[1]
    raise ValueError(f"unknown value kind {kind!r}")


def _labels(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def backend_series(routes: int = ROUTES) -> list[Series]:
    """One backend replica's series (backend_metrics' families, as the example app exposes them)."""
    out: list[Series] = []
    bucket_bounds = [*(repr(float(b)) for b in DEFAULT_BUCKETS), "+Inf"]
    # A latency shape: the share of requests under each bound (the last, +Inf, is all of them).
    fractions = [min(1.0, 0.05 + 0.95 * (i + 1) / len(bucket_bounds)) for i in range(len(bucket_bounds))]
    fractions[-1] = 1.0
    cls = 0
    for r in range(routes):
        route = f"/api/r{r:02d}/{{id}}"
        for method in METHODS:
            for status in STATUSES:
                cls += 1
                out.append(Series(bm.HTTP_REQUESTS_TOTAL, _labels(method=method, route=route, status=status),
                                  ("c", cls % _CLASSES)))
            cls += 1
            c = cls % _CLASSES
            base = _labels(method=method, route=route)
            for bound, fraction in zip(bucket_bounds, fractions):
                out.append(Series(f"{bm.HTTP_REQUEST_DURATION_SECONDS}_bucket", tuple(sorted(base + (("le", bound),))),
                                  ("b", c, fraction)))
            out.append(Series(f"{bm.HTTP_REQUEST_DURATION_SECONDS}_sum", base, ("s", c)))
            out.append(Series(f"{bm.HTTP_REQUEST_DURATION_SECONDS}_count", base, ("c", c)))
    out.append(Series(bm.HTTP_REQUESTS_IN_PROGRESS, (), ("g", 1)))
    out.append(Series(bm.TICKETS_CREATED_TOTAL, (), ("c", 2)))
    out.append(Series(bm.USERS_REGISTERED_TOTAL, (), ("c", 3)))
    for i, outcome in enumerate(bm.AUTH_OUTCOMES):
        out.append(Series(bm.AUTH_ATTEMPTS_TOTAL, _labels(**{bm.LABEL_OUTCOME: outcome}), ("c", 4 + i)))
    for metric in (bm.HTTP_REQUESTS_TOTAL, bm.HTTP_REQUEST_DURATION_SECONDS):
        out.append(Series(bm.SERIES_OVERFLOW_TOTAL, _labels(**{bm.LABEL_METRIC: metric}), ("k", "0")))
    return out


def node_series() -> list[Series]:
    """One host as node exporter shows it (the families the Host dashboard and alerts read)."""
    out: list[Series] = []
    modes = (ne.MODE_IDLE, "user", "system", "iowait", "irq", "softirq", "steal", "nice")
    for cpu in range(2):
        for i, mode in enumerate(modes):
            out.append(Series(ne.CPU_SECONDS_TOTAL, _labels(**{ne.LABEL_CPU: str(cpu), ne.LABEL_MODE: mode}),
                              ("c", (cpu * 8 + i) % _CLASSES)))
    for i, name in enumerate((ne.LOAD1, ne.LOAD5, ne.LOAD15)):
        out.append(Series(name, (), ("g", i)))
    out.append(Series(ne.MEMORY_MEMTOTAL_BYTES, (), ("k", "25165824000")))
    out.append(Series(ne.MEMORY_MEMAVAILABLE_BYTES, (), ("k", "20000000000")))
    mounts = (("/", "ext4", "/dev/vda"), ("/boot", "ext4", "/dev/vda1"), ("/run", "tmpfs", "tmpfs"),
              ("/var/lib/docker", "ext4", "/dev/vdb"))
    for mountpoint, fstype, device in mounts:
        labels = _labels(**{ne.LABEL_MOUNTPOINT: mountpoint, ne.LABEL_FSTYPE: fstype, ne.LABEL_DEVICE: device})
        out.append(Series(ne.FILESYSTEM_AVAIL_BYTES, labels, ("k", "50000000000")))
        out.append(Series(ne.FILESYSTEM_SIZE_BYTES, labels, ("k", "250000000000")))
    for i, disk in enumerate(("vda", "vdb")):
        for j, name in enumerate((ne.DISK_READ_BYTES_TOTAL, ne.DISK_WRITTEN_BYTES_TOTAL, ne.DISK_IO_TIME_SECONDS_TOTAL)):
            out.append(Series(name, _labels(**{ne.LABEL_DEVICE: disk}), ("c", (i * 3 + j) % _CLASSES)))
    for i, dev in enumerate(("eth0", "docker0", ne.LOOPBACK_DEVICE)):
        out.append(Series(ne.NETWORK_RECEIVE_BYTES_TOTAL, _labels(**{ne.LABEL_DEVICE: dev}), ("c", i)))
        out.append(Series(ne.NETWORK_TRANSMIT_BYTES_TOTAL, _labels(**{ne.LABEL_DEVICE: dev}), ("c", i + 5)))
    out.append(Series(ne.UNAME_INFO, _labels(nodename="capacity-host", release="6.1.0", machine="x86_64"), ("k", "1")))
    return out


def cadvisor_series(containers: int) -> list[Series]:
    """cAdvisor on a host running `containers` containers (the Containers dashboard's families)."""
    out: list[Series] = []
    for i in range(containers):
        base = _labels(**{ca.LABEL_ID: f"/docker/{i:064x}", ca.LABEL_NAME: f"app-{i:04d}", ca.LABEL_IMAGE: "app:1.0"})
        c = i % _CLASSES
        for cpu in ("cpu00", "cpu01"):
            out.append(Series(ca.CPU_USAGE_SECONDS_TOTAL, tuple(sorted(base + ((ca.LABEL_CPU, cpu),))), ("c", c)))
        out.append(Series(ca.MEMORY_WORKING_SET_BYTES, base, ("g", c)))
        out.append(Series(ca.SPEC_MEMORY_LIMIT_BYTES, base, ("k", "536870912")))
        out.append(Series(ca.LAST_SEEN, base, ("k", "1764236400")))
        eth = tuple(sorted(base + ((ca.LABEL_INTERFACE, "eth0"),)))
        out.append(Series(ca.NETWORK_RECEIVE_BYTES_TOTAL, eth, ("c", (c + 1) % _CLASSES)))
        out.append(Series(ca.NETWORK_TRANSMIT_BYTES_TOTAL, eth, ("c", (c + 2) % _CLASSES)))
        dev = tuple(sorted(base + ((ca.LABEL_DEVICE, "/dev/vda"),)))
        out.append(Series(ca.FS_READS_BYTES_TOTAL, dev, ("c", (c + 3) % _CLASSES)))
        out.append(Series(ca.FS_WRITES_BYTES_TOTAL, dev, ("c", (c + 4) % _CLASSES)))
    return out


def mongodb_series(databases: int = 4, collections: int = 10) -> list[Series]:
    """One MongoDB as percona/mongodb_exporter shows it (the MongoDB dashboard's families)."""
    out = [Series(mx.UP, _labels(cluster_role="mongod"), ("k", "1")), Series(mx.SS_UPTIME, (), ("c", 1))]
    for i, conn in enumerate((mx.CONN_CURRENT, mx.CONN_ACTIVE, mx.CONN_AVAILABLE, mx.CONN_TOTAL_CREATED)):
        out.append(Series(mx.SS_CONNECTIONS, _labels(**{mx.LABEL_CONN_TYPE: conn}), ("g", i)))
    for i, op in enumerate(("insert", "query", "update", "delete", "getmore", "command")):
        out.append(Series(mx.SS_OPCOUNTERS, _labels(**{mx.LABEL_LEGACY_OP_TYPE: op}), ("c", i)))
    for i, op in enumerate(("reads", "writes", "commands")):
        out.append(Series(mx.SS_OPLATENCIES_LATENCY, _labels(**{mx.LABEL_OP_TYPE: op}), ("c", i + 6)))
        out.append(Series(mx.SS_OPLATENCIES_OPS, _labels(**{mx.LABEL_OP_TYPE: op}), ("c", i + 9)))
    for d in range(databases):
        db = _labels(**{mx.LABEL_DATABASE: f"db{d}"})
        for name in (mx.DBSTATS_DATA_SIZE, mx.DBSTATS_STORAGE_SIZE, mx.DBSTATS_INDEX_SIZE):
            out.append(Series(name, db, ("g", d)))
        for c in range(collections):
            coll = _labels(**{mx.LABEL_DATABASE: f"db{d}", mx.LABEL_COLLECTION: f"c{c}"})
            out.append(Series(mx.COLLSTATS_STORAGE_SIZE, coll, ("g", c)))
            out.append(Series(mx.COLLSTATS_STORAGE_STORAGE_SIZE, coll, ("g", c + 1)))
    return out


@dataclass(frozen=True)
class Targets:
    """What the synthetic targets serve for one step: series per source and the backend replica count."""

    backend: tuple[Series, ...]
    replicas: int
    node: tuple[Series, ...]
    cadvisor: tuple[Series, ...]
    mongodb: tuple[Series, ...]

    @property
    def total(self) -> int:
        return len(self.backend) * self.replicas + len(self.node) + len(self.cadvisor) + len(self.mongodb)

    def by_source(self) -> dict[str, tuple[Series, ...]]:
        return {"backend": self.backend, "node": self.node, "cadvisor": self.cadvisor, "mongodb": self.mongodb}


def plan(series: int, *, routes: int = ROUTES) -> Targets:
    """Targets serving about `series` series in total (at least one backend replica)."""
    if series <= 0:
        raise ValueError(f"series must be positive, not {series}")
    node, mongodb = node_series(), mongodb_series()
    cadvisor = cadvisor_series(max(10, series // 1000))
    backend = backend_series(routes)
    rest = series - len(node) - len(mongodb) - len(cadvisor)
    replicas = max(1, round(rest / len(backend)))
    return Targets(tuple(backend), replicas, tuple(node), tuple(cadvisor), tuple(mongodb))


def _family_type(name: str) -> str:
    return "counter" if name.endswith("_total") else "untyped"


def exposition(series: Iterable[Series], k: int) -> str:
    """Prometheus text format (0.0.4) of these series at scrape index k."""
    lines: list[str] = []
    seen: set[str] = set()
    for s in sorted(series, key=lambda s: s.name):
        family = s.name
        if family not in seen and _family_type(family) == "counter":
            seen.add(family)
            lines.append(f"# TYPE {family} counter")
        lines.append(f"{s.selector_text()} {value_text(s.kind, k)}")
    return "\n".join(lines) + "\n"


def history_lines(
    series: Iterable[tuple[Series, tuple[tuple[str, str], ...]]],
    first_k: int,
    last_k: int,
    interval_s: float,
) -> Iterator[str]:
    """OpenMetrics text chunks: every (series, target labels) at scrape indexes first_k..last_k.

    Each series' samples are contiguous and in time order, as `promtool tsdb
    create-blocks-from openmetrics` wants them.  Timestamps carry a few milliseconds of
    jitter, like real scrapes.  The caller writes the chunks and then ``# EOF``.
    """
    suffixes: dict[Kind, str] = {}
    ks = range(first_k, last_k + 1)
    stamps = [f"{k * interval_s + (_hash(k, 7) % 23) / 1000:.3f}" for k in ks]
    for s, extra in series:
        tail = suffixes.get(s.kind)
        if tail is None:
            tail = [f" {value_text(s.kind, k)} {stamp}\n" for k, stamp in zip(ks, stamps)]
            suffixes[s.kind] = tail
        prefix = s.selector_text(extra)
        yield prefix + prefix.join(tail)
