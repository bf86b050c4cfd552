"""Pure renderers that connect the stack to Alertmanager and to its own authenticated endpoints:
Prometheus' `alerting` section, the client auth of the scrape jobs of Prometheus and
Alertmanager, and Grafana's datasources (Prometheus and Alertmanager) with those credentials.
"""

from __future__ import annotations

from catalogue import alertmanager, grafana, prometheus

from .settings import Settings
from .webauth import PASSWORD_NAME, TLS_CA_NAME, WebSecurity, client_auth

__all__ = [
    "GRAFANA_SECRETS_DIR",
    "PROMETHEUS_CONFIG_DIR",
    "SERVER_NAMES",
    "grafana_datasource_auth",
    "prometheus_datasource",
    "prometheus_alerting",
    "render_alertmanager_datasource",
    "scrape_job_auth",
]

PROMETHEUS_CONFIG_DIR = "/etc/prometheus"
# Grafana's copies of the web password and CA (datasources read them with $__file{}).
GRAFANA_SECRETS_DIR = "/etc/grafana/monstack"
# The names the stack's own clients use, which a TLS certificate must cover.
SERVER_NAMES = {prometheus.JOB: prometheus.SERVICE.alias, alertmanager.JOB: alertmanager.SERVICE.alias}


def scrape_job_auth(job_name: str, web: WebSecurity) -> dict:
    """Extra keys of a scrape job that reaches an endpoint of the stack behind web auth."""
    # Its own endpoint is scraped on loopback: the certificate names the service, so name it.
    server_name = SERVER_NAMES.get(job_name)
    return client_auth(web, config_dir=PROMETHEUS_CONFIG_DIR, server_name=server_name) if server_name else {}


def prometheus_alerting(settings: Settings, web: WebSecurity) -> dict:
    """Prometheus' `alerting` section: the stack's Alertmanager (none when it is off)."""
    if not settings.alertmanager.enabled:
        return {}
    return {
        "alertmanagers": [
            {
                "api_version": "v2",
                "timeout": "10s",
                "static_configs": [{"targets": [alertmanager.TARGET]}],
                **client_auth(web, config_dir=PROMETHEUS_CONFIG_DIR, server_name=alertmanager.SERVICE.alias),
            }
        ]
    }


def grafana_datasource_auth(web: WebSecurity) -> tuple[dict, dict, dict]:
    """(top-level keys, jsonData, secureJsonData) of a Grafana datasource behind web auth.

    Grafana's provisioning reads `$__file{path}` values from files, so the password is in the
    uploaded secret file, never in the provisioning text."""
    top: dict = {}
    json_data: dict = {}
    secure: dict = {}
    if web.basic_auth:
        top = {"basicAuth": True, "basicAuthUser": web.username}
        secure["basicAuthPassword"] = f"$__file{{{GRAFANA_SECRETS_DIR}/{PASSWORD_NAME}}}"
    if web.tls:
        json_data["tlsAuthWithCACert"] = True
        secure["tlsCACert"] = f"$__file{{{GRAFANA_SECRETS_DIR}/{TLS_CA_NAME}}}"
    return top, json_data, secure


def _datasource(base: dict, web: WebSecurity, server_name: str) -> dict:
    top, json_data, secure = grafana_datasource_auth(web)
    if web.tls:
        json_data["serverName"] = server_name
    document = {**base, **top}
    document["jsonData"] = {**base.get("jsonData", {}), **json_data}
    if secure:
        document["secureJsonData"] = secure
    return document


def prometheus_datasource(settings: Settings, web: WebSecurity) -> dict:
    return _datasource(
        {
            "name": "Prometheus",
            "type": "prometheus",
            "uid": grafana.PROMETHEUS_DATASOURCE_UID,
            "access": "proxy",
            "url": f"{web.scheme}://{prometheus.SERVICE.alias}:{prometheus.PORT}",
            "isDefault": True,
            "editable": False,
            # Lets $__rate_interval cover at least four scrapes.
            "jsonData": {"timeInterval": settings.prometheus.scrape_interval, "httpMethod": "POST"},
        },
        web,
        prometheus.SERVICE.alias,
    )


def render_alertmanager_datasource(settings: Settings, web: WebSecurity) -> dict:
    """Grafana's Alertmanager datasource (alerts and silences of the stack's Alertmanager)."""
    return _datasource(
        {
            "name": "Alertmanager",
            "type": "alertmanager",
            "uid": alertmanager.DATASOURCE_UID,
            "access": "proxy",
            "url": f"{web.scheme}://{alertmanager.SERVICE.alias}:{alertmanager.PORT}",
            "isDefault": False,
            "editable": False,
            "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
        },
        web,
        alertmanager.SERVICE.alias,
    )

