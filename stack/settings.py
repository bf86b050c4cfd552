"""The stack's settings: one typed, frozen model of everything `Pulumi.<stack>.yaml` may say.

Every field has the camelCase name the user writes under the `monstack:` namespace.
Validation happens here, so a wrong value fails at `pulumi preview`, before any
resource is registered.  Secrets (the Grafana admin password, the MongoDB URI) are
not fields: they never enter this plain model (see `stack.config`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, model_validator

from .prometheus_flags import agent_flag
from .swarm.settings import SwarmSettings
from .remote_write import CREDENTIALS_KEY, RemoteWriteEndpoint, validate_external_labels

__all__ = [
    "CadvisorSettings",
    "GrafanaSettings",
    "MongodbExporterSettings",
    "NodeExporterSettings",
    "PrometheusSettings",
    "Settings",
    "SECRET_KEYS",
    "parse_byte_size",
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
    parse_byte_size,
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
    CREDENTIALS_KEY,
)

# --- per service --------------------------------------------------------------------------------


class PrometheusSettings(_Model):
    image: Image = "prom/prometheus:v3.5.0"
    # `agent`: scrape and remote-write only (no queries, rules or alerts): a per-host agent.
    mode: Literal["server", "agent"] = "server"
    port: Port = 9090
    scrape_interval: Duration = "15s"
    # Unset: 10s (Prometheus' default) or the scrape interval when that is shorter.
    scrape_timeout: Optional[Duration] = None
    retention_time: Duration = "15d"
    retention_size: Optional[ByteSize] = "10GB"
    memory_mb: MemoryMb = 1024
    volume_name: Optional[DockerName] = None
    # Active series you expect; unset: estimated from the enabled services (stack/sizing.py).
    expected_series: Optional[Annotated[int, Field(ge=1, le=100_000_000)]] = None

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 2**20

    @property
    def retention_size_bytes(self) -> Optional[int]:
        """retentionSize in bytes, as Prometheus reads it (base 2: 1KB = 1024 B)."""
        return parse_byte_size(self.retention_size) if self.retention_size else None

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
    # Long-term storage / a central Prometheus (see stack.remote_write), and the labels that say
    # which environment and host a series comes from once it leaves this stack.
    remote_write: list[RemoteWriteEndpoint] = []
    # `docker`: one engine (containers); `swarm`: Swarm services on every node (stack.swarm).
    platform: Literal["docker", "swarm"] = "docker"
    swarm: SwarmSettings = SwarmSettings()
    external_labels: Annotated[dict[str, str], AfterValidator(validate_external_labels)] = {}

    @model_validator(mode="after")
    def _no_duplicates(self) -> "Settings":
        if len(set(self.backend_targets)) != len(self.backend_targets):
            raise ValueError("backendTargets lists a target twice")
        endpoint_names = [endpoint.name for endpoint in self.remote_write]
        if len(set(endpoint_names)) != len(endpoint_names):
            raise ValueError("remoteWrite names an endpoint twice (each needs its own name)")
        if self.remote_write or self.prometheus.mode == "agent":
            missing = [label for label in ("environment", "host") if label not in self.external_labels]
            if missing:
                raise ValueError(
                    f"externalLabels must set {' and '.join(missing)} when series leave the stack "
                    "(remoteWrite or prometheus.mode agent), so the store can tell the sources apart"
                )
        if self.prometheus.mode == "agent":
            if not self.remote_write:
                raise ValueError("prometheus.mode agent needs at least one remoteWrite endpoint")
            if self.grafana.enabled:
                raise ValueError("grafana.enabled must be false in agent mode (an agent answers no queries)")
            agent_flag(self.prometheus.image)  # the image's version decides the flag
        if self.platform == "swarm" and self.swarm.publish and self.bind_address != "0.0.0.0":
            raise ValueError(
                "swarm.publish: Swarm publishes a port on every address of the node; "
                "set bindAddress to 0.0.0.0 to say so, or leave swarm.publish false"
            )
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

    def published_url(self, port: int, scheme: str = "http") -> str:
        """The URL of a port published on bindAddress (`https` where web TLS is on)."""
        host = f"[{self.bind_address}]" if ":" in self.bind_address else self.bind_address
        return f"{scheme}://{host}:{port}"
