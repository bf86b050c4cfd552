"""Shared by the dashboard tests: the queries each dashboard runs, variable substitution,
exposition parsing, the metric contract check, and OpenMetrics backfill input from a fixture."""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

import catalogue
import dashboards
from dashboards.adapter import iter_panels
from catalogue.rules import render_rule_groups
from catalogue.service import NODE_LABEL
from tests.support.live import Prometheus, run_prometheus
from tests.support.promql_refs import (
    Grouping,
    References,
    parse_grafana_expr,
    parse_label_values_query,
    parse_references,
    split_label_values_query,
)
from tests.support.tools import require_binary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CADVISOR_FIXTURE = FIXTURES / "cadvisor-v0.60.5.prom"
MONGODB_EXPORTER_FIXTURE = FIXTURES / "mongodb_exporter-0.47.1.prom"

# Labels Prometheus attaches to scraped series; they are not in an exporter's output. `node` is on
# every target only with Swarm service discovery (swarm.nodeNameLabels).
TARGET_LABELS = frozenset({"job", "instance", NODE_LABEL})


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # file name
    source: str  # which exporter feeds it (the dashboard module's SOURCE)
    panel: str
    ref_id: str
    expr: str


def dashboard_sources() -> dict[str, str]:
    """file name -> SOURCE of the module that builds it."""
    return dashboards.dashboard_sources()


def panel_queries(documents: dict[str, dict[str, Any]] | None = None) -> list[PanelQuery]:
    documents = documents if documents is not None else dashboards.render_documents()
    sources = dashboard_sources()
    out = []
    for filename, doc in documents.items():
        for panel in iter_panels(doc["panels"]):
            for target in panel.get("targets", []):
                out.append(PanelQuery(filename, sources[filename], panel["title"], target["refId"], target["expr"]))
    return out


def variable_queries(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["name"], v["query"]) for v in doc["templating"]["list"] if v["type"] == "query"]


# What a variable's query lists: (series selector, label) -> label values.
ListValues = Callable[[str, str], list[str]]


def grafana_regex(values: Iterable[str]) -> str:
    """Several values of a multi-value variable as Grafana's Prometheus data source writes them into a
    query: each regex-escaped (the backslash doubled for the PromQL string), one value alone, more
    as ``(a|b)``."""
    def escape(value: str) -> str:
        value = value.replace("\\", "\\\\\\\\")
        return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(), value)

    escaped = [escape(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitutions(
    doc: dict[str, Any],
    rate_interval: str,
    *,
    chosen: Mapping[str, list[str]] | None = None,
    list_values: ListValues | None = None,
) -> dict[str, str]:
    """Values for a dashboard's variables, in dashboard order as Grafana resolves them: `chosen`
    values where given, else the default job and "All".

    "All" is the variable's allValue. A variable without one (a chained variable such as the Host
    dashboard's hidden $instance) gets Grafana's own "All": the alternation of what its query lists
    with the earlier variables substituted, which `list_values` (a real Prometheus) answers; without
    it ``.+`` stands in, which is enough to parse an expression but not to check a selection."""
    values = {"__rate_interval": rate_interval, "__interval": rate_interval, "__range": "1h"}
    chosen = chosen or {}
    for variable in doc["templating"]["list"]:
        name = variable["name"]
        if name in chosen:
            picked = chosen[name]
            values[name] = grafana_regex(picked) if variable.get("multi") or variable.get("includeAll") else picked[0]
        elif variable.get("includeAll"):
            if variable.get("allValue") is not None:
                values[name] = variable["allValue"]
            elif list_values is None:
                values[name] = ".+"
            else:
                selector, label = split_label_values_query(substitute(variable["query"], values))
                values[name] = grafana_regex(list_values(selector, label))
        else:
            current = variable["current"]["value"]
            values[name] = current[0] if isinstance(current, list) else current
    return values


def label_values_of(prometheus: Prometheus, at: float | None = None) -> ListValues:
    """`ListValues` answered by `prometheus` (at time `at`, else now), as Grafana's ``label_values``:
    the label's distinct non-empty values on the selected series, sorted."""
    def list_values(selector: str, label: str) -> list[str]:
        params = {"query": f"count by ({label}) ({selector})"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = prometheus.api("query", **params)
        return sorted({sample["metric"].get(label, "") for sample in data["result"]} - {""})

    return list_values


_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substitute(expr: str, values: dict[str, str]) -> str:
    def replace(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return _VAR_RE.sub(replace, expr)


# Every recording rule of the catalogue, whichever services a stack enables: a recorded series
# whose source is missing stays missing.
RECORDING_RULES = [rule for service in catalogue.SERVICES for rule in service.recording_rules()]


_LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def legend_gaps(legend_format: str, result: list[dict[str, Any]]) -> list[str]:
    """The labels a panel's legend names that a returned series lacks (its line would be labelled
    blank): one entry per series and label, empty when every line gets its name."""
    wanted = _LEGEND_LABEL.findall(legend_format or "")
    return [f"{label} missing from {sample['metric']}" for sample in result for label in wanted
            if label not in sample["metric"]]


def exposition_series(text: str) -> dict[str, list[dict[str, str]]]:
    """Sample name -> label sets, from Prometheus text exposition; empty label values count as absent
    (Prometheus drops them on ingestion)."""
    series: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if v != ""}
            series.setdefault(sample.name, []).append(labels)
    return series


def _value_matches(op: str, pattern: str, value: str | None) -> bool:
    value = value or ""
    if op == "=":
        return value == pattern
    return re.fullmatch(pattern, value) is not None


def contract_problems(refs: References, series: dict[str, list[dict[str, str]]]) -> list[str]:
    """Every metric and label `refs` reads must exist in `series`; matchers with a fixed value must
    match at least one series.  Returns what is missing (empty when the contract holds)."""
    problems = []
    for selector in refs.selectors:
        if selector.metric is None:
            problems.append(f"selector without a metric name: {selector}")
            continue
        if selector.metric not in series:
            problems.append(f"metric {selector.metric!r} is not in the source's output")
            continue
        label_sets = series[selector.metric]
        for matcher in selector.matchers:
            if matcher.label in TARGET_LABELS:
                continue
            if not any(matcher.label in labels for labels in label_sets):
                problems.append(f"label {matcher.label!r} is not on any {selector.metric} series")
            elif matcher.op in ("=", "=~") and "$" not in matcher.value and matcher.value:
                if not any(_value_matches(matcher.op, matcher.value, labels.get(matcher.label)) for labels in label_sets):
                    problems.append(
                        f"no {selector.metric} series has {matcher.label}{matcher.op}{matcher.value!r}"
                    )
    for grouping in refs.groupings:
        for label in grouping.labels:
            if label in TARGET_LABELS:
                continue
            if not any(label in labels for metric in grouping.metrics for labels in series.get(metric, [])):
                problems.append(f"{grouping.clause} label {label!r} is on none of {sorted(grouping.metrics)}")
    return problems


def with_recorded_series(series: dict[str, list[dict[str, str]]], rules) -> dict[str, list[dict[str, str]]]:
    """`series` plus what each recording rule makes of them (its source's label sets, kept to its
    `by` labels, plus its own labels), so the contract of a query on a recorded series is checked
    against the source's real output: a recorded series whose source is missing stays missing."""
    out = dict(series)
    for rule in rules:  # in evaluation order: a rule may read what an earlier one records
        if rule.source not in parse_references(rule.expr).metrics:
            raise ValueError(f"{rule.record}: its expression {rule.expr!r} does not read its source {rule.source!r}")
        label_sets = [{**{k: v for k, v in labels.items() if k in rule.by}, **dict(rule.labels)}
                      for labels in out.get(rule.source, [])]
        if label_sets:
            out[rule.record] = out.get(rule.record, []) + label_sets
    return out


def dashboard_references(doc: dict[str, Any]) -> Iterator[tuple[str, References]]:
    """(where, references) for every panel query and every query variable of one dashboard."""
    for panel in iter_panels(doc["panels"]):
        for target in panel.get("targets", []):
            yield f"{doc['title']} / {panel['title']} / {target['refId']}", parse_references(target["expr"])
    for name, query in variable_queries(doc):
        refs, label = parse_label_values_query(query)
        metrics = frozenset(refs.metrics)
        refs.groupings.append(Grouping("label_values", (label,), metrics))
        yield f"{doc['title']} / variable ${name}", refs


def _om_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _om_labels(labels: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items())) + "}"


def openmetrics_backfill(text: str, *, job: str, instance: str, end: float, scrapes: int = 20, interval: float = 15.0,
                         target_labels: Mapping[str, str] | None = None, families: Collection[str] | None = None) -> str:
    """OpenMetrics input for ``promtool tsdb create-blocks-from openmetrics``: `scrapes` samples per
    series, `interval` seconds apart, the last at `end`; gauges stay constant, every other value
    (counters and the exporters' untyped cumulative values) grows so that rate() sees movement.
    `target_labels` are put on every series beside job and instance (as a scrape's target labels
    are); `families`, when given, keeps only the samples of those names."""
    lines = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if families is not None and sample.name not in families:
                continue
            labels = {k: v for k, v in sample.labels.items() if v != ""}
            labels.update(target_labels or {})
            labels.update(job=job, instance=instance)
            rendered = sample.name + _om_labels(labels)
            step = 0.0 if family.type == "gauge" else max(abs(sample.value) * 0.002, 1.0)
            for k in range(scrapes):
                ts = end - (scrapes - 1 - k) * interval
                lines.append(f"{rendered} {_om_value(sample.value + k * step)} {ts:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def join_openmetrics(*texts: str) -> str:
    """Several `openmetrics_backfill` outputs as one input (one ``# EOF``, at the end)."""
    return "".join(t.removesuffix("# EOF\n") for t in texts) + "# EOF\n"


@contextlib.contextmanager
def serve_backfill(work: Path, openmetrics: str) -> Iterator[Prometheus]:
    """A real Prometheus serving a TSDB that ``promtool tsdb create-blocks-from openmetrics`` built
    from `openmetrics` in `work` (scraping nothing), with the series of every recording rule of the
    catalogue backfilled from it by ``promtool tsdb create-blocks-from rules`` (Prometheus itself
    evaluates them, at their group's interval), as the stack's rule file records them."""
    promtool = require_binary("promtool")
    source = work / "samples.om.txt"
    source.write_text(openmetrics)
    tsdb = work / "tsdb"
    result = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    stamps = [float(line.rsplit(" ", 1)[1]) for line in openmetrics.splitlines() if line and not line.startswith("#")]
    if stamps and RECORDING_RULES:
        rule_file = work / "recording.rules.yml"
        groups = [g for g in render_rule_groups([], recording=RECORDING_RULES)["groups"] if g["rules"]]
        rule_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        recorded = work / "recorded"
        with run_prometheus([], tsdb_dir=tsdb) as raw:
            result = subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "rules", f"--url={raw.url}", f"--start={int(min(stamps))}",
                 f"--end={int(max(stamps)) + 1}", f"--output-dir={recorded}", "--quiet", str(rule_file)],
                capture_output=True, text=True,
            )
        assert result.returncode == 0, result.stdout + result.stderr
        for block in recorded.iterdir():
            shutil.move(str(block), str(tsdb / block.name))
    with run_prometheus([], tsdb_dir=tsdb) as prometheus:
        yield prometheus


_RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})


def range_functions_without_rate_interval(expr: str) -> list[str]:
    """rate/irate/increase calls in `expr` whose range is not ``[$__rate_interval]``."""
    parsed = parse_grafana_expr(expr)
    bad = []

    def visit(node: promql_parser.Expr) -> None:
        if not (isinstance(node, promql_parser.Call) and node.func.name in _RATE_FUNCTIONS):
            return
        arg = node.args[0]
        if isinstance(arg, promql_parser.MatrixSelector):
            found = parsed.duration(arg.range)
        else:  # a subquery: its own range and step
            step = parsed.duration(arg.step) if arg.step is not None else ""
            found = f"{parsed.duration(arg.range)}:{step}"
        if found != "$__rate_interval":
            bad.append(f"{node.func.name}(...[{found}])")

    promql_parser.walk(parsed.tree, visit)
    return bad
