"""Alerting rules as typed values, and the rule file Prometheus loads.

Each service module of the catalogue builds its own rules from its own metric names and
thresholds; `render_rule_groups` turns the rules of the enabled services into one document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["AlertRule", "RATE_WINDOW", "RUNBOOK_BASE_URL", "render_rule_groups", "runbook_anchor"]

# Window of the rates the alerts use: long enough to hold several scrapes at any allowed interval.
RATE_WINDOW = "5m"
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


def render_rule_groups(
    rules: Iterable[AlertRule], *, group: str = "monstack", runbook_base_url: str = RUNBOOK_BASE_URL
) -> dict:
    """The rule file: one group holding these rules, in order."""
    return {"groups": [{"name": group, "rules": [rule.to_dict(runbook_base_url=runbook_base_url) for rule in rules]}]}
