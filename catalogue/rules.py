"""Alerting rules as typed values, and the rule file Prometheus loads.

Each service module of the catalogue builds its own rules from its own metric names and
thresholds; `render_rule_groups` turns the rules of the enabled services into one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["AlertRule", "RATE_WINDOW", "render_rule_groups"]

# Window of the rates the alerts use: long enough to hold several scrapes at any allowed interval.
RATE_WINDOW = "5m"


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


def render_rule_groups(rules: Iterable[AlertRule], *, group: str = "monstack") -> dict:
    """The rule file: one group holding these rules, in order."""
    return {"groups": [{"name": group, "rules": [rule.to_dict() for rule in rules]}]}
