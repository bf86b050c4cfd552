"""The Containers and MongoDB dashboards against a real Prometheus serving a TSDB backfilled
(promtool tsdb create-blocks-from openmetrics) from the pinned exporters' recorded samples."""

from __future__ import annotations

import math
import time

import pytest

import dashboards
from dashboards.adapter import iter_panels
from catalogue.cadvisor import JOB as JOB_CADVISOR
from catalogue.mongodb_exporter import JOB as JOB_MONGODB_EXPORTER
from tests.dashboards.helpers import (
    CADVISOR_FIXTURE,
    MONGODB_EXPORTER_FIXTURE,
    join_openmetrics,
    label_values_of,
    legend_gaps,
    openmetrics_backfill,
    serve_backfill,
    substitute,
    substitutions,
)

SCRAPE_INTERVAL = 15.0  # the stack's cAdvisor housekeeping interval and a usual scrape interval
SCRAPES = 20
RATE_INTERVAL = "1m"  # what Grafana's $__rate_interval is for a 15s scrape interval
INSTANCES = {JOB_CADVISOR: "cadvisor:8080", JOB_MONGODB_EXPORTER: "mongodb-exporter:9216"}


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    end = float(int(time.time()) - 60)  # a fixed evaluation time inside the backfilled range
    openmetrics = join_openmetrics(
        openmetrics_backfill(CADVISOR_FIXTURE.read_text(), job=JOB_CADVISOR, instance=INSTANCES[JOB_CADVISOR],
                             end=end, scrapes=SCRAPES, interval=SCRAPE_INTERVAL),
        openmetrics_backfill(MONGODB_EXPORTER_FIXTURE.read_text(), job=JOB_MONGODB_EXPORTER,
                             instance=INSTANCES[JOB_MONGODB_EXPORTER], end=end, scrapes=SCRAPES,
                             interval=SCRAPE_INTERVAL),
    )
    with serve_backfill(tmp_path_factory.mktemp("backfill"), openmetrics) as prometheus:
        yield prometheus, end


def test_backfill_input_is_openmetrics_with_timestamps_and_eof():
    text = openmetrics_backfill("# TYPE a_total counter\na_total{x=\"1\"} 10\n# TYPE g gauge\ng 5\n",
                                job="j", instance="i", end=1000.0, scrapes=3, interval=15.0)
    assert text.splitlines() == [
        'a_total{instance="i",job="j",x="1"} 10.0 970.000',
        'a_total{instance="i",job="j",x="1"} 11.0 985.000',
        'a_total{instance="i",job="j",x="1"} 12.0 1000.000',
        'g{instance="i",job="j"} 5.0 970.000',
        'g{instance="i",job="j"} 5.0 985.000',
        'g{instance="i",job="j"} 5.0 1000.000',
        "# EOF",
    ]


def _empty_panels(prometheus, end, filename):
    doc = dashboards.render_documents()[filename]
    values = substitutions(doc, RATE_INTERVAL, list_values=label_values_of(prometheus, end))
    empty, checked = [], 0
    for panel in iter_panels(doc["panels"]):
        for target in panel.get("targets", []):
            expr = substitute(target["expr"], values)
            data = prometheus.api("query", query=expr, time=f"{end:.3f}")
            checked += 1
            numbers = [float(s["value"][1]) for s in data["result"]] if data["resultType"] == "vector" else []
            if not any(math.isfinite(v) for v in numbers):
                empty.append(f"{panel['title']} / {target['refId']}: {expr} -> {data['result']}")
            empty += [f"{panel['title']} / {target['refId']}: legend {gap}"
                      for gap in legend_gaps(target.get("legendFormat", ""), data["result"])]
    return checked, empty


@pytest.mark.parametrize("filename", ["containers.json", "mongodb.json"])
def test_every_panel_query_returns_data_from_the_recorded_samples(backfilled, filename):
    prometheus, end = backfilled
    checked, empty = _empty_panels(prometheus, end, filename)
    assert checked >= 8
    assert empty == []


def test_container_variable_lists_named_containers_only(backfilled):
    prometheus, end = backfilled
    data = prometheus.api("query", query=f'count by (name) (container_last_seen{{job="{JOB_CADVISOR}", name=~".+"}})',
                          time=f"{end:.3f}")
    names = {s["metric"]["name"] for s in data["result"]}
    assert "helpdesk-backend" in names and "monstack-dev-prometheus" in names
    assert "" not in names


def test_a_query_on_a_missing_metric_shows_no_data_here(backfilled):
    """The harness can fail: a misspelt name gives an empty result, which the panel test reports."""
    prometheus, end = backfilled
    data = prometheus.api("query", query=f'sum(rate(container_cpu_usage_seconds{{job="{JOB_CADVISOR}"}}[1m]))',
                          time=f"{end:.3f}")
    assert data["result"] == []


def test_a_legend_naming_a_label_the_query_drops_is_caught(backfilled):
    """`sum(...)` keeps no labels: a legend `{{name}}` on it would label every line blank."""
    prometheus, end = backfilled
    data = prometheus.api("query", query=f'sum(container_last_seen{{job="{JOB_CADVISOR}"}})', time=f"{end:.3f}")
    assert legend_gaps("{{name}}", data["result"]) == [f"name missing from {data['result'][0]['metric']}"]
    kept = prometheus.api("query", query=f'sum by (name) (container_last_seen{{job="{JOB_CADVISOR}", name=~".+"}})',
                          time=f"{end:.3f}")
    assert kept["result"] and legend_gaps("{{name}}", kept["result"]) == []
