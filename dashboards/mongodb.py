"""MongoDB dashboard (percona/mongodb_exporter): up, connections, operations, latency, sizes."""

from __future__ import annotations

from catalogue import mongodb_exporter as mx
from catalogue.promql import aggregate, eq, rate, re, selector, var
from grafanalib import formatunits as units

from .panels import Query, Row, dashboard, query_variable, stat, timeseries

__all__ = ["UID", "TITLE", "FILENAME", "build"]

UID = "monstack-mongodb"
TITLE = "MongoDB"
FILENAME = "mongodb.json"

_TARGET = (eq("job", var("job")), re("instance", var("instance")))
_UP_MAPPINGS = [{"type": "value", "options": {"0": {"text": "DOWN", "index": 0}, "1": {"text": "UP", "index": 1}}}]


def _connections(conn_type: str) -> str:
    return selector(mx.SS_CONNECTIONS, *_TARGET, eq(mx.LABEL_CONN_TYPE, conn_type))


def build():
    current = aggregate("sum", _connections(mx.CONN_CURRENT))
    available = aggregate("sum", _connections(mx.CONN_AVAILABLE))
    by_op = (mx.LABEL_OP_TYPE,)
    latency = (f"{aggregate('sum', rate(selector(mx.SS_OPLATENCIES_LATENCY, *_TARGET)), by=by_op)} / "
               f"({aggregate('sum', rate(selector(mx.SS_OPLATENCIES_OPS, *_TARGET)), by=by_op)} > 0)")
    storage = (mx.LABEL_DATABASE,)

    overview = Row("Overview", [
        stat("MongoDB up", Query(aggregate("min", selector(mx.UP, *_TARGET))), unit=units.NONE_FORMAT,
             thresholds=(("red", None), ("green", 1)), mappings=_UP_MAPPINGS,
             description="1 when the exporter can ping MongoDB (mongodb_up), for every selected instance."),
        stat("Uptime", Query(aggregate("min", selector(mx.SS_UPTIME, *_TARGET))), unit=units.SECONDS,
             thresholds=(("red", None), ("orange", 60), ("green", 3600)),
             description="Seconds since mongod started; a small value means a recent restart."),
        stat("Connections in use", Query(f"{current} / ({current} + {available})"), unit=units.PERCENT_UNIT,
             thresholds=(("green", None), ("orange", 0.7), ("red", 0.9)),
             description="Current connections as a share of current + available."),
        stat("Operations", Query(aggregate("sum", rate(selector(mx.SS_OPCOUNTERS, *_TARGET)))),
             unit=units.OPS_PER_SEC, thresholds=(("blue", None),),
             description="All operations per second (opcounters)."),
    ])
    connections = Row("Connections", [
        timeseries("Connections",
                   *(Query(aggregate("sum", _connections(t), by=("instance",)), "%s {{instance}}" % t)
                     for t in (mx.CONN_CURRENT, mx.CONN_ACTIVE)),
                   unit=units.SHORT, description="Open (current) and active client connections."),
        timeseries("Connections created",
                   Query(aggregate("sum", rate(_connections(mx.CONN_TOTAL_CREATED)), by=("instance",)), "{{instance}}"),
                   unit=units.OPS_PER_SEC, description="New connections per second; churn here often means a client "
                                                      "without a connection pool."),
    ])
    operations = Row("Operations", [
        timeseries("Operations by type",
                   Query(aggregate("sum", rate(selector(mx.SS_OPCOUNTERS, *_TARGET)), by=(mx.LABEL_LEGACY_OP_TYPE,)),
                         "{{%s}}" % mx.LABEL_LEGACY_OP_TYPE),
                   unit=units.OPS_PER_SEC, stacked=True,
                   description="insert, query, update, delete, getmore and command operations per second."),
        timeseries("Average operation latency", Query(latency, "{{%s}}" % mx.LABEL_OP_TYPE),
                   unit=units.MICRO_SECONDS, thresholds=(("green", None), ("orange", 50_000), ("red", 200_000)),
                   description="Server-side latency per operation (opLatencies: total latency / operations), "
                               "by reads, writes, commands and transactions."),
    ])
    sizes = Row("Storage", [
        timeseries("Data size by database",
                   Query(aggregate("sum", selector(mx.DBSTATS_DATA_SIZE, *_TARGET), by=storage), "{{%s}}" % mx.LABEL_DATABASE),
                   unit=units.BYTES_IEC, width=8, description="Uncompressed size of the documents (dbStats.dataSize)."),
        timeseries("Storage size by database",
                   Query(aggregate("sum", selector(mx.DBSTATS_STORAGE_SIZE, *_TARGET), by=storage), "data {{%s}}" % mx.LABEL_DATABASE),
                   Query(aggregate("sum", selector(mx.DBSTATS_INDEX_SIZE, *_TARGET), by=storage), "indexes {{%s}}" % mx.LABEL_DATABASE),
                   unit=units.BYTES_IEC, width=8, description="Space allocated on disk for data and for indexes."),
        timeseries("Largest collections",
                   Query("topk(10, %s)" % aggregate("sum", selector(mx.COLLSTATS_STORAGE_SIZE, *_TARGET),
                                                    by=(mx.LABEL_DATABASE, mx.LABEL_COLLECTION)),
                         "{{%s}}.{{%s}}" % (mx.LABEL_DATABASE, mx.LABEL_COLLECTION)),
                   unit=units.BYTES_IEC, width=8, description="The ten largest collections by data size ($collStats)."),
    ])
    return dashboard(
        title=TITLE,
        uid=UID,
        description="MongoDB through percona/mongodb_exporter: availability, connections, operations, latency, sizes.",
        tags=["mongodb", "database"],
        variables=[
            query_variable("job", "Job", f"label_values({mx.UP}, job)", default=mx.JOB,
                           include_all=False, multi=False),
            query_variable("instance", "Instance", f'label_values({mx.UP}{{job="$job"}}, instance)'),
        ],
        rows=[overview, connections, operations, sizes],
    )
