"""Recording rules: named level:metric:operations, and recording what their names say (promtool test rules)."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

import catalogue
from backend_metrics import names as backend
from stack.config import settings_from_mapping
from stack.render import PROMETHEUS_RULES_NAME, render_alert_rules, to_yaml
from tests.support.tools import require_binary

SETTINGS = settings_from_mapping({})
JOB = catalogue.backend.JOB


def _series(metric, /, **labels):
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _promtool_test(tmp_path, tests):
    (tmp_path / PROMETHEUS_RULES_NAME).write_text(to_yaml(render_alert_rules(SETTINGS)))
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump({"rule_files": [PROMETHEUS_RULES_NAME], "evaluation_interval": "1m", "tests": tests})
    )
    return subprocess.run([require_binary("promtool"), "test", "rules", "test.yml"], cwd=tmp_path,
                          capture_output=True, text=True)


def _first_operation(rule, recorded):
    """The range function and window applied to the raw series (`rate5m`, `increase15m`), following
    a rule that reads another rule's record down to the one that reads the raw metric; `sum` for a
    gauge summed as it is (`sum by (...) (metric)`)."""
    while rule.source in recorded:
        rule = recorded[rule.source]
    found = re.search(rf"(\w+)\({re.escape(rule.source)}\[(\w+)\]\)", rule.expr)
    if found is None:
        assert re.fullmatch(rf"sum by \([\w, ]+\) \({re.escape(rule.source)}\)", rule.expr), rule
        return "sum"
    function, window = found.groups()
    return f"{function}{window}"


def test_recording_rules_are_named_level_metric_operations():
    rules = catalogue.recording_rules(SETTINGS)
    recorded = {rule.record: rule for rule in rules}
    assert rules
    for rule in rules:
        level, metric, operations = rule.record.split(":")
        # level: the labels it keeps and adds; operations: newest first, ending with the first one applied
        assert level.split("_") == [*rule.by, *(name for name, _ in rule.labels)], rule
        assert operations.endswith(_first_operation(rule, recorded)), rule
        assert rule.source in rule.expr and metric in rule.source.removesuffix("_total"), rule


def test_a_name_that_says_another_window_than_its_expression_is_caught():
    rule = catalogue.RecordingRule("job:x:rate5m", "sum by (job) (rate(x_total[1m]))", source="x_total", by=("job",))
    assert _first_operation(rule, {}) == "rate1m" and not rule.record.endswith("rate1m")


def test_a_name_not_of_three_parts_is_refused():
    with pytest.raises(ValueError, match="level:metric:operations"):
        catalogue.RecordingRule("http_requests_rate5m", "sum(rate(http_requests_total[5m]))")


def test_recorded_request_rates_and_buckets_sum_replicas_and_methods(tmp_path):
    a = {"job": JOB, "instance": "10.0.0.2:8000"}
    b = {"job": JOB, "instance": "10.0.0.3:8000"}
    route = {backend.LABEL_ROUTE: "/tickets"}
    bucket = f"{backend.HTTP_REQUEST_DURATION_SECONDS}_bucket"
    requests = catalogue.backend.RECORDED_REQUESTS
    buckets = catalogue.backend.RECORDED_DURATION_BUCKETS
    quantiles = catalogue.backend.RECORDED_ROUTE_QUANTILES
    tests = [{
        "interval": "1m",
        "input_series": [
            # replica a: 60 POSTs a minute answered 201; replica b: 120 GETs a minute answered 201,
            # and 30 a minute answered 500: 3 requests/s of 201 and 0.5/s of 500 on /tickets.
            {"series": _series(backend.HTTP_REQUESTS_TOTAL, **a, **route, method="POST", status="201"), "values": "0+60x10"},
            {"series": _series(backend.HTTP_REQUESTS_TOTAL, **b, **route, method="GET", status="201"), "values": "0+120x10"},
            {"series": _series(backend.HTTP_REQUESTS_TOTAL, **b, **route, method="GET", status="500"), "values": "0+30x10"},
            {"series": _series(bucket, **a, **route, method="POST", le="0.1"), "values": "0+30x10"},
            {"series": _series(bucket, **a, **route, method="POST", le="+Inf"), "values": "0+60x10"},
            {"series": _series(bucket, **b, **route, method="GET", le="0.1"), "values": "0+90x10"},
            {"series": _series(bucket, **b, **route, method="GET", le="+Inf"), "values": "0+150x10"},
        ],
        "promql_expr_test": [
            {"expr": _series(requests, **route), "eval_time": "10m", "exp_samples": [
                {"labels": _series(requests, job=JOB, **route, status="201"), "value": 3},
                {"labels": _series(requests, job=JOB, **route, status="500"), "value": 0.5},
            ]},
            {"expr": _series(buckets, **route), "eval_time": "10m", "exp_samples": [
                {"labels": _series(buckets, job=JOB, **route, le="+Inf"), "value": 3.5},
                {"labels": _series(buckets, job=JOB, **route, le="0.1"), "value": 2},
            ]},
            # the recorded median: 1.75/s of 3.5/s, inside the 0..0.1 s bucket (2/s): 0.0875 s
            {"expr": f'round({quantiles}{{quantile="0.5"}} * 10000)', "eval_time": "10m",
             "exp_samples": [{"labels": _series("", job=JOB, **route, quantile="0.5"), "value": 875}]},
            # the job's buckets, all routes: what the overall p99 stat reads
            {"expr": catalogue.backend.RECORDED_JOB_DURATION_BUCKETS, "eval_time": "10m", "exp_samples": [
                {"labels": _series(catalogue.backend.RECORDED_JOB_DURATION_BUCKETS, job=JOB, le="+Inf"), "value": 3.5},
                {"labels": _series(catalogue.backend.RECORDED_JOB_DURATION_BUCKETS, job=JOB, le="0.1"), "value": 2},
            ]},
        ],
    }]
    result = _promtool_test(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_recorded_login_rates_sum_replicas_and_the_overflow_increase_keeps_instances(tmp_path):
    a = {"job": JOB, "instance": "10.0.0.2:8000"}
    b = {"job": JOB, "instance": "10.0.0.3:8000"}
    attempts = catalogue.backend.RECORDED_AUTH_ATTEMPTS
    folded = catalogue.backend.RECORDED_SERIES_OVERFLOW
    failure = {backend.LABEL_OUTCOME: catalogue.backend.AUTH_FAILURE}
    per_metric = {backend.LABEL_METRIC: backend.HTTP_REQUESTS_TOTAL}
    tests = [{
        "interval": "1m",
        "input_series": [
            # 60 failed logins a minute on a, 30 on b: 1.5/s
            {"series": _series(backend.AUTH_ATTEMPTS_TOTAL, **a, **failure), "values": "0+60x20"},
            {"series": _series(backend.AUTH_ATTEMPTS_TOTAL, **b, **failure), "values": "0+30x20"},
            # a folds one label set a minute, b none
            {"series": _series(backend.SERIES_OVERFLOW_TOTAL, **a, **per_metric), "values": "0+1x20"},
            {"series": _series(backend.SERIES_OVERFLOW_TOTAL, **b, **per_metric), "values": "0x20"},
        ],
        "promql_expr_test": [
            {"expr": attempts, "eval_time": "20m",
             "exp_samples": [{"labels": _series(attempts, job=JOB, **failure), "value": 1.5}]},
            # over the rule's 15 minutes: 15 folds on a, none on b
            {"expr": folded, "eval_time": "20m", "exp_samples": [
                {"labels": _series(folded, **a), "value": 15},
                {"labels": _series(folded, **b), "value": 0},
            ]},
        ],
    }]
    result = _promtool_test(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_fails_promtool(tmp_path):
    requests = catalogue.backend.RECORDED_REQUESTS
    tests = [{
        "interval": "1m",
        "input_series": [{"series": _series(backend.HTTP_REQUESTS_TOTAL, job=JOB, instance="x:1", route="/r",
                                            method="GET", status="200"), "values": "0+60x10"}],
        "promql_expr_test": [{"expr": requests, "eval_time": "10m",
                              "exp_samples": [{"labels": _series(requests, job=JOB, route="/r", status="200"),
                                               "value": 2}]}],
    }]
    result = _promtool_test(tmp_path, tests)
    assert result.returncode != 0


def test_recorded_container_series_sum_cgroups_cpus_and_interfaces_per_container(tmp_path):
    ca = catalogue.cadvisor
    job, instance = {"job": ca.JOB}, {"instance": "10.0.1.5:8080"}
    web = {ca.LABEL_NAME: "web", ca.LABEL_IMAGE: "web:1"}
    kept = {**job, **instance, ca.LABEL_NAME: "web"}
    tests = [{
        "interval": "1m",
        "input_series": [
            # two CPUs, 30 s and 15 s of CPU time a minute: 0.75 cores
            {"series": _series(ca.CPU_USAGE_SECONDS_TOTAL, **job, **instance, **web, cpu="cpu00"), "values": "0+30x10"},
            {"series": _series(ca.CPU_USAGE_SECONDS_TOTAL, **job, **instance, **web, cpu="cpu01"), "values": "0+15x10"},
            # two interfaces: 600 + 1200 bytes a minute: 30 B/s
            {"series": _series(ca.NETWORK_RECEIVE_BYTES_TOTAL, **job, **instance, **web, interface="eth0"), "values": "0+600x10"},
            {"series": _series(ca.NETWORK_RECEIVE_BYTES_TOTAL, **job, **instance, **web, interface="eth1"), "values": "0+1200x10"},
            {"series": _series(ca.MEMORY_WORKING_SET_BYTES, **job, **instance, **web), "values": "1000x10"},
            {"series": _series(ca.SPEC_MEMORY_LIMIT_BYTES, **job, **instance, **web), "values": "4000x10"},
            # the same container name on a second node (Swarm service discovery's node label) stays apart
            {"series": _series(ca.MEMORY_WORKING_SET_BYTES, **job, instance="10.0.1.6:8080", node="node-b", **web), "values": "500x10"},
        ],
        "promql_expr_test": [
            {"expr": ca.RECORDED_CPU, "eval_time": "10m", "exp_samples": [{"labels": _series(ca.RECORDED_CPU, **kept), "value": 0.75}]},
            {"expr": ca.RECORDED_NETWORK_RECEIVE, "eval_time": "10m",
             "exp_samples": [{"labels": _series(ca.RECORDED_NETWORK_RECEIVE, **kept), "value": 30}]},
            {"expr": ca.RECORDED_WORKING_SET, "eval_time": "10m", "exp_samples": [
                {"labels": _series(ca.RECORDED_WORKING_SET, **kept), "value": 1000},
                {"labels": _series(ca.RECORDED_WORKING_SET, **job, instance="10.0.1.6:8080", node="node-b", name="web"), "value": 500},
            ]},
            {"expr": ca.RECORDED_MEMORY_LIMIT, "eval_time": "10m",
             "exp_samples": [{"labels": _series(ca.RECORDED_MEMORY_LIMIT, **kept), "value": 4000}]},
        ],
    }]
    result = _promtool_test(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr
