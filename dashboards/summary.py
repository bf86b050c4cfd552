"""A Markdown summary of one rendered dashboard: what a reviewer reads instead of a screenshot."""

from __future__ import annotations

from typing import Any

__all__ = ["render_summary"]


def _thresholds(panel: dict[str, Any]) -> str:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    parts = []
    for step in steps:
        parts.append(step["color"] if step["value"] is None else f"{step['color']} from {step['value']:g}")
    return ", ".join(parts) or "none"


def render_summary(doc: dict[str, Any], filename: str) -> str:
    """Markdown listing the variables, and per row every panel with its type, unit, thresholds and queries."""
    lines = [
        f"# {doc['title']}",
        "",
        doc.get("description") or "",
        "",
        f"- uid: `{doc['uid']}`; file: `{filename}`; schemaVersion {doc['schemaVersion']}",
        f"- tags: {', '.join(doc.get('tags', []))}",
        "",
        "## Variables",
        "",
    ]
    for variable in doc.get("templating", {}).get("list", []):
        default = variable.get("current", {}).get("value")
        extra = ""
        if variable.get("includeAll"):
            extra = f", All = `{variable['allValue']}`" if variable.get("allValue") is not None else ", All = every value listed"
        if variable.get("hide") == 2:
            extra += ", hidden"
        lines.append(f"- `${variable['name']}` ({variable.get('label')}): `{variable['query']}`; default `{default}`{extra}")
    lines.append("")
    for panel in doc["panels"]:
        if panel["type"] == "row":
            lines += [f"## {panel['title']}", ""]
            continue
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        lines.append(f"### {panel['title']}")
        lines.append("")
        lines.append(f"`{panel['type']}` · unit `{unit}` · thresholds: {_thresholds(panel)}")
        lines.append("")
        if panel.get("description"):
            lines += [panel["description"], ""]
        for target in panel.get("targets", []):
            legend = f" (legend `{target['legendFormat']}`)" if target.get("legendFormat") else ""
            lines += [f"{target['refId']}{legend}:", "", "```promql", target["expr"], "```", ""]
    return "\n".join(lines).rstrip() + "\n"
