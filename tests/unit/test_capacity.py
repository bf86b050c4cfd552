"""Sizing: the preview warning when the configured limits cannot hold the expected series, and the
alerts that fire before Prometheus reaches its memory limit or its retention size (promtool)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

import catalogue
from catalogue import prometheus
from catalogue.rules import RUNBOOK_BASE_URL
from stack.config import settings_from_mapping
from stack.render import PROMETHEUS_RULES_NAME, render_alert_rules, to_yaml
from stack.settings import parse_byte_size
from stack.sizing import disk_bytes, expected_series, required_memory_bytes, sizing_warnings
from tests.support.tools import require_binary

SELF = {"job": prometheus.JOB, "instance": f"localhost:{prometheus.PORT}"}


def _series(metric, **labels):
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def test_the_defaults_hold_what_the_default_stack_scrapes():
    settings = settings_from_mapping({})
    assert sizing_warnings(settings) == []
    assert required_memory_bytes(expected_series(settings)) <= settings.prometheus.memory_bytes


def test_the_estimate_adds_each_enabled_services_series_per_target():
    one = settings_from_mapping({"backendTargets": ["backend:8000"]})
    three = settings_from_mapping({"backendTargets": ["backend:8000", "api:8000", "10.0.0.5:8000"]})
    assert expected_series(three) - expected_series(one) == 2 * catalogue.backend.EXPECTED_SERIES
    without_node = settings_from_mapping({"nodeExporter": {"enabled": False}})
    assert expected_series(one) - expected_series(without_node) == catalogue.node_exporter.EXPECTED_SERIES


def test_too_little_memory_for_the_expected_series_warns_naming_the_key():
    settings = settings_from_mapping({"prometheus": {"expectedSeries": 500_000, "memoryMb": 1024}})
    (warning,) = [w for w in sizing_warnings(settings) if "memoryMb" in w]
    assert warning.startswith("monstack:prometheus.memoryMb: 1024 MiB")
    assert "500,000 active series (prometheus.expectedSeries)" in warning


def test_a_retention_size_that_cuts_retention_time_short_warns():
    settings = settings_from_mapping({"prometheus": {"expectedSeries": 200_000, "retentionSize": "1GB",
                                                     "retentionTime": "30d", "memoryMb": 8192}})
    (warning,) = sizing_warnings(settings)
    assert warning.startswith("monstack:prometheus.retentionSize: 1GB holds about")
    days = parse_byte_size("1GB") / disk_bytes(200_000, settings, 86400)
    assert f"{days:.1f} days" in warning


def test_no_retention_size_means_no_disk_warning():
    settings = settings_from_mapping({"prometheus": {"expectedSeries": 200_000, "retentionSize": None,
                                                     "memoryMb": 8192}})
    assert sizing_warnings(settings) == []


@pytest.mark.parametrize("text, expected", [("512MB", 512 * 2**20), ("10GB", 10 * 2**30), ("1B", 1),
                                            ("2TB", 2 * 2**40)])
def test_sizes_are_read_in_prometheus_base_2_units(text, expected):
    assert parse_byte_size(text) == expected


def _promtool_test(tmp_path, settings, tests):
    (tmp_path / PROMETHEUS_RULES_NAME).write_text(to_yaml(render_alert_rules(settings)))
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump({"rule_files": [PROMETHEUS_RULES_NAME], "evaluation_interval": "1m", "tests": tests})
    )
    return subprocess.run([require_binary("promtool"), "test", "rules", "test.yml"], cwd=tmp_path,
                          capture_output=True, text=True)


def test_memory_and_storage_alerts_fire_before_the_limits(tmp_path):
    settings = settings_from_mapping({"prometheus": {"memoryMb": 1000, "retentionSize": "1000MB"}})
    mib = 2**20
    tests = [{
        "interval": "1m",
        "input_series": [
            # resident memory climbs from 700 MiB to 900 MiB of the 1000 MiB limit (past 80% at 810)
            {"series": _series("process_resident_memory_bytes", **SELF), "values": f"{700 * mib}+{10 * mib}x20 {900 * mib}x30"},
            # 850 MiB of blocks + 40 MiB WAL + 20 MiB head chunks: 91% of 1000 MiB
            {"series": _series("prometheus_tsdb_storage_blocks_bytes", **SELF), "values": f"{850 * mib}x60"},
            {"series": _series("prometheus_tsdb_wal_storage_size_bytes", **SELF), "values": f"{40 * mib}x60"},
            {"series": _series("prometheus_tsdb_head_chunks_storage_size_bytes", **SELF), "values": f"{20 * mib}x60"},
        ],
        "alert_rule_test": [
            {"eval_time": "15m", "alertname": "PrometheusNearMemoryLimit", "exp_alerts": []},
            {"eval_time": "25m", "alertname": "PrometheusNearMemoryLimit", "exp_alerts": [{
                "exp_labels": {"severity": "warning", **SELF},
                "exp_annotations": {
                    "summary": "Prometheus uses more than 80% of its 1000 MiB memory limit",
                    "description": "Resident memory is 90% of the limit: raise prometheus.memoryMb or reduce "
                                   "series before it is OOM-killed (README 'Sizing').",
                    "runbook_url": f"{RUNBOOK_BASE_URL}#prometheusnearmemorylimit",
                },
            }]},
            {"eval_time": "20m", "alertname": "PrometheusNearRetentionSize", "exp_alerts": []},
            {"eval_time": "31m", "alertname": "PrometheusNearRetentionSize", "exp_alerts": [{
                "exp_labels": {"severity": "warning", **SELF},
                "exp_annotations": {
                    "summary": "Prometheus' storage is above 90% of retentionSize (1000MB)",
                    "description": "Blocks, WAL and head chunks take 91% of retentionSize: Prometheus will delete "
                                   "data younger than retentionTime. Raise prometheus.retentionSize (and the volume).",
                    "runbook_url": f"{RUNBOOK_BASE_URL}#prometheusnearretentionsize",
                },
            }]},
        ],
    }]
    result = _promtool_test(tmp_path, settings, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_prometheus_well_inside_its_limits_raises_no_capacity_alert(tmp_path):
    settings = settings_from_mapping({})
    tests = [{
        "interval": "1m",
        "input_series": [
            {"series": _series("process_resident_memory_bytes", **SELF), "values": f"{300 * 2**20}x40"},
            {"series": _series("prometheus_tsdb_storage_blocks_bytes", **SELF), "values": f"{2 * 2**30}x40"},
            {"series": _series("prometheus_tsdb_wal_storage_size_bytes", **SELF), "values": f"{100 * 2**20}x40"},
            {"series": _series("prometheus_tsdb_head_chunks_storage_size_bytes", **SELF), "values": f"{50 * 2**20}x40"},
        ],
        "alert_rule_test": [{"eval_time": "40m", "alertname": name, "exp_alerts": []}
                            for name in ("PrometheusNearMemoryLimit", "PrometheusNearRetentionSize")],
    }]
    result = _promtool_test(tmp_path, settings, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_retention_size_there_is_no_storage_alert():
    settings = settings_from_mapping({"prometheus": {"retentionSize": None}})
    names = {rule.name for rule in catalogue.alert_rules(settings)}
    assert "PrometheusNearMemoryLimit" in names and "PrometheusNearRetentionSize" not in names
