"""The reference reader the metric contract relies on (tests/support/promql_refs.py, over promql-parser):
it must find every metric, matcher and grouping label of the real dashboards and of PromQL's trickier
forms, put Grafana's variables back as the dashboard writes them, and refuse what is not PromQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dashboards
from tests.dashboards.helpers import (
    contract_problems,
    exposition_series,
    panel_queries,
    range_functions_without_rate_interval,
    variable_queries,
)
from tests.support.promql_refs import (
    INTERVAL_PLACEHOLDERS,
    Grouping,
    Matcher,
    PromQLSyntaxError,
    Selector,
    parse_label_values_query,
    parse_references,
    split_label_values_query,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _groupings(refs):
    return sorted((g.clause, g.labels, tuple(sorted(g.metrics))) for g in refs.groupings)


# --- the real dashboards ------------------------------------------------------------------------
# The dashboards write every selector as `metric{label op "value", ...}` and every grouping clause
# as `clause (labels)`, so for them plain patterns over the text are an independent second reading.
_SELECTOR_TEXT = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}")
_MATCHER_TEXT = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*(?:,|$)')
_CLAUSE_TEXT = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")


def _selectors_in_text(expr):
    out = []
    for metric, body in _SELECTOR_TEXT.findall(expr):
        found = list(_MATCHER_TEXT.finditer(body))
        assert sum(len(m.group()) for m in found) == len(body), f"selector text not understood: {body!r}"
        out.append(Selector(metric, tuple(Matcher(*m.groups()) for m in found)))
    return out


def _queries():
    return [pytest.param(q.expr, id=f"{q.dashboard}:{q.panel}:{q.ref_id}") for q in panel_queries()]


@pytest.mark.parametrize("expr", _queries())
def test_every_selector_of_a_dashboard_query_is_read_with_its_matchers(expr):
    expected = _selectors_in_text(expr)
    assert expected, f"no selector found in the text of {expr!r}"
    assert parse_references(expr).selectors == expected


@pytest.mark.parametrize("expr", _queries())
def test_every_grouping_clause_of_a_dashboard_query_is_read(expr):
    refs = parse_references(expr)
    written = sorted((clause, tuple(name.strip() for name in labels.split(",") if name.strip()))
                     for clause, labels in _CLAUSE_TEXT.findall(expr))
    assert sorted((g.clause, g.labels) for g in refs.groupings) == written
    for grouping in refs.groupings:
        assert grouping.metrics and grouping.metrics <= refs.metrics


@pytest.mark.parametrize("expr", _queries())
def test_every_rate_of_a_dashboard_query_reads_back_as_rate_interval(expr):
    calls = re.findall(r"\b(rate|irate|increase)\(", expr)
    assert range_functions_without_rate_interval(expr) == []
    fixed = expr.replace("[$__rate_interval]", "[1m]")
    assert range_functions_without_rate_interval(fixed) == [f"{f}(...[1m])" for f in calls]


def test_every_variable_query_of_every_dashboard_is_read():
    checked = 0
    for doc in dashboards.render_documents().values():
        for name, query in variable_queries(doc):
            refs, label = parse_label_values_query(query)
            selector_text, label_text = split_label_values_query(query)
            assert label == label_text == query.rsplit(",", 1)[-1].strip(" )")
            assert [s.metric for s in refs.selectors] == [selector_text.split("{")[0]], (name, query)
            assert refs.selectors == (_selectors_in_text(selector_text) or [Selector(selector_text, ())])
            checked += 1
    assert checked >= len(dashboards.dashboard_modules())


# --- PromQL's trickier forms ----------------------------------------------------------------------
def test_selector_metric_and_every_matcher_operator():
    refs = parse_references('rate(http_requests_total{job="$job", status=~"5..", route!="", path!~"/health|/metrics"}[5m])')
    assert refs.selectors == [
        Selector("http_requests_total", (
            Matcher("job", "=", "$job"),
            Matcher("status", "=~", "5.."),
            Matcher("route", "!=", ""),
            Matcher("path", "!~", "/health|/metrics"),
        ))
    ]


def test_name_matcher_gives_the_metric_and_a_name_regex_gives_none():
    assert parse_references('{__name__="up", job="x"}').selectors == [Selector("up", (Matcher("job", "=", "x"),))]
    refs = parse_references('{__name__=~"node_.*", job="x"}')
    assert refs.selectors == [Selector(None, (Matcher("__name__", "=~", "node_.*"), Matcher("job", "=", "x")))]
    assert refs.metrics == set()
    assert contract_problems(refs, {}) == [f"selector without a metric name: {refs.selectors[0]}"]


def test_or_matchers_are_one_selector_per_alternative():
    refs = parse_references('x{a="1" or b="2"}')
    assert refs.selectors == [Selector("x", (Matcher("a", "=", "1"),)), Selector("x", (Matcher("b", "=", "2"),))]


def test_both_sides_of_arithmetic_comparison_and_set_operators_are_read():
    refs = parse_references("(sum(rate(a_total[5m])) or vector(0)) / sum(rate(b_total[5m])) * 60 - c > bool 1 unless d and -e")
    assert refs.metrics == {"a_total", "b_total", "c", "d", "e"}
    assert refs.groupings == []


def test_on_and_group_left_name_labels_of_both_sides():
    refs = parse_references(
        "histogram_quantile(0.99, sum by (le, route) (rate(x_bucket[1m]))) / on (route) group_left (team) y"
    )
    assert _groupings(refs) == [
        ("by", ("le", "route"), ("x_bucket",)),
        ("group_left", ("team",), ("x_bucket", "y")),
        ("on", ("route",), ("x_bucket", "y")),
    ]


def test_ignoring_and_group_right():
    refs = parse_references("a / ignoring (code) group_right (owner, team) b")
    assert _groupings(refs) == [
        ("group_right", ("owner", "team"), ("a", "b")),
        ("ignoring", ("code",), ("a", "b")),
    ]


def test_empty_label_lists_name_no_label():
    assert parse_references("a and on () b").groupings == []
    assert parse_references("a * on (x) group_left b").groupings == [Grouping("on", ("x",), frozenset({"a", "b"}))]
    assert parse_references("sum by () (a)").groupings == []


def test_aggregation_clause_before_or_after_and_without():
    before = parse_references("sum by (database, collection) (m)")
    after = parse_references("sum(m) by (database, collection)")
    assert before.groupings == after.groupings == [Grouping("by", ("database", "collection"), frozenset({"m"}))]
    assert parse_references("avg without (cpu) (n)").groupings == [Grouping("without", ("cpu",), frozenset({"n"}))]


def test_an_aggregation_parameter_is_read_but_not_grouped():
    refs = parse_references("topk by (route) (scalar(max(limit_metric)), sum by (route, code) (x))")
    assert refs.metrics == {"limit_metric", "x"}
    assert refs.groupings == [
        Grouping("by", ("route", "code"), frozenset({"x"})),
        Grouping("by", ("route",), frozenset({"x"})),
    ]
    # count_values' string names the label it writes, not one it reads
    assert parse_references('count_values("version", build_info)').groupings == []
    assert parse_references("quantile by (mode) (0.9, cpu)").groupings == [Grouping("by", ("mode",), frozenset({"cpu"}))]


def test_subquery_offset_and_at_modifier_keep_the_inner_selector():
    refs = parse_references(
        'max_over_time(rate(x{job="a"}[5m])[30m:1m] offset 5m) + y offset -1h @ end() + z @ 1700000000'
    )
    assert refs.selectors == [Selector("x", (Matcher("job", "=", "a"),)), Selector("y"), Selector("z")]


def test_label_function_source_labels_are_references():
    replace = parse_references('label_replace(up, "host", "$1", "instance_name", "(.*):.*")')
    assert replace.groupings == [Grouping("label_replace", ("instance_name",), frozenset({"up"}))]
    join = parse_references('label_join(up, "where", "/", "zone", "rack")')
    assert join.groupings == [Grouping("label_join", ("zone", "rack"), frozenset({"up"}))]
    assert parse_references('label_replace(up, "host", "x", "", "")').groupings == []


# --- Grafana's variables ---------------------------------------------------------------------------
def test_every_variable_syntax_is_put_back_as_written():
    refs = parse_references('sum by (${group}) (x{a="$a", b=~"${b:regex}", c="[[c]]", d="pre-$a-post"})')
    assert refs.selectors == [Selector("x", (
        Matcher("a", "=", "$a"), Matcher("b", "=~", "${b:regex}"), Matcher("c", "=", "[[c]]"),
        Matcher("d", "=", "pre-$a-post"),
    ))]
    assert refs.groupings == [Grouping("by", ("${group}",), frozenset({"x"}))]


def test_interval_variables_read_back_by_name():
    assert range_functions_without_rate_interval("increase(x[$__rate_interval])") == []
    assert range_functions_without_rate_interval("sum(rate(x{a=\"b\"}[5m]))") == ["rate(...[5m])"]
    assert range_functions_without_rate_interval("irate(x[$__interval])") == ["irate(...[$__interval])"]
    assert range_functions_without_rate_interval("rate(x[${__range}])") == ["rate(...[$__range])"]
    assert range_functions_without_rate_interval("rate(rate(x[$__rate_interval])[1h:1m])") == ["rate(...[1h:1m])"]
    assert parse_references("x offset $__interval").metrics == {"x"}


def test_a_variable_standing_for_a_metric_is_reported_so_the_contract_fails():
    refs = parse_references('${metric}{job="$job"}')
    assert refs.selectors == [Selector("${metric}", (Matcher("job", "=", "$job"),))]
    assert contract_problems(refs, {}) == ["metric '${metric}' is not in the source's output"]


@pytest.mark.parametrize("text", [*INTERVAL_PLACEHOLDERS.values(), "__grafana_var_0__"])
def test_an_expression_holding_a_placeholder_is_refused(text):
    with pytest.raises(PromQLSyntaxError, match="placeholder"):
        parse_references(f'x{{a="{text}"}}')


@pytest.mark.parametrize(
    "expr",
    [
        "rate(x[5m]",  # unbalanced
        "sum by (le (rate(x[5m]))",
        "rte(x[5m])",  # unknown function: a typo must not be read as a metric name
        'x{job="a"',
        "x{job=a}",  # unquoted value
        "x[5 m]",
        "x[$window]",  # a user variable where only a duration fits: no value is known for it
        'x{a=~"("}',  # a regex Prometheus would refuse
        "",
    ],
)
def test_malformed_or_unknown_expressions_are_refused(expr):
    with pytest.raises(PromQLSyntaxError, match=re.escape(repr(expr))):
        parse_references(expr)


def test_label_values_variable_query():
    refs, label = parse_label_values_query('label_values(node_uname_info{job="$job"}, instance)')
    assert refs.selectors == [Selector("node_uname_info", (Matcher("job", "=", "$job"),))]
    assert label == "instance"
    refs, label = parse_label_values_query("label_values(job)")
    assert (refs.selectors, label) == ([], "job")
    with pytest.raises(PromQLSyntaxError, match="label_values"):
        parse_label_values_query("query_result(up)")


# --- the contract the references feed ----------------------------------------------------------------
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
    assert contract_problems(parse_references('label_replace(m_total, "r", "$1", "reason", "(.*)")'), series) == [
        "label_replace label 'reason' is on none of ['m_total']"
    ]


# Names no PromQL keyword or function starts with, so any of them is a metric or label name.
_metric = st.from_regex(r"m_[a-z0-9_]{0,10}", fullmatch=True)
_label = st.from_regex(r"l_[a-z0-9_]{0,10}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    metrics=st.lists(_metric, min_size=1, max_size=4, unique=True),
    label=_label,
    clause=st.sampled_from(["by", "without"]),
    op=st.sampled_from(["+", "/", "and", "or", "unless", ">"]),
    matching=st.sampled_from(["", "on", "ignoring"]),
)
def test_every_metric_and_label_of_a_generated_expression_is_found(metrics, label, clause, op, matching):
    parts = [f'sum {clause} ({label}) (rate({m}{{{label}=~"$v"}}[$__rate_interval]))' for m in metrics]
    joiner = f" {op} {matching} ({label}) " if matching else f" {op} "
    refs = parse_references(joiner.join(parts))
    assert refs.selectors == [Selector(m, (Matcher(label, "=~", "$v"),)) for m in metrics]
    expected = [(clause, (label,), (m,)) for m in metrics]
    if matching:
        expected += [(matching, (label,), tuple(sorted(metrics[: i + 1]))) for i in range(1, len(metrics))]
    assert _groupings(refs) == sorted(expected)


# --- test-only code stays out of the product -----------------------------------------------------------
def _product_modules():
    """The product: the packages `pulumi up` and the backend import (benchmarks and examples are tools)."""
    for top in ("catalogue", "stack", "dashboards", "backend_metrics"):
        yield from sorted((REPO_ROOT / top).rglob("*.py"))
    yield REPO_ROOT / "__main__.py"


def _imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            yield module
            yield from (f"{module}.{a.name}" for a in node.names)


def test_no_product_module_imports_the_test_only_parser():
    modules = list(_product_modules())
    assert REPO_ROOT / "dashboards" / "__init__.py" in modules
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for path in modules
        for name in _imported_names(ast.parse(path.read_text(), str(path)))
        if name.split(".")[0] in {"tests", "promql_parser"} or name.split(".")[-1] == "promql_refs"
    ]
    assert offenders == []
