"""Alerting rules as typed values, and the rule file Prometheus loads.

Each service module of the catalogue builds its own rules from its own metric names and
thresholds; `render_rule_groups` turns the rules of the enabled services into one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["AlertRule", "RATE_WINDOW", "RECORDING_GROUP", "RECORDING_INTERVAL", "RecordingRule", "render_rule_groups"]

# Window of the rates the alerts use: long enough to hold several scrapes at any allowed interval.
RATE_WINDOW = "5m"
# The group of recording rules, evaluated beside the alerts, once a minute: dashboards over a day
# ask for one point a minute (Grafana's step for 24 h on a 1,920 px panel), and a 5-minute rate
# changes little within a minute; four times fewer samples than at a 15 s interval to read.
RECORDING_GROUP = "monstack-recording"
RECORDING_INTERVAL = "1m"


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    description: str
    labels: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity, **self.labels},
            "annotations": {"summary": self.summary, "description": self.description},
        }


@dataclass(frozen=True)
class RecordingRule:
    """A precomputed series, named `level:metric:operations` as the Prometheus docs advise
    (level: the labels it keeps; metric: the source metric, `_total` dropped after a rate;
    operations: what was applied, newest last).  `source` and `by` say what a rule built by
    `summed_rate` reads and keeps (the capacity benchmark backfills recorded history from them)."""

    record: str
    expr: str
    source: str | None = None
    by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.record.count(":") != 2:
            raise ValueError(f"recording rule {self.record!r} is not named level:metric:operations")

    @classmethod
    def summed_rate(cls, metric: str, by: tuple[str, ...], window: str = RATE_WINDOW) -> "RecordingRule":
        """`sum by (by) (rate(metric[window]))`, recorded as `<by joined by _>:<metric without _total>:rate<window>`."""
        record = f"{'_'.join(by)}:{metric.removesuffix('_total')}:rate{window}"
        return cls(record, f"sum by ({', '.join(by)}) (rate({metric}[{window}]))", source=metric, by=by)

    def to_dict(self) -> dict:
        return {"record": self.record, "expr": self.expr}


def render_rule_groups(
    rules: Iterable[AlertRule], *, recording: Iterable[RecordingRule] = (), group: str = "monstack"
) -> dict:
    """The rule file: the recording rules' group (when there are any), then one group holding the alerts, in order."""
    groups = []
    recorded = [rule.to_dict() for rule in recording]
    if recorded:
        groups.append({"name": RECORDING_GROUP, "interval": RECORDING_INTERVAL, "rules": recorded})
    groups.append({"name": group, "rules": [rule.to_dict() for rule in rules]})
    return {"groups": groups}
