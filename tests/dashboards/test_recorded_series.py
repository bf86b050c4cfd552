"""Dashboards that read recorded series read ones the stack records, with the labels those keep."""

from __future__ import annotations

import pytest

import catalogue
import dashboards
from stack.config import settings_from_mapping
from tests.dashboards.helpers import dashboard_references, panel_queries, with_recorded_series
from tests.support.promql_refs import parse_references

SETTINGS = settings_from_mapping({})


def _recorded():
    return {rule.record: rule for rule in catalogue.recording_rules(SETTINGS)}


def _recorded_names_in(expr):
    # Recording rules are named level:metric:operations; no exporter's metric has a colon.
    return {metric for metric in parse_references(expr).metrics if ":" in metric}


def test_the_backend_dashboard_reads_recorded_series():
    used = set().union(*(_recorded_names_in(q.expr) for q in panel_queries() if q.dashboard == "backend-api.json"))
    assert {catalogue.backend.RECORDED_REQUESTS, catalogue.backend.RECORDED_ROUTE_QUANTILES,
            catalogue.backend.RECORDED_JOB_DURATION_BUCKETS} <= used


@pytest.mark.parametrize("query", panel_queries(), ids=lambda q: f"{q.dashboard}/{q.panel}/{q.ref_id}")
def test_every_recorded_series_a_panel_reads_is_recorded_by_the_stack(query):
    missing = _recorded_names_in(query.expr) - set(_recorded())
    assert not missing, f"{query.panel}: {sorted(missing)} are recorded by no rule of the catalogue"


def test_every_variable_reading_a_recorded_series_names_an_existing_rule():
    for filename, doc in dashboards.render_documents().items():
        for where, refs in dashboard_references(doc):
            unknown = {m for m in refs.metrics if ":" in m} - set(_recorded())
            assert not unknown, f"{where}: {sorted(unknown)}"


def test_a_misspelt_recorded_name_is_caught():
    expr = 'sum(job_route_status:http_request:rate5m{job="$job"})'
    assert _recorded_names_in(expr) - set(_recorded()) == {"job_route_status:http_request:rate5m"}


def test_a_recorded_series_keeps_only_its_by_labels_and_needs_its_source():
    rule = catalogue.RecordingRule.summed_rate("x_total", ("job", "route"))
    source = {"x_total": [{"job": "a", "route": "/r", "method": "GET", "instance": "i:1"}]}
    assert rule.record == "job_route:x:rate5m"
    assert with_recorded_series(source, [rule])["job_route:x:rate5m"] == [{"job": "a", "route": "/r"}]
    assert "job_route:x:rate5m" not in with_recorded_series({}, [rule])
