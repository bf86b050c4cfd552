"""A threshold is written once: moving it in the catalogue moves the alert and the dashboard's colours together."""

from __future__ import annotations

import dataclasses

import pytest

import catalogue
import dashboards
from catalogue import Threshold, backend, node_exporter
from dashboards.adapter import iter_panels


def red_step(filename: str, title: str) -> float:
    doc = dashboards.render_documents()[filename]
    panel = next(p for p in iter_panels(doc["panels"]) if p["title"] == title)
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return next(s["value"] for s in steps if s["color"] == "red")


def rule(name: str) -> catalogue.AlertRule:
    rules = [r for s in catalogue.SERVICES for r in s.alert_rules()]
    return next(r for r in rules if r.name == name)


# (service module, threshold field, alert, its comparison, dashboard file, panel, panel value from threshold)
PAIRS = [
    (backend, "error_ratio", "BackendHighErrorRatio", "> {:g}", "backend-api.json", "5xx error ratio", lambda t: t),
    (backend, "p99_latency_seconds", "BackendSlowRoute", "> {:g}", "backend-api.json", "p99 latency", lambda t: t),
    (backend, "login_failure_ratio", "LoginFailureSpike", "> {:g} and", "backend-api.json", "Login failure ratio",
     lambda t: t),
    (node_exporter, "usage", "HostDiskAlmostFull", "< {:.2f}", "host.json", "Fullest filesystem", lambda t: t),
]


@pytest.mark.parametrize("module, field, alert, comparison, filename, panel, shown", PAIRS, ids=[p[2] for p in PAIRS])
def test_alert_and_dashboard_follow_the_same_threshold(monkeypatch, module, field, alert, comparison, filename, panel, shown):
    moved = Threshold(warning=0.3, critical=0.7)
    monkeypatch.setattr(module, "THRESHOLDS", dataclasses.replace(module.THRESHOLDS, **{field: moved}))
    fires_at = moved.critical if comparison.startswith(">") else round(1 - moved.critical, 10)
    assert comparison.format(fires_at) in rule(alert).expr
    assert red_step(filename, panel) == shown(moved.critical)
