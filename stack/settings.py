"""The stack's settings: one typed, frozen model of everything `Pulumi.<stack>.yaml` may say.

Every field has the camelCase name the user writes under the `monstack:` namespace.
Validation happens here, so a wrong value fails at `pulumi preview`, before any
resource is registered.  Secrets (the Grafana admin password, the MongoDB URI) are
not fields: they never enter this plain model (see `stack.config`).
"""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, model_validator

__all__ = [
    "CadvisorSettings",
    "GrafanaSettings",
    "MongodbExporterSettings",
    "NodeExporterSettings",
    "PrometheusSettings",
    "Settings",
    "SECRET_KEYS",
    "parse_duration_seconds",
]

from .alerting_settings import AlertmanagerSettings, AlertRulesSettings, WebAuthSettings
from .settings_types import (  # noqa: F401 - re-exported: the value types of every settings model
    ByteSize,
    DockerName,
    Duration,
    IPAddress,
    IPv4Address,
    Image,
    MemoryMb,
    Port,
    ScrapeTarget,
    _Model,
    _pinned_image,
    parse_duration_seconds,
)

# Config keys that hold secrets; read by `stack.config`, never by this model.
SECRET_KEYS = (
    "grafanaAdminPassword",
    "mongodbUri",
    "alertmanagerSecrets",
    "webPassword",
    "webTlsCert",
    "webTlsKey",
    "webTlsCa",
)

# --- per service --------------------------------------------------------------------------------


class PrometheusSettings(_Model):
    image: Image = "prom/prometheus:v3.5.0"
    port: Port = 9090
    scrape_interval: Duration = "15s"
    # Unset: 10s (Prometheus' default) or the scrape interval when that is shorter.
    scrape_timeout: Optional[Duration] = None
    retention_time: Duration = "15d"
    retention_size: Optional[ByteSize] = "10GB"
    memory_mb: MemoryMb = 1024
    volume_name: Optional[DockerName] = None

    @model_validator(mode="after")
    def _scrape_interval_is_sane(self) -> "PrometheusSettings":
        if parse_duration_seconds(self.scrape_interval) < 1:
            raise ValueError("scrapeInterval must be at least 1s")
        if self.scrape_timeout and parse_duration_seconds(self.scrape_timeout) > parse_duration_seconds(
            self.scrape_interval
        ):
            raise ValueError("scrapeTimeout must not be longer than scrapeInterval")
        if parse_duration_seconds(self.retention_time) < 2 * 3600:
            raise ValueError("retentionTime must be at least 2h (one TSDB block)")
        return self


class GrafanaSettings(_Model):
    enabled: bool = True
    image: Image = "grafana/grafana:12.1.1"
    port: Port = 3000
    admin_user: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")] = "admin"
    memory_mb: MemoryMb = 512
    volume_name: Optional[DockerName] = None


class MongodbExporterSettings(_Model):
    enabled: bool = True
    image: Image = "percona/mongodb_exporter:0.47.1"
    memory_mb: MemoryMb = 128


class NodeExporterSettings(_Model):
    enabled: bool = True
    image: Image = "prom/node-exporter:v1.9.1"
    # node exporter shares the host's network namespace; it listens on the Docker bridge
    # gateway (docker0), which the host and its containers reach but the LAN does not.
    listen_address: IPv4Address = "172.17.0.1"
    port: Port = 9100
    memory_mb: MemoryMb = 128


class CadvisorSettings(_Model):
    enabled: bool = True
    image: Image = "ghcr.io/google/cadvisor:v0.60.5"
    memory_mb: MemoryMb = 256


class Settings(_Model):
    """Everything under the `monstack:` config namespace except the secrets."""

    name: DockerName = Field(default="monstack", description="prefix of every Docker object's name")
    bind_address: IPAddress = "127.0.0.1"
    app_network: Optional[DockerName] = None
    backend_targets: Annotated[list[ScrapeTarget], Field(min_length=1)] = ["backend:8000"]
    protect_data: bool = False
    prometheus: PrometheusSettings = PrometheusSettings()
    grafana: GrafanaSettings = GrafanaSettings()
    mongodb_exporter: MongodbExporterSettings = MongodbExporterSettings()
    node_exporter: NodeExporterSettings = NodeExporterSettings()
    cadvisor: CadvisorSettings = CadvisorSettings()
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    alert_rules: AlertRulesSettings = AlertRulesSettings()
    web_auth: WebAuthSettings = WebAuthSettings()

    @model_validator(mode="after")
    def _no_duplicates(self) -> "Settings":
        if len(set(self.backend_targets)) != len(self.backend_targets):
            raise ValueError("backendTargets lists a target twice")
        if self.grafana.enabled and self.grafana.port == self.prometheus.port:
            raise ValueError("prometheus.port and grafana.port must differ (both publish on bindAddress)")
        if self.alertmanager.enabled and self.alertmanager.port in (
            self.prometheus.port,
            self.grafana.port if self.grafana.enabled else None,
        ):
            raise ValueError(
                "alertmanager.port: must differ from prometheus.port and grafana.port (all publish on bindAddress)"
            )
        return self

    # Names of Docker objects, derived once here so that components and tests agree.
    @property
    def prometheus_volume(self) -> str:
        return self.prometheus.volume_name or f"{self.name}-prometheus-data"

    @property
    def grafana_volume(self) -> str:
        return self.grafana.volume_name or f"{self.name}-grafana-data"

    @property
    def alertmanager_volume(self) -> str:
        return self.alertmanager.volume_name or f"{self.name}-alertmanager-data"

    @property
    def monitoring_network(self) -> str:
        return f"{self.name}-monitoring"

    def container_name(self, service: str) -> str:
        return f"{self.name}-{service}"

    def published_url(self, port: int) -> str:
        """The URL of a port published on bindAddress."""
        host = f"[{self.bind_address}]" if ":" in self.bind_address else self.bind_address
        return f"http://{host}:{port}"
