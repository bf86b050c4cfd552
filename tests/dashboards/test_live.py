"""Live: a real Prometheus (Debian's) scrapes the example backend under traffic and a real node
exporter; the Backend API and Host dashboards' metrics exist there and every panel shows data."""

from __future__ import annotations

import math
from urllib.parse import urlparse

import pytest

import catalogue
import dashboards
from examples.helpdesk.app import EXCLUDED_ROUTES, ROUTES
from catalogue.backend import JOB as JOB_BACKEND
from catalogue.node_exporter import JOB as JOB_NODE_EXPORTER
from tests.dashboards.helpers import (
    contract_problems,
    dashboard_references,
    exposition_series,
    grafana_regex,
    label_values_of,
    legend_gaps,
    substitute,
    substitutions,
    variable_queries,
    with_recorded_series,
)
from stack.config import settings_from_mapping
from stack.render import PROMETHEUS_RULES_NAME, render_alert_rules, to_yaml
from tests.dashboards.traffic import BackgroundTraffic
from tests.support.live import http_get, run_node_exporter, run_prometheus, serve_app
from tests.support.promql_refs import split_label_values_query

# Prometheus scrapes every second here, so 15s holds many samples, like $__rate_interval in Grafana.
RATE_INTERVAL = "15s"


SETTINGS = settings_from_mapping({})


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # the stack's own rule file, so the recorded series the dashboards read exist here too
    rules = tmp_path_factory.mktemp("rules") / PROMETHEUS_RULES_NAME
    rules.write_text(to_yaml(render_alert_rules(SETTINGS)))
    with serve_app("tests.dashboards.faulty_app:app", ready_path="/healthz") as backend_url, \
            run_node_exporter() as node_target:
        backend_target = urlparse(backend_url).netloc
        scrape_configs = [
            {"job_name": JOB_BACKEND, "static_configs": [{"targets": [backend_target]}]},
            {"job_name": JOB_NODE_EXPORTER, "static_configs": [{"targets": [node_target]}]},
        ]
        with run_prometheus(scrape_configs, scrape_interval="1s", rule_files=[rules]) as prometheus:
            prometheus.wait_for_targets_up()
            with BackgroundTraffic(backend_url) as traffic:
                # at least a few rounds before anything is read, so every status class exists
                prometheus.wait_for_query(f'sum(http_requests_total{{job="{JOB_BACKEND}", status=~"5.."}}) > 2',
                                          timeout=60)
                # the recording group runs once a minute (catalogue.rules.RECORDING_INTERVAL); only
                # the series of what is scraped here (the backend, node exporter) can appear
                for service in (catalogue.backend.SERVICE, catalogue.node_exporter.SERVICE):
                    for rule in service.recording_rules():
                        prometheus.wait_for_query(rule.record, timeout=150)
                yield {"prometheus": prometheus, "backend": backend_url, "node": node_target, "traffic": traffic}
            assert not traffic.errors, traffic.errors


def _document(filename):
    return dashboards.render_documents()[filename]


def _live_series(url: str) -> dict:
    status, _, body = http_get(url, headers={"Accept": "text/plain; version=0.0.4"})
    assert status == 200
    return exposition_series(body.decode())


def test_traffic_produced_successes_client_and_server_errors(stack):
    statuses = stack["traffic"].statuses
    assert statuses[201] and statuses[200] and statuses[401] and statuses[404] and statuses[409]
    assert statuses[500]


def test_backend_api_metrics_and_labels_exist_in_the_live_backend(stack):
    series = with_recorded_series(_live_series(stack["backend"] + "/metrics"), catalogue.recording_rules(SETTINGS))
    problems = [f"{where}: {p}" for where, refs in dashboard_references(_document("backend-api.json"))
                for p in contract_problems(refs, series)]
    assert problems == []


def test_host_metrics_and_labels_exist_in_the_live_node_exporter(stack):
    series = _live_series(f"http://{stack['node']}/metrics")
    problems = [f"{where}: {p}" for where, refs in dashboard_references(_document("host.json"))
                for p in contract_problems(refs, series)]
    assert problems == []


def _has_a_number(result: list[dict]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def _assert_every_panel_shows_data(prometheus, filename):
    doc = _document(filename)
    values = substitutions(doc, RATE_INTERVAL, list_values=label_values_of(prometheus))
    empty = []
    checked = 0
    for panel in dashboards.adapter.iter_panels(doc["panels"]):
        for target in panel.get("targets", []):
            expr = substitute(target["expr"], values)
            checked += 1
            try:
                result = prometheus.wait_for_query(expr, predicate=_has_a_number, timeout=30)
            except Exception as err:  # collect all, report together
                empty.append(f"{panel['title']} / {target['refId']}: {expr}: {err}")
                continue
            empty += [f"{panel['title']} / {target['refId']}: legend {gap}"
                      for gap in legend_gaps(target.get("legendFormat", ""), result)]
    assert checked > 5
    assert empty == []


def test_every_backend_api_panel_query_returns_data(stack):
    _assert_every_panel_shows_data(stack["prometheus"], "backend-api.json")


def test_every_host_panel_query_returns_data(stack):
    _assert_every_panel_shows_data(stack["prometheus"], "host.json")


def _variable_values(prometheus, doc, name):
    selector, label = split_label_values_query(dict(variable_queries(doc))[name])
    selector = substitute(selector, substitutions(doc, RATE_INTERVAL, list_values=label_values_of(prometheus)))
    return {sample["metric"].get(label) for sample in prometheus.query(f"count by ({label}) ({selector})")}


def test_route_variable_lists_every_recorded_route_of_the_app(stack):
    doc = _document("backend-api.json")
    routes = _variable_values(stack["prometheus"], doc, "route")
    assert set(ROUTES) - set(EXCLUDED_ROUTES) <= routes


def test_job_and_instance_variables_find_the_scraped_targets(stack):
    prometheus = stack["prometheus"]
    backend, host = _document("backend-api.json"), _document("host.json")
    assert _variable_values(prometheus, backend, "job") == {JOB_BACKEND}
    assert _variable_values(prometheus, backend, "instance") == {urlparse(stack["backend"]).netloc}
    assert _variable_values(prometheus, host, "job") == {JOB_NODE_EXPORTER}
    assert _variable_values(prometheus, host, "instance") == {stack["node"]}


def test_host_node_variable_names_the_one_host_and_all_picks_its_instance(stack):
    """One engine: no node label anywhere; the node picker still lists the host (uname's nodename)
    and, left at "All", every Host panel shows data (test_every_host_panel_query_returns_data)."""
    import os

    prometheus, host = stack["prometheus"], _document("host.json")
    assert _variable_values(prometheus, host, "node") == {os.uname().nodename}
    values = substitutions(host, RATE_INTERVAL, list_values=label_values_of(prometheus))
    assert values["instance"] == grafana_regex([stack["node"]])
