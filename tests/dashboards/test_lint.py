"""Lint of the rendered dashboards: what Grafana needs to show them, and PromQL that parses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

import dashboards
from dashboards.adapter import DEPRECATED_PANEL_TYPES, MAX_UID_LENGTH, SCHEMA_VERSION, iter_panels
import catalogue
from catalogue.grafana import PROMETHEUS_DATASOURCE_UID
from stack.config import settings_from_mapping
from tests.dashboards.helpers import panel_queries, range_functions_without_rate_interval, substitute, substitutions, variable_queries
from tests.support.promql_refs import parse_references
from tests.support.tools import require_binary


@pytest.fixture(scope="module")
def documents():
    return dashboards.render_documents()


def _panels(documents):
    for filename, doc in documents.items():
        for panel in iter_panels(doc["panels"]):
            yield filename, panel


def test_there_are_the_four_dashboards(documents):
    assert set(documents) == {"backend-api.json", "containers.json", "mongodb.json", "host.json"}


def test_uids_are_unique_and_fit_grafanas_limit(documents):
    uids = [doc["uid"] for doc in documents.values()]
    assert len(set(uids)) == len(uids)
    assert all(0 < len(uid) <= MAX_UID_LENGTH for uid in uids)


def test_every_panel_and_target_uses_the_provisioned_datasource_by_uid(documents):
    expected = {"type": "prometheus", "uid": PROMETHEUS_DATASOURCE_UID}
    for filename, panel in _panels(documents):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == expected, (filename, panel["title"])
        assert panel["targets"], (filename, panel["title"])
        for target in panel["targets"]:
            assert target["datasource"] == expected, (filename, panel["title"])
    for filename, doc in documents.items():
        for variable in doc["templating"]["list"]:
            assert variable["datasource"] == expected, (filename, variable["name"])


def test_every_panel_has_a_unit_and_threshold_steps(documents):
    for filename, panel in _panels(documents):
        if panel["type"] == "row":
            continue
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit") not in (None, ""), (filename, panel["title"])
        steps = defaults["thresholds"]["steps"]
        assert isinstance(steps, list) and steps and steps[0]["value"] is None, (filename, panel["title"])
        values = [s["value"] for s in steps[1:]]
        assert values == sorted(values) and all(isinstance(v, float) for v in values), (filename, panel["title"])


def test_stat_panels_have_thresholds_that_change_colour(documents):
    """A stat panel that alarms on a value has at least two colours; plain counters may use one."""
    coloured = [p for _, p in _panels(documents) if p["type"] == "stat" and len(p["fieldConfig"]["defaults"]["thresholds"]["steps"]) > 1]
    stats = [p for _, p in _panels(documents) if p["type"] == "stat"]
    assert len(coloured) >= len(stats) - 3  # request rate, operations, memory total are informational


def test_no_deprecated_or_angular_panel_types(documents):
    types = {panel["type"] for _, panel in _panels(documents)}
    assert not types & DEPRECATED_PANEL_TYPES
    assert types <= {"row", "timeseries", "stat"}


def test_target_ref_ids_are_set_and_unique_per_panel(documents):
    for filename, panel in _panels(documents):
        ref_ids = [t["refId"] for t in panel.get("targets", [])]
        assert all(ref_ids) and len(set(ref_ids)) == len(ref_ids), (filename, panel["title"])


def test_schema_version_is_current_and_panels_not_rows(documents):
    for doc in documents.values():
        assert doc["schemaVersion"] == SCHEMA_VERSION
        assert "rows" not in doc
        assert doc["panels"]


def test_every_rate_uses_rate_interval():
    queries = panel_queries()
    assert queries
    offenders = [(q.dashboard, q.panel, bad) for q in queries for bad in range_functions_without_rate_interval(q.expr)]
    assert offenders == []
    assert any("[$__rate_interval]" in q.expr for q in queries)


def test_rate_interval_check_catches_a_fixed_range():
    assert range_functions_without_rate_interval("sum(rate(x{a=\"b\"}[5m]))") == ["rate(...[5m])"]
    assert range_functions_without_rate_interval("increase(x[$__rate_interval])") == []


def test_every_expression_parses_with_promtool(tmp_path, documents):
    promtool = require_binary("promtool")
    rules = []
    for filename, doc in documents.items():
        values = substitutions(doc, "1m")
        for panel in iter_panels(doc["panels"]):
            for target in panel.get("targets", []):
                rules.append({"record": f"dashboard:check:{len(rules)}", "expr": substitute(target["expr"], values),
                              "labels": {"panel": f"{filename} {panel['title']} {target['refId']}"}})
    assert len(rules) > 20
    rule_file = tmp_path / "dashboard-queries.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, sort_keys=False))
    result = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_promtool_check_rejects_a_broken_expression(tmp_path):
    promtool = require_binary("promtool")
    rule_file = tmp_path / "broken.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "dashboard:check:0", "expr": "sum by (route (rate(x[1m]))"}]}]}))
    result = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode != 0


def test_template_variables_where_users_expect_them(documents):
    names = {filename: [name for name, _ in variable_queries(doc)] for filename, doc in documents.items()}
    assert names["backend-api.json"] == ["job", "instance", "route"]
    assert names["containers.json"] == ["job", "node", "instance", "container"]
    assert names["mongodb.json"] == ["job", "instance"]
    assert names["host.json"] == ["job", "node", "instance"]


def test_host_and_containers_pick_a_node_and_all_keeps_unlabelled_series(documents):
    """The node picker (issue 11) on both dashboards: multi-select with "All" by default. Containers
    reads the `node` target label, which only Swarm service discovery sets, so its "All" is ".*"
    (node=~".*" also matches a series without the label); Host lists uname's nodename and narrows
    the hidden $instance, whose "All" is Grafana's alternation of the listed instances."""
    from catalogue.service import NODE_LABEL

    variables = {f: {v["name"]: v for v in doc["templating"]["list"]} for f, doc in documents.items()}
    for filename in ("host.json", "containers.json"):
        node = variables[filename]["node"]
        assert node["multi"] and node["includeAll"] and node["current"]["value"] == ["$__all"], filename
        assert node["hide"] == 0, filename
    assert variables["containers.json"]["node"]["allValue"] == ".*"
    assert variables["containers.json"]["node"]["query"].endswith(f", {NODE_LABEL})")
    instance = variables["host.json"]["instance"]
    assert instance["hide"] == 2 and instance["includeAll"] and instance["allValue"] is None
    assert 'nodename=~"$node"' in instance["query"]


def test_every_panel_query_uses_the_dashboard_variables(documents):
    # Recorded series are summed over instances: a query reading only those has no instance to filter.
    recorded = {rule.record for rule in catalogue.recording_rules(settings_from_mapping({}))}
    for q in panel_queries(documents):
        assert '"$job"' in q.expr, (q.dashboard, q.panel, q.expr)
        if not parse_references(q.expr).metrics <= recorded:
            assert '"$instance"' in q.expr, (q.dashboard, q.panel, q.expr)
        if q.dashboard == "containers.json":  # Host reaches the node through $instance
            assert '"$node"' in q.expr, (q.dashboard, q.panel, q.expr)


def test_rendering_is_deterministic_sorted_json():
    first, second = dashboards.render_dashboards(), dashboards.render_dashboards()
    assert first == second
    for text in first.values():
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_importing_and_rendering_writes_nothing_and_needs_no_pulumi(tmp_path):
    code = (
        "import sys, dashboards\n"
        "assert 'grafanalib' not in sys.modules, 'grafanalib imported at import time'\n"
        "out = dashboards.render_dashboards()\n"
        "assert 'pulumi' not in sys.modules, 'pulumi imported'\n"
        "print(len(out))\n"
    )
    from tests.support.live import REPO_ROOT

    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4"
    assert list(tmp_path.iterdir()) == []


def test_panel_titles_are_unique_within_a_dashboard(documents):
    for filename, doc in documents.items():
        titles = [p["title"] for p in iter_panels(doc["panels"]) if p["type"] != "row"]
        assert len(set(titles)) == len(titles), filename
