"""Grafana: its port and alias, the uid of the datasource the dashboards use, where dashboards live."""

from __future__ import annotations

from .service import Service

__all__ = ["DASHBOARDS_DIR", "NAME", "PORT", "PROMETHEUS_DATASOURCE_UID", "SERVICE"]

NAME = "grafana"
PORT = 3000  # the image's default listen port inside the container
# The uid of the provisioned Prometheus datasource; dashboards refer to it by uid.
PROMETHEUS_DATASOURCE_UID = "monstack-prometheus"
# Where Grafana's file provider reads dashboards inside the container.
DASHBOARDS_DIR = "/etc/grafana/dashboards"

# Grafana is not scraped: its own metrics need authentication and nothing reads them yet.
SERVICE = Service(NAME, settings_key="grafana", port=PORT)
