"""What each dashboard shows (issue 4): the panels an on-call reader expects, built from named metrics."""

from __future__ import annotations

import pytest

import dashboards
from backend_metrics import names as backend
from dashboards.adapter import iter_panels
from catalogue import backend as recorded
from catalogue import cadvisor as cadvisor
from catalogue import mongodb_exporter as mongo
from catalogue import node_exporter as node
from tests.support.promql_refs import parse_references


@pytest.fixture(scope="module")
def documents():
    return dashboards.render_documents()


def _panels(doc):
    return {p["title"]: p for p in iter_panels(doc["panels"]) if p["type"] != "row"}


def _exprs(panel):
    return [t["expr"] for t in panel["targets"]]


def _metrics(panel):
    return set().union(*(parse_references(e).metrics for e in _exprs(panel)))


def test_backend_api_shows_traffic_latency_errors_and_business(documents):
    panels = _panels(documents["backend-api.json"])
    by_route = panels["Request rate by route"]
    # request rates and latency come from the recorded series of the backend's own metrics
    assert _metrics(by_route) == {recorded.RECORDED_REQUESTS}
    assert backend.HTTP_REQUESTS_TOTAL.removesuffix("_total") in recorded.RECORDED_REQUESTS
    assert any(g.labels == (backend.LABEL_ROUTE,) for g in parse_references(_exprs(by_route)[0]).groupings)

    percentiles = _exprs(panels["Request duration percentiles by route"])
    assert [e.rsplit("quantile=", 1)[1] for e in percentiles] == ['"0.5"}', '"0.9"}', '"0.99"}']
    assert all(e.startswith(recorded.RECORDED_ROUTE_QUANTILES + "{") for e in percentiles)
    assert f"{backend.HTTP_REQUEST_DURATION_SECONDS}_bucket" in recorded.RECORDED_DURATION_BUCKETS

    assert 'status=~"4.."' in _exprs(panels["Client errors (4xx) by status"])[0]
    assert 'status=~"5.."' in _exprs(panels["Server errors (5xx) by status"])[0]
    assert _metrics(panels["In-progress requests"]) == {backend.HTTP_REQUESTS_IN_PROGRESS}
    assert _metrics(panels["Tickets created"]) == {backend.TICKETS_CREATED_TOTAL}
    assert _metrics(panels["Users registered"]) == {backend.USERS_REGISTERED_TOTAL}
    assert _metrics(panels["Authentication attempts by outcome"]) == {backend.AUTH_ATTEMPTS_TOTAL}
    ratio = _exprs(panels["Login failure ratio"])[0]
    assert 'outcome="failure"' in ratio and panels["Login failure ratio"]["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_containers_shows_cpu_memory_network_and_disk_per_container(documents):
    panels = _panels(documents["containers.json"])
    expected = {
        "CPU usage per container": {cadvisor.CPU_USAGE_SECONDS_TOTAL},
        "Memory working set per container": {cadvisor.MEMORY_WORKING_SET_BYTES},
        "Network received per container": {cadvisor.NETWORK_RECEIVE_BYTES_TOTAL},
        "Network sent per container": {cadvisor.NETWORK_TRANSMIT_BYTES_TOTAL},
        "Disk read per container": {cadvisor.FS_READS_BYTES_TOTAL},
        "Disk written per container": {cadvisor.FS_WRITES_BYTES_TOTAL},
    }
    # Each panel reads the series a recording rule keeps per container, from that raw metric, one
    # line per container (the rule keeps the container's name), labelled with its name.
    rules = {rule.record: rule for rule in cadvisor.recording_rules()}
    for title, metrics in expected.items():
        read = _metrics(panels[title])
        assert read <= set(rules), (title, read)
        assert {rules[name].source for name in read} == metrics, title
        assert all(cadvisor.LABEL_NAME in rules[name].by for name in read), title
        assert [t["legendFormat"] for t in panels[title]["targets"]] == ["{{%s}}" % cadvisor.LABEL_NAME], title


def test_mongodb_shows_up_connections_operations_latency_and_sizes(documents):
    panels = _panels(documents["mongodb.json"])
    assert _metrics(panels["MongoDB up"]) == {mongo.UP}
    assert _metrics(panels["Connections"]) == {mongo.SS_CONNECTIONS}
    assert _metrics(panels["Operations by type"]) == {mongo.SS_OPCOUNTERS}
    assert _metrics(panels["Average operation latency"]) == {mongo.SS_OPLATENCIES_LATENCY, mongo.SS_OPLATENCIES_OPS}
    assert _metrics(panels["Data size by database"]) == {mongo.DBSTATS_DATA_SIZE}
    assert _metrics(panels["Largest collections"]) == {mongo.COLLSTATS_STORAGE_SIZE}
    # the renamed-in-0.20 trap: no pre-0.20 names
    every = set().union(*(_metrics(p) for p in panels.values()))
    assert not {m for m in every if m.startswith(("mongodb_mongod_", "mongodb_connections", "mongodb_op_counters"))}


def test_host_shows_cpu_load_memory_disk_and_network(documents):
    panels = _panels(documents["host.json"])
    assert _metrics(panels["CPU utilisation by mode"]) == {node.CPU_SECONDS_TOTAL}
    assert _metrics(panels["Load average"]) == {node.LOAD1, node.LOAD5, node.LOAD15}
    assert _metrics(panels["Memory"]) == {node.MEMORY_MEMTOTAL_BYTES, node.MEMORY_MEMAVAILABLE_BYTES}
    assert _metrics(panels["Disk space used by mountpoint"]) == {node.FILESYSTEM_AVAIL_BYTES, node.FILESYSTEM_SIZE_BYTES}
    assert _metrics(panels["Disk throughput"]) == {node.DISK_READ_BYTES_TOTAL, node.DISK_WRITTEN_BYTES_TOTAL}
    assert _metrics(panels["Network traffic"]) == {node.NETWORK_RECEIVE_BYTES_TOTAL, node.NETWORK_TRANSMIT_BYTES_TOTAL}


def test_usage_panels_turn_orange_then_red(documents):
    for filename, title in [("host.json", "CPU utilisation"), ("host.json", "Memory used"),
                            ("host.json", "Fullest filesystem"), ("containers.json", "Memory working set / limit"),
                            ("backend-api.json", "5xx error ratio"), ("mongodb.json", "Connections in use")]:
        steps = _panels(documents[filename])[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [s["color"] for s in steps] == ["green", "orange", "red"], (filename, title)
        assert 0 < steps[1]["value"] < steps[2]["value"] <= 1


def test_no_metric_name_is_typed_in_a_dashboard_module():
    """Names come from backend_metrics.names or the exporter modules; the dashboard modules never spell one."""
    from pathlib import Path

    names = {v for mod in (backend, cadvisor, mongo, node) for k, v in vars(mod).items()
             if k.isupper() and isinstance(v, str) and v.startswith(("http_", "tickets_", "users_", "auth_", "container_", "mongodb_", "node_"))}
    assert len(names) > 25
    package = Path(dashboards.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert {m.name for m in modules} >= {f"{mod.__name__.rsplit('.', 1)[-1]}.py" for mod in dashboards.dashboard_modules()}
    for module in modules:
        text = module.read_text()
        typed = sorted(n for n in names if f'"{n}' in text or f"'{n}" in text)
        assert typed == [], (module, typed)
