"""Every grafanalib 0.7.1 fix-up in one place, so that a move to grafana-foundation-sdk swaps this module.

grafanalib builds the panel objects; this module turns a ``Dashboard`` into the
JSON Grafana 12 provisions, correcting what grafanalib gets wrong or leaves out:

* uid: required, at most 40 characters (Grafana rejects longer ones);
* datasource: by uid, ``{"type": "prometheus", "uid": PROMETHEUS_DATASOURCE_UID}``,
  on every panel, every target and every query variable (grafanalib writes a name or null);
* refId: grafanalib sets it only for the old ``Graph`` panel; here every target gets A, B, C...;
* thresholds: grafanalib's ``Stat`` writes ``"steps": ""`` when none are given and its
  ``Threshold`` writes the base step's value as the string ``"null"``; here every panel
  gets a proper ``steps`` list whose first value is JSON null;
* schemaVersion: grafanalib writes 12 (Grafana would migrate it on every load); the
  panels built here are already in the current shape, so the document says so;
* no Angular panels: only current panel types are accepted.
"""

from __future__ import annotations

import json
import string
from typing import Any

from catalogue.grafana import PROMETHEUS_DATASOURCE_UID

__all__ = [
    "DATASOURCE",
    "SCHEMA_VERSION",
    "MAX_UID_LENGTH",
    "ALLOWED_PANEL_TYPES",
    "DEPRECATED_PANEL_TYPES",
    "DashboardAdapterError",
    "datasource",
    "threshold_steps",
    "to_document",
    "dumps",
    "iter_panels",
]

SCHEMA_VERSION = 39
MAX_UID_LENGTH = 40
ALLOWED_PANEL_TYPES = frozenset({"row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "piechart"})
DEPRECATED_PANEL_TYPES = frozenset({"graph", "singlestat", "table-old", "grafana-piechart-panel"})


class DashboardAdapterError(ValueError):
    """A dashboard that Grafana would reject or render wrong."""


def datasource() -> dict[str, str]:
    """The provisioned Prometheus datasource, by uid."""
    return {"type": "prometheus", "uid": PROMETHEUS_DATASOURCE_UID}


DATASOURCE = datasource()


def threshold_steps(*steps: tuple[str, float | None]) -> list[dict[str, Any]]:
    """Grafana threshold steps from ``(color, value)`` pairs; the first (base) step has no value."""
    if not steps:
        raise DashboardAdapterError("thresholds need at least a base colour")
    out = [{"color": steps[0][0], "value": None}]
    previous = None
    for color, value in steps[1:]:
        if value is None or (previous is not None and value <= previous):
            raise DashboardAdapterError(f"threshold values must increase: {steps!r}")
        out.append({"color": color, "value": value})
        previous = value
    return out


def iter_panels(panels: list[dict[str, Any]]):
    """Every panel, rows' nested panels included."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels") or [])


def _ref_ids():
    letters = string.ascii_uppercase
    for a in letters:
        yield a
    for a in letters:
        for b in letters:
            yield a + b


def _fix_thresholds(panel: dict[str, Any]) -> None:
    defaults = panel.setdefault("fieldConfig", {}).setdefault("defaults", {})
    thresholds = defaults.get("thresholds") or {}
    steps = thresholds.get("steps")
    if not steps:  # grafanalib: "" (Stat) or [] (others)
        steps = threshold_steps(("green", None))
    else:
        fixed = []
        for step in steps:
            value = step.get("value")
            fixed.append({"color": step["color"], "value": None if value in (None, "null") else float(value)})
        fixed[0]["value"] = None
        steps = fixed
    defaults["thresholds"] = {"mode": thresholds.get("mode") or "absolute", "steps": steps}


def _fix_panel(panel: dict[str, Any], title: str) -> None:
    kind = panel.get("type")
    if kind in DEPRECATED_PANEL_TYPES or kind not in ALLOWED_PANEL_TYPES:
        raise DashboardAdapterError(f"{title}: panel {panel.get('title')!r} has type {kind!r}, not a current panel type")
    if kind == "row":
        panel["datasource"] = None
        for key in ("targets", "fieldConfig", "maxDataPoints", "span", "height", "minSpan", "error"):
            panel.pop(key, None)
        return
    panel["datasource"] = datasource()
    refs = _ref_ids()
    for target in panel.get("targets", []):
        target["refId"] = next(refs)
        target["datasource"] = datasource()
        # grafanalib copies expr into "query" and adds Graphite fields; Prometheus reads expr.
        for key in ("query", "target", "metric", "step", "intervalFactor"):
            target.pop(key, None)
        target.setdefault("range", not target.get("instant", False))
    _fix_thresholds(panel)
    # grafanalib-only layout fields Grafana 12 ignores at best.
    # maxDataPoints=100 (grafanalib's default) makes rate graphs coarse: let Grafana use the panel width.
    for key in ("span", "height", "minSpan", "error", "maxDataPoints"):
        panel.pop(key, None)


def to_document(dashboard: Any) -> dict[str, Any]:
    """The provisionable JSON document of a grafanalib ``Dashboard``, with every fix-up applied."""
    from grafanalib._gen import DashboardEncoder  # grafanalib's own serialiser

    if dashboard.rows:
        raise DashboardAdapterError(f"{dashboard.title}: use panels=[RowPanel, ...]; rows= silently drops panels")
    uid = dashboard.uid
    if not uid or len(uid) > MAX_UID_LENGTH:
        raise DashboardAdapterError(f"{dashboard.title}: uid {uid!r} must be 1..{MAX_UID_LENGTH} characters")
    doc = json.loads(json.dumps(dashboard.auto_panel_ids().to_json_data(), cls=DashboardEncoder))
    doc["schemaVersion"] = SCHEMA_VERSION
    doc.pop("rows", None)
    doc.pop("sharedCrosshair", None)  # obsoleted by graphTooltip
    for panel in iter_panels(doc["panels"]):
        _fix_panel(panel, dashboard.title)
    for variable in doc.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            variable["datasource"] = datasource()
        current = variable.get("current") or {}
        if current.get("value") == "$__all":  # grafanalib copies the value into the text
            variable["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]} if variable.get(
                "multi") else {"selected": True, "text": "All", "value": "$__all"}
            # Grafana 12 reads a query variable's query as an object for Prometheus; a string still works
            # and keeps the JSON readable.
    return doc


def dumps(doc: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
