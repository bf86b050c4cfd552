"""Alerts that read recorded series read ones the stack records, with the labels those keep.

The dashboards' side of this contract is tests/dashboards/test_recorded_series.py. The backend's
alerts read recorded series only, so their cost does not grow with the number of replicas.
"""

from __future__ import annotations

import re

import pytest

import catalogue
from catalogue import backend
from stack.config import settings_from_mapping
from tests.support.promql_refs import References, parse_references

SETTINGS = settings_from_mapping({})
ALERTS = catalogue.alert_rules(SETTINGS)


def _recorded_names(refs: References) -> set[str]:
    # Recording rules are named level:metric:operations; no exporter's metric has a colon.
    return {metric for metric in refs.metrics if ":" in metric}


def label_problems(refs: References, rules: list[catalogue.RecordingRule]) -> list[str]:
    """What `refs` asks of recorded series that no recording rule gives: an unknown name, a label the
    rule does not keep (matched or grouped by), or a fixed label value no rule of that name adds."""
    by_name: dict[str, list[catalogue.RecordingRule]] = {}
    for rule in rules:
        by_name.setdefault(rule.record, []).append(rule)
    problems = []
    for selector in refs.selectors:
        if selector.metric is None or ":" not in selector.metric:
            continue
        recorded = by_name.get(selector.metric)
        if not recorded:
            problems.append(f"{selector.metric} is recorded by no rule")
            continue
        for matcher in selector.matchers:
            fixed = [dict(r.labels)[matcher.label] for r in recorded if matcher.label in dict(r.labels)]
            if fixed:
                if matcher.op in ("=", "=~") and not any(re.fullmatch(matcher.value, v) for v in fixed):
                    problems.append(f"no rule records {selector.metric}{{{matcher.label}{matcher.op}{matcher.value!r}}}")
            elif not any(matcher.label in r.by for r in recorded):
                problems.append(f"{selector.metric} does not keep the label {matcher.label!r}")
    for grouping in refs.groupings:
        for metric in sorted(m for m in grouping.metrics if ":" in m):
            kept = {label for r in by_name.get(metric, []) for label in (*r.by, *dict(r.labels))}
            missing = [label for label in grouping.labels if label not in kept]
            if missing:
                problems.append(f"{grouping.clause} {missing} is not kept by {metric}")
    return problems


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_every_recorded_series_an_alert_reads_is_recorded_with_the_labels_it_uses(alert):
    problems = label_problems(parse_references(alert.expr), catalogue.recording_rules(SETTINGS))
    assert not problems, f"{alert.name}: {problems}"


@pytest.mark.parametrize("alert", backend.alert_rules(), ids=lambda a: a.name)
def test_the_backends_alerts_read_only_recorded_series(alert):
    refs = parse_references(alert.expr)
    assert refs.metrics and refs.metrics == _recorded_names(refs), f"{alert.name} reads raw series: {alert.expr}"


def test_an_alert_on_a_misspelt_name_or_a_dropped_label_is_caught():
    rules = catalogue.recording_rules(SETTINGS)
    misspelt = parse_references('sum(job_route_status:http_request:rate5m{job="backend"}) > 0')
    assert label_problems(misspelt, rules) == ["job_route_status:http_request:rate5m is recorded by no rule"]
    # the recorded request rates keep route and status, not method or instance
    dropped = parse_references(f'sum by (instance) ({backend.RECORDED_REQUESTS}{{method="GET"}}) > 0')
    assert label_problems(dropped, rules) == [
        f"{backend.RECORDED_REQUESTS} does not keep the label 'method'",
        f"by ['instance'] is not kept by {backend.RECORDED_REQUESTS}",
    ]
    unrecorded = parse_references(f'{backend.RECORDED_ROUTE_QUANTILES}{{quantile="0.999"}} > 1')
    assert label_problems(unrecorded, rules) == [
        f"no rule records {backend.RECORDED_ROUTE_QUANTILES}{{quantile='0.999'}}"]
