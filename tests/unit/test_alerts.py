"""Alert rules: valid for promtool, and firing (or not) on series built from the shared names."""

import subprocess

import pytest
import yaml

from backend_metrics import names as backend
from catalogue import mongodb_exporter as mongodb
import catalogue
from catalogue import alert_rules
from stack.render import render_alert_rules
from stack.config import settings_from_mapping
from stack.render import PROMETHEUS_RULES_NAME, render_prometheus_config, to_yaml
from tests.support.tools import require_binary

BACKEND = {"job": catalogue.backend.JOB, "instance": "backend:8000"}


def series(metric, **labels):
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def promtool_test(tmp_path, settings, tests):
    (tmp_path / PROMETHEUS_RULES_NAME).write_text(to_yaml(render_alert_rules(settings)))
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump({"rule_files": [PROMETHEUS_RULES_NAME], "evaluation_interval": "1m", "tests": tests})
    )
    return subprocess.run(
        [require_binary("promtool"), "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True
    )


def alert(name, eval_time, expected):
    return {"eval_time": eval_time, "alertname": name, "exp_alerts": expected}


@pytest.mark.parametrize(
    "config", [{}, {"mongodbExporter": {"enabled": False}, "nodeExporter": {"enabled": False}}]
)
def test_rendered_rules_pass_promtool(tmp_path, config):
    (tmp_path / PROMETHEUS_RULES_NAME).write_text(to_yaml(render_alert_rules(settings_from_mapping(config))))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", PROMETHEUS_RULES_NAME], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_loads_the_rules_file():
    assert render_prometheus_config(settings_from_mapping({}))["rule_files"] == [PROMETHEUS_RULES_NAME]


def test_rules_follow_the_switched_on_exporters():
    all_on = {rule.name for rule in alert_rules(settings_from_mapping({}))}
    off = {rule.name for rule in alert_rules(settings_from_mapping({"mongodbExporter": {"enabled": False}, "nodeExporter": {"enabled": False}}))}
    assert {"MongoDBDown", "HostDiskAlmostFull", "HostMemoryLow"} <= all_on - off
    assert "TargetDown" in off


def test_alerts_fire_on_the_series_they_watch(tmp_path):
    request = backend.HTTP_REQUESTS_TOTAL
    route = {backend.LABEL_ROUTE: "/tickets", backend.LABEL_METHOD: "POST"}
    failures = {backend.LABEL_OUTCOME: "failure"}
    successes = {backend.LABEL_OUTCOME: "success"}
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": series("up", **BACKEND), "values": "0x10"},
                # 100 requests a minute, 10 of them 5xx: a 10% error ratio.
                {"series": series(request, **BACKEND, **route, status="201"), "values": "0+90x20"},
                {"series": series(request, **BACKEND, **route, status="500"), "values": "0+10x20"},
                # 80 logins a minute, 60 of them failing: 75%.
                {"series": series(backend.AUTH_ATTEMPTS_TOTAL, **BACKEND, **failures), "values": "0+60x30"},
                {"series": series(backend.AUTH_ATTEMPTS_TOTAL, **BACKEND, **successes), "values": "0+20x30"},
                {"series": series(mongodb.UP, job=catalogue.mongodb_exporter.JOB, instance="mongodb-exporter:9216"), "values": "0x5"},
            ],
            "alert_rule_test": [
                alert("TargetDown", "1m", []),
                alert("TargetDown", "3m", [{
                    "exp_labels": {"severity": "critical", **BACKEND},
                    "exp_annotations": {
                        "summary": "Prometheus cannot scrape a target",
                        "description": "backend at backend:8000 has been down for 2 minutes.",
                    },
                }]),
                alert("BackendHighErrorRatio", "12m", [{
                    "exp_labels": {"severity": "critical"},
                    "exp_annotations": {
                        "summary": "More than 5% of backend requests fail with a 5xx status",
                        "description": "10% of requests answered 5xx over the last 5 minutes.",
                    },
                }]),
                alert("LoginFailureSpike", "20m", [{
                    "exp_labels": {"severity": "warning"},
                    "exp_annotations": {
                        "summary": "Most login attempts fail",
                        "description": "75% of authentication attempts failed: a broken client, or password guessing.",
                    },
                }]),
                alert("MongoDBDown", "3m", [{
                    "exp_labels": {"severity": "critical", "job": catalogue.mongodb_exporter.JOB, "instance": "mongodb-exporter:9216"},
                    "exp_annotations": {
                        "summary": "The MongoDB exporter cannot reach MongoDB",
                        "description": f"{mongodb.UP} is 0 on mongodb-exporter:9216: MongoDB is down or the exporter's URI is wrong.",
                    },
                }]),
            ],
        }
    ]
    result = promtool_test(tmp_path, settings_from_mapping({}), tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_healthy_backend_raises_no_alert(tmp_path):
    route = {backend.LABEL_ROUTE: "/tickets", backend.LABEL_METHOD: "GET"}
    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": series("up", **BACKEND), "values": "1x20"},
                # 1% errors: under the 5% threshold.
                {"series": series(backend.HTTP_REQUESTS_TOTAL, **BACKEND, **route, status="200"), "values": "0+99x20"},
                {"series": series(backend.HTTP_REQUESTS_TOTAL, **BACKEND, **route, status="503"), "values": "0+1x20"},
            ],
            "alert_rule_test": [alert(name, "15m", []) for name in ("TargetDown", "BackendHighErrorRatio")],
        }
    ]
    result = promtool_test(tmp_path, settings_from_mapping({}), tests)
    assert result.returncode == 0, result.stdout + result.stderr
