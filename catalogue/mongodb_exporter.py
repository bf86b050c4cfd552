"""The MongoDB exporter (percona/mongodb_exporter 0.47.1, the pinned image): job, port, flags, the names
the MongoDB dashboard and alerts read, and its alert rules.

Source: percona/mongodb_exporter at tag v0.47.1: exporter/general_collector.go
(``mongodb_up``), exporter/metrics.go (how serverStatus fields become
``mongodb_ss_*`` names and which keys become labels), exporter/dbstats_collector.go
and exporter/collstats_collector.go.  The stack runs it with ``--collect-all
--compatible-mode --discovering-mode``; compatible mode adds the old v1 names
(``mongodb_connections``, ``mongodb_op_counters_total``...) beside these, but the
dashboards read the current names only, which exist with or without that flag.

Most values are exported as untyped; ``rate()`` works on them all the same.
"""

from __future__ import annotations

from typing import Any

from .promql import eq, selector
from .rules import AlertRule
from .service import ScrapeJob, Service

__all__ = [
    "FLAGS",
    "JOB",
    "PORT",
    "SERVICE",
    "VERSION",
    "alert_rules",
    "flags",
    "scrape_job",
    "UP",
    "SS_UPTIME",
    "SS_CONNECTIONS",
    "SS_OPCOUNTERS",
    "SS_OPLATENCIES_LATENCY",
    "SS_OPLATENCIES_OPS",
    "DBSTATS_DATA_SIZE",
    "DBSTATS_STORAGE_SIZE",
    "DBSTATS_INDEX_SIZE",
    "COLLSTATS_STORAGE_SIZE",
    "COLLSTATS_STORAGE_STORAGE_SIZE",
    "LABEL_CONN_TYPE",
    "LABEL_LEGACY_OP_TYPE",
    "LABEL_OP_TYPE",
    "LABEL_DATABASE",
    "LABEL_COLLECTION",
    "CONN_CURRENT",
    "CONN_ACTIVE",
    "CONN_AVAILABLE",
    "CONN_TOTAL_CREATED",
]

VERSION = "0.47.1"
JOB = "mongodb-exporter"
PORT = 9216
# The dashboards read metric names that depend on these flags.
FLAGS = (
    "--collect-all",
    "--compatible-mode",
    "--discovering-mode",
    f"--web.listen-address=:{PORT}",
)

UP = "mongodb_up"  # gauge, const label cluster_role
SS_UPTIME = "mongodb_ss_uptime"  # serverStatus.uptime, seconds
SS_CONNECTIONS = "mongodb_ss_connections"  # serverStatus.connections.* {conn_type}
SS_OPCOUNTERS = "mongodb_ss_opcounters"  # serverStatus.opcounters.* {legacy_op_type}, cumulative
SS_OPLATENCIES_LATENCY = "mongodb_ss_opLatencies_latency"  # cumulative microseconds {op_type}
SS_OPLATENCIES_OPS = "mongodb_ss_opLatencies_ops"  # cumulative operations {op_type}
DBSTATS_DATA_SIZE = "mongodb_dbstats_dataSize"  # bytes {database}
DBSTATS_STORAGE_SIZE = "mongodb_dbstats_storageSize"  # bytes {database}
DBSTATS_INDEX_SIZE = "mongodb_dbstats_indexSize"  # bytes {database}
COLLSTATS_STORAGE_SIZE = "mongodb_collstats_storageStats_size"  # bytes {database, collection}
COLLSTATS_STORAGE_STORAGE_SIZE = "mongodb_collstats_storageStats_storageSize"  # bytes {database, collection}

LABEL_CONN_TYPE = "conn_type"
LABEL_LEGACY_OP_TYPE = "legacy_op_type"
LABEL_OP_TYPE = "op_type"
LABEL_DATABASE = "database"
LABEL_COLLECTION = "collection"

CONN_CURRENT = "current"
CONN_ACTIVE = "active"
CONN_AVAILABLE = "available"
CONN_TOTAL_CREATED = "totalCreated"


def flags(*, direct_connect: bool = True) -> tuple[str, ...]:
    """The exporter's command line; `direct_connect=False` for replica sets, several hosts, mongodb+srv://."""
    # percona/mongodb_exporter v0.47.1 main.go: `mongodb.direct-connect` is a kong flag, default true, negatable.
    return FLAGS if direct_connect else (*FLAGS, "--no-mongodb.direct-connect")


def scrape_job(settings: Any) -> ScrapeJob:
    return ScrapeJob(JOB, (f"{JOB}:{PORT}",))


def alert_rules() -> list[AlertRule]:
    return [
        AlertRule(
            "MongoDBDown",
            f"{selector(UP, eq('job', JOB))} == 0",
            "2m",
            "critical",
            "The MongoDB exporter cannot reach MongoDB",
            f"{UP} is 0 on {{{{ $labels.instance }}}}: MongoDB is down or the exporter's URI is wrong.",
        )
    ]


SERVICE = Service(
    JOB, settings_key="mongodb_exporter", port=PORT, scrape=scrape_job, alert_rules=alert_rules, dashboard="mongodb"
)
