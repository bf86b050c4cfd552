"""Alerting rules as typed values, and the rule file Prometheus loads.

Each service module of the catalogue builds its own rules from its own metric names and
thresholds; `render_rule_groups` turns the rules of the enabled services into one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

__all__ = [
    "AlertRule",
    "RATE_WINDOW",
    "RECORDING_GROUP",
    "RECORDING_INTERVAL",
    "RUNBOOK_BASE_URL",
    "RecordingRule",
    "render_rule_groups",
    "runbook_anchor",
]

# Window of the rates the alerts use: long enough to hold several scrapes at any allowed interval.
RATE_WINDOW = "5m"
# The group of recording rules, evaluated beside the alerts, once a minute: dashboards over a day
# ask for one point a minute (Grafana's step for 24 h on a 1,920 px panel), and a 5-minute rate
# changes little within a minute; four times fewer samples than at a 15 s interval to read.
RECORDING_GROUP = "monstack-recording"
RECORDING_INTERVAL = "1m"
# Where docs/runbooks.md is published; each rule links the section named after it
# (the stack setting alertRules.runbookBaseUrl points elsewhere, for example a wiki).
RUNBOOK_BASE_URL = "https://github.com/monstack/monstack/blob/main/docs/runbooks.md"


def runbook_anchor(alert: str) -> str:
    """The anchor of the alert's section in docs/runbooks.md (`## TargetDown` -> `targetdown`)."""
    return alert.lower()


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    description: str
    labels: dict = field(default_factory=dict)

    def to_dict(self, *, runbook_base_url: str = RUNBOOK_BASE_URL) -> dict:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity, **self.labels},
            "annotations": {
                "summary": self.summary,
                # `$for` in a description is the rule's `for` duration (overrides included).
                "description": self.description.replace("$for", self.duration),
                "runbook_url": f"{runbook_base_url}#{runbook_anchor(self.name)}",
            },
        }


@dataclass(frozen=True)
class RecordingRule:
    """A precomputed series, named `level:metric:operations` as the Prometheus docs advise
    (level: the labels it keeps; metric: the source metric, `_total` dropped after a rate;
    operations: what was applied, newest first).  `source`, `by` and `labels` say which series
    it reads, which of their labels it keeps and which it adds (tests and the capacity benchmark
    derive the recorded label sets from them)."""

    record: str
    expr: str
    source: str | None = None
    by: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.record.count(":") != 2:
            raise ValueError(f"recording rule {self.record!r} is not named level:metric:operations")

    @classmethod
    def summed(cls, function: str, metric: str, by: tuple[str, ...], window: str) -> "RecordingRule":
        """`sum by (by) (function(metric[window]))`, recorded as
        `<by joined by _>:<metric without _total>:<function><window>`."""
        record = f"{'_'.join(by)}:{metric.removesuffix('_total')}:{function}{window}"
        return cls(record, f"sum by ({', '.join(by)}) ({function}({metric}[{window}]))", source=metric, by=by)

    @classmethod
    def summed_gauge(cls, metric: str, by: tuple[str, ...]) -> "RecordingRule":
        """`sum by (by) (metric)` of a gauge, recorded as `<by joined by _>:<metric>:sum`."""
        return cls(f"{'_'.join(by)}:{metric}:sum", f"sum by ({', '.join(by)}) ({metric})", source=metric, by=by)

    @classmethod
    def summed_rate(cls, metric: str, by: tuple[str, ...], window: str = RATE_WINDOW) -> "RecordingRule":
        """`sum by (by) (rate(metric[window]))`, recorded as `<by joined by _>:<metric without _total>:rate<window>`."""
        return cls.summed("rate", metric, by, window)

    @classmethod
    def summed_increase(cls, metric: str, by: tuple[str, ...], window: str) -> "RecordingRule":
        """`sum by (by) (increase(metric[window]))`, recorded as `<by>:<metric without _total>:increase<window>`."""
        return cls.summed("increase", metric, by, window)

    @classmethod
    def quantile(cls, buckets: "RecordingRule", metric: str, q: float) -> "RecordingRule":
        """`histogram_quantile(q, buckets)` of a recorded `..._bucket` rate, labelled quantile="q"."""
        by = tuple(label for label in buckets.by if label != "le")
        operations = f"histogram_quantile_{buckets.record.rsplit(':', 1)[1]}"
        return cls(f"{'_'.join((*by, 'quantile'))}:{metric}:{operations}",
                   f"histogram_quantile({q:g}, {buckets.record})", source=buckets.record, by=by,
                   labels=(("quantile", f"{q:g}"),))

    def to_dict(self) -> dict:
        out = {"record": self.record, "expr": self.expr}
        if self.labels:
            out["labels"] = dict(self.labels)
        return out


def render_rule_groups(
    rules: Iterable[AlertRule],
    *,
    recording: Iterable[RecordingRule] = (),
    group: str = "monstack",
    runbook_base_url: str = RUNBOOK_BASE_URL,
) -> dict:
    """The rule file: the recording rules' group (when there are any), then one group holding the alerts, in order."""
    groups = []
    recorded = [rule.to_dict() for rule in recording]
    if recorded:
        groups.append({"name": RECORDING_GROUP, "interval": RECORDING_INTERVAL, "rules": recorded})
    groups.append({"name": group, "rules": [rule.to_dict(runbook_base_url=runbook_base_url) for rule in rules]})
    return {"groups": groups}
