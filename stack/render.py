"""Pure renderers: settings in, config documents out.  No Pulumi, no I/O.

`render_*` return plain dicts; `to_yaml` turns one into deterministic text, so a file's
content (and its hash label) changes only when the settings it depends on change.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import yaml

import catalogue
from catalogue import alertmanager, grafana

from .alerting_render import prometheus_alerting, prometheus_datasource, render_alertmanager_datasource, scrape_job_auth

from .prometheus_flags import prometheus_command as _prometheus_flags
from .remote_write import render_remote_write
from .settings import Settings, parse_duration_seconds
from .webauth import WebSecurity

__all__ = [
    "GRAFANA_DASHBOARD_PROVIDER_FILE",
    "GRAFANA_DATASOURCE_FILE",
    "PROMETHEUS_CONFIG_FILE",
    "PROMETHEUS_RULES_FILE",
    "PROMETHEUS_RULES_NAME",
    "PROMETHEUS_TSDB_PATH",
    "prometheus_command",
    "GRAFANA_IMAGE_ENTRYPOINT",
    "render_grafana_dashboard_provider",
    "render_grafana_start_script",
    "render_alert_rules",
    "render_grafana_datasources",
    "render_prometheus_config",
    "sha256",
    "to_yaml",
]

PROMETHEUS_CONFIG_FILE = "/etc/prometheus/prometheus.yml"
# Relative to the config file, as Prometheus and promtool resolve rule_files.
PROMETHEUS_RULES_NAME = "monstack.rules.yml"
PROMETHEUS_RULES_FILE = f"/etc/prometheus/{PROMETHEUS_RULES_NAME}"
# Where the TSDB volume is mounted in the Prometheus container.
PROMETHEUS_TSDB_PATH = "/prometheus"
GRAFANA_DATASOURCE_FILE = "/etc/grafana/provisioning/datasources/monstack.yaml"
GRAFANA_DASHBOARD_PROVIDER_FILE = "/etc/grafana/provisioning/dashboards/monstack.yaml"

# Prometheus' default scrape timeout; it must not exceed the scrape interval.
_DEFAULT_SCRAPE_TIMEOUT_SECONDS = 10


def render_prometheus_config(
    settings: Settings,
    services: Iterable[catalogue.Service] = catalogue.SERVICES,
    web: WebSecurity = WebSecurity(),
) -> dict:
    """prometheus.yml: global settings, the rule file, one scrape job per enabled service that has one."""
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
            {**_scrape_config(job, interval), **scrape_job_auth(job.job_name, web)}
            for job in catalogue.scrape_jobs(settings, services)
        ],
    }
    if not agent:
        # An agent evaluates no rules (Prometheus refuses rule_files in agent mode) and sends no alerts.
        document["global"]["evaluation_interval"] = interval
        document["rule_files"] = [PROMETHEUS_RULES_NAME]
        alerting = prometheus_alerting(settings, web)
        if alerting:
            document["alerting"] = alerting
    if settings.remote_write:
        document["remote_write"] = render_remote_write(settings.remote_write)
    return document


def _scrape_config(job: catalogue.ScrapeJob, refresh_interval: str) -> dict:
    """One job: its fixed targets, and one DNS lookup (A records, every refresh) per port of its discovered names."""
    config: dict = {"job_name": job.job_name}
    if job.targets:
        config["static_configs"] = [{"targets": list(job.targets)}]
    ports = sorted({port for _, port in job.discovered})
    if ports:
        config["dns_sd_configs"] = [
            {
                "names": [name for name, p in job.discovered if p == port],
                "type": "A",
                "port": port,
                # A replica started or stopped shows up by the next scrape.
                "refresh_interval": refresh_interval,
            }
            for port in ports
        ]
    return config


def render_alert_rules(settings: Settings, services: Iterable[catalogue.Service] = catalogue.SERVICES) -> dict:
    """The alert rules of the services these settings switch on."""
    return catalogue.render_alert_rules(settings, services)


def prometheus_command(settings: Settings) -> list[str]:
    """Prometheus' command-line flags (the container's command; the image's entrypoint is the binary):
    server or agent mode, spelled for the image's version (stack.prometheus_flags)."""
    prom = settings.prometheus
    return _prometheus_flags(
        image=prom.image,
        mode=prom.mode,
        config_file=PROMETHEUS_CONFIG_FILE,
        data_path=PROMETHEUS_TSDB_PATH,
        listen_address=f":{catalogue.prometheus.PORT}",
        retention_time=prom.retention_time,
        retention_size=prom.retention_size,
    )


def render_grafana_datasources(settings: Settings, web: WebSecurity = WebSecurity()) -> dict:
    """Prometheus (the dashboards' datasource) and, when it runs, Alertmanager (alerts, silences)."""
    datasources = [prometheus_datasource(settings, web)]
    if alertmanager.SERVICE.enabled(settings):
        datasources.append(render_alertmanager_datasource(settings, web))
    return {"apiVersion": 1, "datasources": datasources}


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
                "options": {"path": grafana.DASHBOARDS_DIR, "foldersFromFilesStructure": False},
            }
        ],
    }


# The Grafana image's own entrypoint (grafana/grafana packaging/docker/run.sh).
GRAFANA_IMAGE_ENTRYPOINT = "/run.sh"


def render_grafana_start_script(password_file: str) -> str:
    """Grafana's entrypoint: apply the admin password from its secret file, then start as the image does.

    Grafana sets GF_SECURITY_ADMIN_PASSWORD only when it creates its database, so on a kept
    volume (destroy + up, a changed secret) the password in the stack's output would not log in.
    At every start with an existing database this resets the admin password to the file's
    content (`grafana cli admin reset-admin-password --password-from-stdin`, Grafana's own
    command; the password never appears in a command line or the environment). The first start
    creates the admin with the same file (GF_SECURITY_ADMIN_PASSWORD__FILE).
    """
    return f"""#!/bin/sh
# monstack: apply the admin password at every start, then run Grafana's own entrypoint.
set -eu
if [ -s "${{GF_PATHS_DATA}}/grafana.db" ]; then
    if grafana cli --homepath "${{GF_PATHS_HOME}}" --config "${{GF_PATHS_CONFIG}}" \
        admin reset-admin-password --password-from-stdin <"{password_file}" >/dev/null 2>&1; then
        echo "monstack: admin password applied from {password_file}" >&2
    else
        echo "monstack: could not apply the admin password from {password_file} (admin user missing?)" >&2
    fi
fi
exec {GRAFANA_IMAGE_ENTRYPOINT} "$@"
"""


def to_yaml(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False)


def sha256(*texts: str) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()
