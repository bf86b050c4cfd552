"""monstack's Grafana dashboards, as code (grafanalib).

``render_dashboards(services)`` returns ``{filename: JSON text}`` for the dashboard of every
service that has one (``Service.dashboard`` in the catalogue names its module here); the stack
uploads those files into Grafana's provisioned dashboards folder. Importing this package does
nothing else: grafanalib and the dashboard modules are imported only when rendering.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Iterable

import catalogue

__all__ = ["dashboard_modules", "dashboard_sources", "render_documents", "render_dashboards", "render_summaries"]


def _with_dashboards(services: Iterable[catalogue.Service]) -> list[catalogue.Service]:
    return [service for service in services if service.dashboard]


def dashboard_modules(services: Iterable[catalogue.Service] = catalogue.SERVICES) -> list[ModuleType]:
    """The dashboard modules of these services; each defines UID, TITLE, FILENAME and build()."""
    return [importlib.import_module(f"{__name__}.{service.dashboard}") for service in _with_dashboards(services)]


def dashboard_sources(services: Iterable[catalogue.Service] = catalogue.SERVICES) -> dict[str, str]:
    """filename -> the name of the service whose metrics the dashboard shows."""
    return {
        importlib.import_module(f"{__name__}.{service.dashboard}").FILENAME: service.name
        for service in _with_dashboards(services)
    }


def render_documents(services: Iterable[catalogue.Service] = catalogue.SERVICES) -> dict[str, dict[str, Any]]:
    """filename -> the dashboard's JSON document (a dict), every adapter fix-up applied."""
    from .adapter import to_document

    return {module.FILENAME: to_document(module.build()) for module in dashboard_modules(services)}


def render_dashboards(services: Iterable[catalogue.Service] = catalogue.SERVICES) -> dict[str, str]:
    """filename (e.g. "backend-api.json") -> deterministic JSON text (sorted keys, indent 2). Writes nothing."""
    from .adapter import dumps

    return {filename: dumps(doc) for filename, doc in render_documents(services).items()}


def render_summaries(services: Iterable[catalogue.Service] = catalogue.SERVICES) -> dict[str, str]:
    """filename (e.g. "backend-api.md") -> a Markdown summary of panels, queries and units."""
    from .summary import render_summary

    return {
        filename.removesuffix(".json") + ".md": render_summary(doc, filename)
        for filename, doc in render_documents(services).items()
    }
