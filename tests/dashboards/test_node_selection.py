"""Picking a node on the Host and Containers dashboards (issue 11), against a real Prometheus.

Two set-ups, each a TSDB backfilled with ``promtool tsdb create-blocks-from openmetrics``:

- **two nodes** as a swarm gives them: node exporter on each node, found by DNS (no `node` target
  label; `node_uname_info{nodename}` names the node), and cAdvisor on each node with the `node`
  target label Swarm service discovery (`swarm.nodeNameLabels`) puts on every target;
- **one host** (platform docker): one node exporter and one cAdvisor, no `node` label anywhere.

Node exporter's series are Debian's node exporter's live output (the node name rewritten per node),
cAdvisor's the pinned fixture. Every vector selector of every panel is run with the dashboard's
variables resolved as Grafana resolves them (tests.dashboards.helpers.substitutions): picking one
node must select only that node's targets, "All" every target.
"""

from __future__ import annotations

import math
import re
import time

import pytest

import dashboards
from catalogue import cadvisor as ca
from catalogue import node_exporter as ne
from catalogue import promql
from catalogue.service import NODE_LABEL
from dashboards.adapter import iter_panels
from tests.dashboards.helpers import (
    CADVISOR_FIXTURE,
    dashboard_references,
    join_openmetrics,
    label_values_of,
    openmetrics_backfill,
    serve_backfill,
    substitute,
    substitutions,
)
from tests.support.live import http_get, run_node_exporter
from tests.support.promql_refs import parse_references, split_label_values_query

RATE_INTERVAL = "1m"
SCRAPES = 20
INTERVAL = 15.0
# node -> the address of its tasks on the overlay (DNS discovery gives addresses, not names)
NODES = {"node-a": "10.0.1.5", "node-b": "10.0.1.6"}
NODE_EXPORTER_PORT = 9100
SINGLE_HOST = "docker-host"
SINGLE_NODE_EXPORTER = "node-exporter.host:9100"
SINGLE_CADVISOR = f"{ca.JOB}:{ca.PORT}"


def _node_exporter_target(node: str) -> str:
    return f"{NODES[node]}:{NODE_EXPORTER_PORT}"


def _cadvisor_target(node: str) -> str:
    return f"{NODES[node]}:{ca.PORT}"


def _with_nodename(exposition: str, nodename: str) -> str:
    """Node exporter's output as it would be on a host called `nodename`."""
    pattern = re.compile(r'^(%s\{.*\b%s=")[^"]*(")' % (re.escape(ne.UNAME_INFO), ne.LABEL_NODENAME), re.M)
    text, count = pattern.subn(lambda m: m.group(1) + nodename + m.group(2), exposition)
    assert count == 1, f"expected one {ne.UNAME_INFO} series, rewrote {count}"
    return text


def _families(filename: str) -> set[str]:
    """The metric families a dashboard reads (to keep the backfill small)."""
    doc = dashboards.render_documents()[filename]
    return set().union(*(refs.metrics for _, refs in dashboard_references(doc)))


@pytest.fixture(scope="module")
def node_exporter_output():
    with run_node_exporter() as target:
        status, _, body = http_get(f"http://{target}/metrics", headers={"Accept": "text/plain; version=0.0.4"})
    assert status == 200
    return body.decode()


def _backfill(node_exporter_text: str, *, host: str, node_exporter_instance: str, cadvisor_instance: str,
              node_label: str | None, end: float) -> list[str]:
    common = dict(end=end, scrapes=SCRAPES, interval=INTERVAL)
    cadvisor_labels = {NODE_LABEL: node_label} if node_label else {}
    return [
        openmetrics_backfill(_with_nodename(node_exporter_text, host), job=ne.JOB, instance=node_exporter_instance,
                             families=_families("host.json"), **common),
        openmetrics_backfill(CADVISOR_FIXTURE.read_text(), job=ca.JOB, instance=cadvisor_instance,
                             target_labels=cadvisor_labels, **common),
    ]


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory, node_exporter_output):
    end = float(int(time.time()) - 60)
    parts = []
    for node in NODES:
        parts += _backfill(node_exporter_output, host=node, node_exporter_instance=_node_exporter_target(node),
                           cadvisor_instance=_cadvisor_target(node), node_label=node, end=end)
    with serve_backfill(tmp_path_factory.mktemp("two-nodes"), join_openmetrics(*parts)) as prometheus:
        yield prometheus, end


@pytest.fixture(scope="module")
def one_host(tmp_path_factory, node_exporter_output):
    end = float(int(time.time()) - 60)
    parts = _backfill(node_exporter_output, host=SINGLE_HOST, node_exporter_instance=SINGLE_NODE_EXPORTER,
                      cadvisor_instance=SINGLE_CADVISOR, node_label=None, end=end)
    with serve_backfill(tmp_path_factory.mktemp("one-host"), join_openmetrics(*parts)) as prometheus:
        yield prometheus, end


def _document(filename: str) -> dict:
    return dashboards.render_documents()[filename]


def _values(prometheus, end, filename, chosen=None, overrides=None) -> dict[str, str]:
    values = substitutions(_document(filename), RATE_INTERVAL, chosen=chosen, list_values=label_values_of(prometheus, end))
    values.update(overrides or {})
    return values


_MATCHER = {"=": promql.eq, "!=": promql.ne, "=~": promql.re, "!~": promql.nre}


def _selectors(expr: str) -> list[str]:
    """Every vector selector of `expr` (variables already substituted), as PromQL text."""
    return [promql.selector(sel.metric, *(_MATCHER[m.op](m.label, m.value) for m in sel.matchers))
            for sel in parse_references(expr).selectors]


def _targets_selected(prometheus, end, filename, values) -> dict[str, set[str]]:
    """For every vector selector of every panel query, with `values` substituted: which targets
    (instance) it selects.  Keyed by "panel / refId / selector"."""
    out = {}
    for panel in iter_panels(_document(filename)["panels"]):
        for target in panel.get("targets", []):
            for sel in _selectors(substitute(target["expr"], values)):
                data = prometheus.api("query", query=f"count by (instance) ({sel})", time=f"{end:.3f}")
                out[f"{panel['title']} / {target['refId']} / {sel}"] = {s["metric"]["instance"] for s in data["result"]}
    assert len(out) > 10
    return out


def _panel_results(prometheus, end, values, filename) -> dict[str, list]:
    out = {}
    for panel in iter_panels(_document(filename)["panels"]):
        for target in panel.get("targets", []):
            data = prometheus.api("query", query=substitute(target["expr"], values), time=f"{end:.3f}")
            out[f"{panel['title']} / {target['refId']}"] = data["result"]
    return out


def test_the_dashboards_read_the_node_label_swarm_discovery_writes():
    from stack.config import settings_from_mapping
    from stack.swarm.render import render_swarm_prometheus_config

    settings = settings_from_mapping({"platform": "swarm", "swarm": {"nodeNameLabels": True}})
    config = render_swarm_prometheus_config(settings, ["monstack-monitoring", "monstack-app"])
    written = {
        job["job_name"]: [r["target_label"] for r in job.get("relabel_configs", [])
                          if r.get("source_labels") == ["__meta_dockerswarm_node_hostname"]]
        for job in config["scrape_configs"] if "dockerswarm_sd_configs" in job
    }
    assert ca.JOB in written
    assert all(labels == [NODE_LABEL] for labels in written.values()), written


# --- two nodes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["host.json", "containers.json"])
def test_node_variable_lists_both_nodes(two_nodes, filename):
    prometheus, end = two_nodes
    doc = _document(filename)
    node_query = {v["name"]: v["query"] for v in doc["templating"]["list"]}["node"]
    selector, label = split_label_values_query(substitute(node_query, _values(prometheus, end, filename)))
    assert label_values_of(prometheus, end)(selector, label) == sorted(NODES)


@pytest.mark.parametrize("node", sorted(NODES))
def test_host_picking_a_node_selects_only_its_node_exporter(two_nodes, node):
    prometheus, end = two_nodes
    values = _values(prometheus, end, "host.json", chosen={"node": [node]})
    selected = _targets_selected(prometheus, end, "host.json", values)
    wrong = {where: got for where, got in selected.items() if got != {_node_exporter_target(node)}}
    assert wrong == {}


@pytest.mark.parametrize("node", sorted(NODES))
def test_containers_picking_a_node_selects_only_its_cadvisor(two_nodes, node):
    prometheus, end = two_nodes
    values = _values(prometheus, end, "containers.json", chosen={"node": [node]})
    selected = _targets_selected(prometheus, end, "containers.json", values)
    wrong = {where: got for where, got in selected.items() if got != {_cadvisor_target(node)}}
    assert wrong == {}


@pytest.mark.parametrize("filename, target_of", [("host.json", _node_exporter_target),
                                                 ("containers.json", _cadvisor_target)])
def test_all_nodes_selects_every_node(two_nodes, filename, target_of):
    prometheus, end = two_nodes
    both = {target_of(node) for node in NODES}
    for values in (_values(prometheus, end, filename), _values(prometheus, end, filename, chosen={"node": sorted(NODES)})):
        selected = _targets_selected(prometheus, end, filename, values)
        assert {where: got for where, got in selected.items() if got != both} == {}


def test_picking_a_node_changes_what_the_panels_show(two_nodes):
    """Not only the selectors: the per-instance Host panels and the Containers count follow the pick."""
    prometheus, end = two_nodes
    node = "node-b"
    host = _panel_results(prometheus, end, _values(prometheus, end, "host.json", chosen={"node": [node]}), "host.json")
    legends = {s["metric"].get("instance") for s in host["CPU utilisation by mode / A"]}
    assert legends == {_node_exporter_target(node)}
    containers_one = _panel_results(prometheus, end, _values(prometheus, end, "containers.json", chosen={"node": [node]}),
                                    "containers.json")["Containers / A"]
    containers_all = _panel_results(prometheus, end, _values(prometheus, end, "containers.json"),
                                    "containers.json")["Containers / A"]
    assert 2 * float(containers_one[0]["value"][1]) == float(containers_all[0]["value"][1]) > 0


def test_the_check_catches_a_node_pick_that_leaks(two_nodes):
    """The test can fail: were the hidden $instance's "All" a fixed ".+" (as the other variables'),
    picking node-a would still show node-b's node exporter."""
    prometheus, end = two_nodes
    values = _values(prometheus, end, "host.json", chosen={"node": ["node-a"]}, overrides={"instance": ".+"})
    selected = _targets_selected(prometheus, end, "host.json", values)
    assert all(got == {_node_exporter_target(n) for n in NODES} for got in selected.values())


# --- one host, no node label ------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["host.json", "containers.json"])
def test_one_host_without_node_labels_shows_every_panel_with_all(one_host, filename):
    prometheus, end = one_host
    empty = {where: result for where, result in _panel_results(prometheus, end, _values(prometheus, end, filename),
                                                                  filename).items()
             if not any(math.isfinite(float(s["value"][1])) for s in result)}
    assert empty == {}


def test_one_host_node_variables(one_host):
    prometheus, end = one_host
    host = _values(prometheus, end, "host.json")
    assert label_values_of(prometheus, end)(f'{ne.UNAME_INFO}{{job="{ne.JOB}"}}', ne.LABEL_NODENAME) == [SINGLE_HOST]
    assert host["instance"] == SINGLE_NODE_EXPORTER.replace(".", "\\\\.")
    # cAdvisor has no node label here: the Containers node picker lists nothing and stays at "All"
    assert label_values_of(prometheus, end)(f'{ca.LAST_SEEN}{{job="{ca.JOB}"}}', NODE_LABEL) == []


def test_one_host_a_non_empty_all_would_hide_every_container(one_host):
    """Why Containers' "All" is ".*": with ".+" a host whose targets carry no node label shows nothing."""
    prometheus, end = one_host
    values = _values(prometheus, end, "containers.json", overrides={"node": ".+"})
    results = _panel_results(prometheus, end, values, "containers.json")
    assert results and all(result == [] for result in results.values())
