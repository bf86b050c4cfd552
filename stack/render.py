"""Pure renderers: settings in, config documents out.  No Pulumi, no I/O.

`render_*` return plain dicts; `to_yaml` turns one into deterministic text, so a file's
content (and its hash label) changes only when the settings it depends on change.
"""

from __future__ import annotations

import hashlib

import yaml

from . import names
from .remote_write import render_remote_write
from .scrape import PROMETHEUS_ALIAS, PROMETHEUS_PORT, scrape_jobs
from .settings import Settings, parse_duration_seconds

__all__ = [
    "GRAFANA_DASHBOARD_PROVIDER_FILE",
    "GRAFANA_DATASOURCE_FILE",
    "PROMETHEUS_CONFIG_FILE",
    "PROMETHEUS_RULES_FILE",
    "PROMETHEUS_RULES_NAME",
    "render_grafana_dashboard_provider",
    "render_grafana_datasources",
    "render_prometheus_config",
    "sha256",
    "to_yaml",
]

PROMETHEUS_CONFIG_FILE = "/etc/prometheus/prometheus.yml"
# Relative to the config file, as Prometheus and promtool resolve rule_files.
PROMETHEUS_RULES_NAME = "monstack.rules.yml"
PROMETHEUS_RULES_FILE = f"/etc/prometheus/{PROMETHEUS_RULES_NAME}"
GRAFANA_DATASOURCE_FILE = "/etc/grafana/provisioning/datasources/monstack.yaml"
GRAFANA_DASHBOARD_PROVIDER_FILE = "/etc/grafana/provisioning/dashboards/monstack.yaml"

# Prometheus' default scrape timeout; it must not exceed the scrape interval.
_DEFAULT_SCRAPE_TIMEOUT_SECONDS = 10


def render_prometheus_config(settings: Settings) -> dict:
    interval = settings.prometheus.scrape_interval
    timeout = settings.prometheus.scrape_timeout or (
        interval
        if parse_duration_seconds(interval) < _DEFAULT_SCRAPE_TIMEOUT_SECONDS
        else f"{_DEFAULT_SCRAPE_TIMEOUT_SECONDS}s"
    )
    agent = settings.prometheus.mode == "agent"
    document: dict = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": timeout,
            "external_labels": {"monstack": settings.name, **settings.external_labels},
        },
        "scrape_configs": [
            {"job_name": job.job_name, "static_configs": [{"targets": list(job.targets)}]}
            for job in scrape_jobs(settings)
        ],
    }
    if not agent:
        # An agent evaluates no rules (Prometheus refuses rule_files in agent mode).
        document["global"]["evaluation_interval"] = interval
        document["rule_files"] = [PROMETHEUS_RULES_NAME]
    if settings.remote_write:
        document["remote_write"] = render_remote_write(settings.remote_write)
    return document


def render_grafana_datasources(settings: Settings) -> dict:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": names.PROMETHEUS_DATASOURCE_UID,
                "access": "proxy",
                "url": f"http://{PROMETHEUS_ALIAS}:{PROMETHEUS_PORT}",
                "isDefault": True,
                "editable": False,
                # Lets $__rate_interval cover at least four scrapes.
                "jsonData": {"timeInterval": settings.prometheus.scrape_interval, "httpMethod": "POST"},
            }
        ],
    }


def render_grafana_dashboard_provider(settings: Settings) -> dict:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "monstack",
                "orgId": 1,
                "folder": "monstack",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": names.GRAFANA_DASHBOARDS_DIR, "foldersFromFilesStructure": False},
            }
        ],
    }


def to_yaml(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False)


def sha256(*texts: str) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()
