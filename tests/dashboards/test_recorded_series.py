"""Dashboards that read recorded series read ones the stack records, with the labels those keep."""

from __future__ import annotations

import promql_parser as pp
import pytest

import catalogue
import dashboards
from stack.config import settings_from_mapping
from tests.dashboards.helpers import dashboard_references, panel_queries, with_recorded_series
from tests.support.promql_refs import parse_grafana_expr, parse_references

# What the stack records under default settings, by recorded name.
RECORDED = {rule.record: rule for rule in catalogue.recording_rules(settings_from_mapping({}))}


def _recorded_names_in(expr):
    # Recording rules are named level:metric:operations; no exporter's metric has a colon.
    return {metric for metric in parse_references(expr).metrics if ":" in metric}


def test_the_backend_dashboard_reads_recorded_series():
    used = set().union(*(_recorded_names_in(q.expr) for q in panel_queries() if q.dashboard == "backend-api.json"))
    assert {catalogue.backend.RECORDED_REQUESTS, catalogue.backend.RECORDED_ROUTE_QUANTILES,
            catalogue.backend.RECORDED_JOB_DURATION_BUCKETS} <= used


@pytest.mark.parametrize("query", panel_queries(), ids=lambda q: f"{q.dashboard}/{q.panel}/{q.ref_id}")
def test_every_recorded_series_a_panel_reads_is_recorded_by_the_stack(query):
    missing = _recorded_names_in(query.expr) - set(RECORDED)
    assert not missing, f"{query.panel}: {sorted(missing)} are recorded by no rule of the catalogue"


def test_every_variable_reading_a_recorded_series_names_an_existing_rule():
    for filename, doc in dashboards.render_documents().items():
        for where, refs in dashboard_references(doc):
            unknown = {m for m in refs.metrics if ":" in m} - set(RECORDED)
            assert not unknown, f"{where}: {sorted(unknown)}"


def test_a_misspelt_recorded_name_is_caught():
    expr = 'sum(job_route_status:http_request:rate5m{job="$job"})'
    assert _recorded_names_in(expr) - set(RECORDED) == {"job_route_status:http_request:rate5m"}


def test_a_recorded_series_keeps_only_its_by_labels_and_needs_its_source():
    rule = catalogue.RecordingRule.summed_rate("x_total", ("job", "route"))
    source = {"x_total": [{"job": "a", "route": "/r", "method": "GET", "instance": "i:1"}]}
    assert rule.record == "job_route:x:rate5m"
    assert with_recorded_series(source, [rule])["job_route:x:rate5m"] == [{"job": "a", "route": "/r"}]
    assert "job_route:x:rate5m" not in with_recorded_series({}, [rule])


# --- no aggregation that regroups a recorded series by the labels it already has --------------------
# Over a day a range query aggregates at each of its 1,440 steps: a `sum by (name)` of one series per
# name cost Prometheus eight times the selection itself (README "Sizing"), and changes nothing.


def _selector_under(node):
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node if isinstance(node, pp.VectorSelector) else None


def _aggregations(node):
    if isinstance(node, pp.AggregateExpr):
        yield node
    for child in ("expr", "param", "lhs", "rhs"):
        value = getattr(node, child, None)
        if isinstance(value, pp.Expr):
            yield from _aggregations(value)
    for arg in getattr(node, "args", None) or ():
        yield from _aggregations(arg)


def regroupings(expr: str) -> list[str]:
    """Each `aggregation by (labels)` straight over a recorded series whose every varying label
    (those its rule keeps, less those an `=` matcher fixes) is among the labels: one series a group."""
    parsed = parse_grafana_expr(expr)
    found = []
    for node in _aggregations(parsed.tree):
        selector = _selector_under(node.expr)
        modifier = node.modifier
        if selector is None or modifier is None or modifier.type != pp.AggModifierType.By:
            continue
        (ref,) = parse_references(parsed.restore(str(selector))).selectors
        rule = RECORDED.get(ref.metric)
        if rule is None:
            continue
        fixed = {m.label for m in ref.matchers if m.op == "="}
        varying = set(rule.by) | {name for name, _ in rule.labels}
        if varying - fixed <= {parsed.restore(label) for label in modifier.labels}:
            found.append(f"{node.op} by ({', '.join(modifier.labels)}) over {ref.metric}")
    return found


@pytest.mark.parametrize("query", panel_queries(), ids=lambda q: f"{q.dashboard}/{q.panel}/{q.ref_id}")
def test_no_panel_regroups_a_recorded_series_by_the_labels_it_already_has(query):
    assert regroupings(query.expr) == [], f"{query.panel}: select the recorded series as it is"


def test_a_regrouping_is_caught_and_a_real_aggregation_is_not():
    requests = catalogue.backend.RECORDED_REQUESTS  # job, route, status
    assert regroupings(f'sum by (status, route) ({requests}{{job="$job", route=~"$route"}})') == [
        f"sum by (status, route) over {requests}"]
    assert regroupings(f'sum by (route) ({requests}{{job="$job"}})') == []  # sums the statuses
    assert regroupings(f'sum by (job, route, status) ({requests}{{job=~".+"}})') != []
    assert regroupings(f'sum by (route, status) ({requests}{{job=~".+"}})') == []  # sums the jobs
