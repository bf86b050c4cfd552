"""Metric contract against the recorded samples of the pinned cAdvisor and mongodb_exporter
(tests/fixtures; see tests/fixtures/README.md for how they were composed)."""

from __future__ import annotations

import pytest

import dashboards
from catalogue import cadvisor
from tests.dashboards.helpers import (
    CADVISOR_FIXTURE,
    MONGODB_EXPORTER_FIXTURE,
    RECORDING_RULES,
    contract_problems,
    dashboard_references,
    exposition_series,
    with_recorded_series,
)

FIXTURE_OF = {"cadvisor": CADVISOR_FIXTURE, "mongodb_exporter": MONGODB_EXPORTER_FIXTURE}


def _series(text: str) -> dict:
    return with_recorded_series(exposition_series(text), RECORDING_RULES)


@pytest.mark.parametrize("filename, source", [("containers.json", "cadvisor"), ("mongodb.json", "mongodb_exporter")])
def test_every_metric_and_label_exists_in_the_pinned_exporters_output(filename, source):
    doc = dashboards.render_documents()[filename]
    series = _series(FIXTURE_OF[source].read_text())
    checked, problems = 0, []
    for where, refs in dashboard_references(doc):
        checked += 1
        problems += [f"{where}: {p}" for p in contract_problems(refs, series)]
    assert checked > 10
    assert problems == []


def test_fixture_without_a_metric_breaks_the_contract():
    """The check can fail: drop the working-set family from the cAdvisor sample and the panel that
    reads its recorded series is caught."""
    text = CADVISOR_FIXTURE.read_text()
    kept = "\n".join(line for line in text.splitlines() if cadvisor.MEMORY_WORKING_SET_BYTES not in line) + "\n"
    doc = dashboards.render_documents()["containers.json"]
    problems = [p for _, refs in dashboard_references(doc) for p in contract_problems(refs, _series(kept))]
    assert f"metric '{cadvisor.RECORDED_WORKING_SET}' is not in the source's output" in problems


def test_old_mongodb_exporter_names_would_break_the_contract():
    """Debian's prometheus-mongodb-exporter (pre-0.20 names) is not what the dashboard reads."""
    old = "# TYPE mongodb_connections gauge\nmongodb_connections{state=\"current\"} 3\n"
    doc = dashboards.render_documents()["mongodb.json"]
    problems = [p for _, refs in dashboard_references(doc) for p in contract_problems(refs, exposition_series(old))]
    assert "metric 'mongodb_ss_connections' is not in the source's output" in problems
