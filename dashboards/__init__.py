"""monstack's Grafana dashboards, as code (grafanalib).

``render_dashboards()`` returns ``{filename: JSON text}`` for every dashboard;
the stack uploads those files into Grafana's provisioned dashboards folder.
Importing this package does nothing else: grafanalib and the dashboard
modules are imported only when rendering.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["DASHBOARD_MODULES", "dashboard_modules", "render_documents", "render_dashboards", "render_summaries"]

# One module per dashboard; each defines UID, TITLE, FILENAME, SOURCE and build().
DASHBOARD_MODULES = ("backend_api", "containers", "mongodb", "host")


def dashboard_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{name}") for name in DASHBOARD_MODULES]


def render_documents() -> dict[str, dict[str, Any]]:
    """filename -> the dashboard's JSON document (a dict), every adapter fix-up applied."""
    from .adapter import to_document

    return {module.FILENAME: to_document(module.build()) for module in dashboard_modules()}


def render_dashboards() -> dict[str, str]:
    """filename (e.g. "backend-api.json") -> deterministic JSON text (sorted keys, indent 2). Writes nothing."""
    from .adapter import dumps

    return {filename: dumps(doc) for filename, doc in render_documents().items()}


def render_summaries() -> dict[str, str]:
    """filename (e.g. "backend-api.md") -> a Markdown summary of panels, queries and units."""
    from .summary import render_summary

    return {
        filename.removesuffix(".json") + ".md": render_summary(doc, filename)
        for filename, doc in render_documents().items()
    }
