"""The reference reader the metric contract relies on: it must find every metric and label, and
refuse what it does not understand rather than skip it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.promql_refs import (
    FUNCTIONS,
    Matcher,
    PromQLSyntaxError,
    parse_label_values_query,
    parse_references,
)
from tests.dashboards.helpers import contract_problems, exposition_series


def test_selector_metric_and_matchers_are_found():
    refs = parse_references('sum(rate(http_requests_total{job="$job", status=~"5..", route!=""}[$__rate_interval]))')
    assert refs.metrics == {"http_requests_total"}
    assert refs.selectors[0].matchers == (
        Matcher("job", "=", "$job"),
        Matcher("status", "=~", "5.."),
        Matcher("route", "!=", ""),
    )


def test_both_sides_of_binary_operators_and_set_operators_are_read():
    refs = parse_references("(sum(rate(a_total[5m])) or vector(0)) / sum(rate(b_total[5m])) * 60 - c unless d")
    assert refs.metrics == {"a_total", "b_total", "c", "d"}


def test_grouping_labels_are_tied_to_the_metrics_they_aggregate():
    refs = parse_references(
        "histogram_quantile(0.99, sum by (le, route) (rate(x_bucket[1m]))) / on (route) group_left (team) y"
    )
    clauses = {(g.clause, g.labels, g.metrics) for g in refs.groupings}
    assert ("by", ("le", "route"), frozenset({"x_bucket"})) in clauses
    assert ("on", ("route",), frozenset({"x_bucket", "y"})) in clauses
    assert ("group_left", ("team",), frozenset({"x_bucket", "y"})) in clauses


def test_trailing_grouping_clause_and_topk_parameter():
    refs = parse_references("topk(10, sum(mongodb_collstats_storageStats_size) without (collection))")
    assert refs.metrics == {"mongodb_collstats_storageStats_size"}
    assert refs.groupings[0].clause == "without"
    assert refs.groupings[0].labels == ("collection",)


def test_name_matcher_selector_offset_subquery_and_at_modifier():
    refs = parse_references('max_over_time({__name__="up", job="x"}[10m:1m] offset 5m) + up @ 1700000000')
    assert refs.metrics == {"up"}
    assert refs.selectors[0].matchers == (Matcher("job", "=", "x"),)


def test_label_replace_source_label_is_a_reference():
    refs = parse_references('label_replace(up, "host", "$1", "instance_name", "(.*):.*")')
    assert any(g.labels == ("instance_name",) and g.metrics == {"up"} for g in refs.groupings)


def test_label_values_variable_query():
    refs, label = parse_label_values_query('label_values(node_uname_info{job="$job"}, instance)')
    assert refs.metrics == {"node_uname_info"}
    assert label == "instance"


@pytest.mark.parametrize(
    "expr",
    [
        "rate(x[5m]",  # unbalanced
        "sum by (le (rate(x[5m]))",
        "rte(x[5m])",  # unknown function: a typo must not be read as a metric name
        'x{job="a"',
        "x{job=a}",  # unquoted value
        "x[5 m]",
        "",
    ],
)
def test_malformed_or_unknown_expressions_are_refused(expr):
    with pytest.raises(PromQLSyntaxError):
        parse_references(expr)


def test_a_misspelt_metric_breaks_the_contract():
    series = exposition_series(
        "# TYPE http_requests_total counter\n"
        'http_requests_total{route="/tickets",status="201"} 3\n'
    )
    good = parse_references('sum by (route) (rate(http_requests_total{status=~"2.."}[5m]))')
    assert contract_problems(good, series) == []
    misspelt = parse_references('sum by (route) (rate(http_request_total{status=~"2.."}[5m]))')
    assert "metric 'http_request_total' is not in the source's output" in contract_problems(misspelt, series)


def test_a_missing_label_or_value_breaks_the_contract():
    series = exposition_series('# TYPE m counter\nm_total{outcome="success"} 1\n')
    assert contract_problems(parse_references('m_total{outcome="failure"}'), series) == [
        "no m_total series has outcome='failure'"
    ]
    assert contract_problems(parse_references("sum by (reason) (m_total)"), series) == [
        "by label 'reason' is on none of ['m_total']"
    ]
    assert contract_problems(parse_references('m_total{result="ok"}'), series) == [
        "label 'result' is not on any m_total series"
    ]


_names = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda s: s not in FUNCTIONS and s not in {"by", "without", "on", "ignoring", "bool", "offset", "and", "or",
                                               "unless", "atan2", "group_left", "group_right", "inf", "nan"}
)


@settings(max_examples=60, deadline=None)
@given(metrics=st.lists(_names, min_size=1, max_size=4, unique=True), label=_names)
def test_every_metric_of_a_generated_expression_is_found(metrics, label):
    parts = [f'sum by ({label}) (rate({m}{{{label}=~"$v"}}[$__rate_interval]))' for m in metrics]
    refs = parse_references(" + ".join(parts))
    assert refs.metrics == set(metrics)
    assert {g.labels for g in refs.groupings} == {(label,)}
