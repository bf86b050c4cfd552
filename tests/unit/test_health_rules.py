"""`promtool test rules` for the rules about the pipeline itself: each fires on the series it
watches, with its values in the description, and stays quiet on healthy series."""

import pytest

from catalogue import alert_rules
from catalogue import alertmanager as am
from catalogue import prometheus as prom
from stack.config import settings_from_mapping
from tests.unit.test_alerts import alert, promtool_test, series

PROMETHEUS = {"job": prom.JOB, "instance": "localhost:9090"}
ALERTMANAGER = {"job": am.JOB, "instance": "alertmanager:9093"}
NOTIFY = {**PROMETHEUS, "alertmanager": "http://alertmanager:9093/api/v2/alerts"}

# (alert, interval, firing series, healthy series, eval time, expected labels, expected description)
CASES = [
    (
        "PrometheusBadConfig", "1m",
        [(series(prom.CONFIG_LAST_RELOAD_SUCCESSFUL, **PROMETHEUS), "0x30")],
        [(series(prom.CONFIG_LAST_RELOAD_SUCCESSFUL, **PROMETHEUS), "1x30")],
        "20m", {"severity": "critical", **PROMETHEUS},
        "Prometheus at localhost:9090 runs an older configuration: the last reload failed.",
    ),
    (
        "PrometheusRuleFailures", "1m",
        [(series(prom.RULE_EVALUATION_FAILURES_TOTAL, **PROMETHEUS, rule_group="monstack.rules.yml;monstack"), "0+1x30")],
        [(series(prom.RULE_EVALUATION_FAILURES_TOTAL, **PROMETHEUS, rule_group="monstack.rules.yml;monstack"), "0x30")],
        "25m", {"severity": "critical", **PROMETHEUS, "rule_group": "monstack.rules.yml;monstack"},
        "Prometheus failed to evaluate 5 rules of group monstack.rules.yml;monstack in the last 5 minutes: "
        "those alerts cannot fire.",
    ),
    (
        # 50 more queued alerts a minute, near the capacity: over it within 30 minutes.
        "PrometheusNotificationQueueRunningFull", "1m",
        [(series(prom.NOTIFICATIONS_QUEUE_LENGTH, **PROMETHEUS), "9000+50x40"),
         (series(prom.NOTIFICATIONS_QUEUE_CAPACITY, **PROMETHEUS), "10000x40")],
        [(series(prom.NOTIFICATIONS_QUEUE_LENGTH, **PROMETHEUS), "0+10x40"),
         (series(prom.NOTIFICATIONS_QUEUE_CAPACITY, **PROMETHEUS), "10000x40")],
        "30m", {"severity": "warning", **PROMETHEUS},
        "At the current rate the queue of alerts to send (12k predicted) overflows within 30 minutes: "
        "alerts will be dropped.",
    ),
    (
        "PrometheusNotificationsDropped", "1m",
        [(series(prom.NOTIFICATIONS_DROPPED_TOTAL, **PROMETHEUS), "0+5x30")],
        [(series(prom.NOTIFICATIONS_DROPPED_TOTAL, **PROMETHEUS), "0x30")],
        "25m", {"severity": "warning", **PROMETHEUS},
        "Prometheus dropped 25 alert notifications in the last 5 minutes.",
    ),
    (
        "PrometheusTSDBCompactionsFailing", "10m",
        [(series(prom.TSDB_COMPACTIONS_FAILED_TOTAL, **PROMETHEUS), "0+1x60")],
        [(series(prom.TSDB_COMPACTIONS_FAILED_TOTAL, **PROMETHEUS), "0x60")],
        "8h", {"severity": "warning", **PROMETHEUS},
        "Prometheus at localhost:9090 failed 18 compactions in the last 3 hours: the disk fills with uncompacted blocks.",
    ),
    (
        "PrometheusWALCorrupted", "1m",
        [(series(prom.TSDB_WAL_CORRUPTIONS_TOTAL, **PROMETHEUS), "1x10")],
        [(series(prom.TSDB_WAL_CORRUPTIONS_TOTAL, **PROMETHEUS), "0x10")],
        "5m", {"severity": "warning", **PROMETHEUS},
        "Prometheus at localhost:9090 found 1 WAL corruption(s) when it started and dropped the samples after the corruption.",
    ),
    (
        "PrometheusNotConnectedToAlertmanagers", "1m",
        [(series(prom.NOTIFICATIONS_ALERTMANAGERS_DISCOVERED, **PROMETHEUS), "0x30")],
        [(series(prom.NOTIFICATIONS_ALERTMANAGERS_DISCOVERED, **PROMETHEUS), "1x30")],
        "20m", {"severity": "warning", **PROMETHEUS},
        "Prometheus at localhost:9090 knows 0 Alertmanagers: no alert reaches anyone.",
    ),
    (
        "PrometheusErrorSendingAlertsToAnyAlertmanager", "1m",
        [(series(prom.NOTIFICATIONS_ERRORS_TOTAL, **NOTIFY), "0+10x40"),
         (series(prom.NOTIFICATIONS_SENT_TOTAL, **NOTIFY), "0+100x40")],
        [(series(prom.NOTIFICATIONS_ERRORS_TOTAL, **NOTIFY), "0x40"),
         (series(prom.NOTIFICATIONS_SENT_TOTAL, **NOTIFY), "0+100x40")],
        "30m", {"severity": "critical", **PROMETHEUS},
        "10% of the alerts sent by Prometheus to Alertmanager failed over 5 minutes.",
    ),
    (
        "AlertmanagerFailedReload", "1m",
        [(series(am.CONFIG_LAST_RELOAD_SUCCESSFUL, **ALERTMANAGER), "0x30")],
        [(series(am.CONFIG_LAST_RELOAD_SUCCESSFUL, **ALERTMANAGER), "1x30")],
        "20m", {"severity": "critical", **ALERTMANAGER},
        "Alertmanager at alertmanager:9093 runs an older configuration: the last reload failed.",
    ),
    (
        # v0.34 labels failures by reason (0.25 does not): the rule holds for both.
        "AlertmanagerFailedToSendAlerts", "1m",
        [(series(am.NOTIFICATIONS_FAILED_TOTAL, **ALERTMANAGER, integration="webhook", reason="serverError"), "0+5x40"),
         (series(am.NOTIFICATIONS_TOTAL, **ALERTMANAGER, integration="webhook"), "0+100x40")],
        [(series(am.NOTIFICATIONS_FAILED_TOTAL, **ALERTMANAGER, integration="webhook", reason="serverError"), "0x40"),
         (series(am.NOTIFICATIONS_TOTAL, **ALERTMANAGER, integration="webhook"), "0+100x40")],
        "30m", {"severity": "warning", **ALERTMANAGER, "integration": "webhook", "reason": "serverError"},
        "Alertmanager at alertmanager:9093 failed to send 5% of its webhook notifications over 15 minutes.",
    ),
]


def _test(interval, input_series, checks):
    return {
        "interval": interval,
        "input_series": [{"series": s, "values": v} for s, v in input_series],
        "alert_rule_test": checks,
    }


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_rule_fires_with_its_values_and_stays_quiet_when_healthy(tmp_path, case):
    name, interval, firing, healthy, at, labels, description = case
    settings = settings_from_mapping({})
    rule = next(r for r in alert_rules(settings) if r.name == name)
    expected = [{"exp_labels": labels, "exp_annotations": {"summary": rule.summary, "description": description}}]
    tests = [_test(interval, healthy, [alert(name, at, [])]), _test(interval, firing, [alert(name, at, expected)])]
    result = promtool_test(tmp_path, settings, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_watchdog_always_fires(tmp_path):
    settings = settings_from_mapping({})
    watchdog = next(r for r in alert_rules(settings) if r.name == "Watchdog")
    expected = [{"exp_labels": {"severity": "none"}, "exp_annotations": {"summary": watchdog.summary, "description": watchdog.description}}]
    tests = [_test("1m", [], [alert("Watchdog", "0m", [dict(e) for e in expected]), alert("Watchdog", "3h", [dict(e) for e in expected])])]
    result = promtool_test(tmp_path, settings, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_rules_follow_the_switch():
    on = {r.name for r in alert_rules(settings_from_mapping({}))}
    off = {r.name for r in alert_rules(settings_from_mapping({"alertmanager": {"enabled": False}}))}
    assert {"AlertmanagerFailedReload", "AlertmanagerFailedToSendAlerts", "PrometheusNotConnectedToAlertmanagers"} <= on - off
    assert {"Watchdog", "PrometheusRuleFailures", "PrometheusBadConfig"} <= off


def test_for_overrides_shorten_a_rule_and_its_description_says_so():
    settings = settings_from_mapping({"alertRules": {"forOverrides": {"TargetDown": "10s"}}})
    from stack.render import render_alert_rules

    (target_down,) = [r for g in render_alert_rules(settings)["groups"] for r in g["rules"] if r["alert"] == "TargetDown"]
    assert target_down["for"] == "10s"
    assert "for 10s" in target_down["annotations"]["description"]


def test_target_down_fires_when_dns_discovery_leaves_the_backend_job_without_targets(tmp_path):
    # Every backend replica stopped: Docker's DNS answers NXDOMAIN, Prometheus drops the targets,
    # and no `up` series of the job is left to be 0.
    from catalogue import backend

    settings = settings_from_mapping({})
    rule = next(r for r in alert_rules(settings) if r.name == "TargetDown")
    prometheus_up = (series("up", **PROMETHEUS), "1x10")
    tests = [
        _test("1m", [prometheus_up], [alert("TargetDown", "5m", [{
            "exp_labels": {"severity": "critical", "job": backend.JOB},
            "exp_annotations": {"summary": rule.summary, "description": "backend has no target left to scrape (none is discovered) for 2m."},
        }])]),
        _test("1m", [prometheus_up, (series("up", job=backend.JOB, instance="172.18.0.5:8000"), "1x10")], [alert("TargetDown", "5m", [])]),
    ]
    result = promtool_test(tmp_path, settings, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_target_down_watches_only_discovered_jobs_for_absence():
    by_ip = settings_from_mapping({"backendTargets": ["10.0.0.5:8000"]})
    (rule,) = [r for r in alert_rules(by_ip) if r.name == "TargetDown"]
    assert rule.expr == "up == 0"
