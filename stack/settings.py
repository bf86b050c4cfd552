"""The stack's settings: one typed, frozen model of everything `Pulumi.<stack>.yaml` may say.

Every field has the camelCase name the user writes under the `monstack:` namespace.
Validation happens here, so a wrong value fails at `pulumi preview`, before any
resource is registered.  Secrets (the Grafana admin password, the MongoDB URI) are
not fields: they never enter this plain model (see `stack.config`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

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
    "parse_duration_seconds",
]

# Config keys that hold secrets; read by `stack.config`, never by this model.
SECRET_KEYS = ("grafanaAdminPassword", "mongodbUri", CREDENTIALS_KEY)

# --- value checks -------------------------------------------------------------------------------

# Docker's reference grammar (distribution/reference), reduced to what a pinned image needs.
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9-]+:[0-9]+|(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+:[0-9]+)"
_IMAGE_RE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _pinned_image(value: str) -> str:
    match = _IMAGE_RE.match(value)
    if not match:
        raise ValueError(
            f"{value!r} is not a valid image reference (expected name:tag or name@sha256:<64 hex>)"
        )
    if not match["tag"] and not match["digest"]:
        raise ValueError(f"{value!r} is not pinned: add a version tag or a digest")
    if match["tag"] == "latest" and not match["digest"]:
        raise ValueError(f"{value!r} is not pinned: ':latest' moves; use a version tag")
    return value


_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as `15s`, `1h30m` or `15d`; ValueError otherwise."""
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if not value or not match:
        raise ValueError(f"{value!r} is not a Prometheus duration (examples: 15s, 1m, 15d, 1h30m)")
    return sum(int(n) * unit for n, unit in zip(match.groups(), _DURATION_UNITS) if n)


def _positive_duration(value: str) -> str:
    if parse_duration_seconds(value) <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return value


_SIZE_RE = re.compile(r"^[1-9][0-9]*(B|KB|MB|GB|TB|PB|EB)$")


def _byte_size(value: str) -> str:
    if not _SIZE_RE.match(value):
        raise ValueError(f"{value!r} is not a positive size with a unit (examples: 512MB, 10GB)")
    return value


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (example: 127.0.0.1)") from None


_DOCKER_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")


def _docker_name(value: str) -> str:
    if not _DOCKER_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid Docker name (letters, digits, '_', '.', '-'; at most 63)"
        )
    return value


_HOSTNAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
_TARGET_RE = re.compile(rf"^(?P<host>{_HOSTNAME}):(?P<port>[0-9]{{1,5}})$")


def _scrape_target(value: str) -> str:
    match = _TARGET_RE.match(value)
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise ValueError(f"{value!r} is not a scrape target of the form service:port (example: backend:8000)")
    return value


Image = Annotated[str, AfterValidator(_pinned_image)]
Duration = Annotated[str, AfterValidator(_positive_duration)]
ByteSize = Annotated[str, AfterValidator(_byte_size)]
IPAddress = Annotated[str, AfterValidator(_ip_address)]
DockerName = Annotated[str, AfterValidator(_docker_name)]
ScrapeTarget = Annotated[str, AfterValidator(_scrape_target)]
Port = Annotated[int, Field(ge=1, le=65535)]
MemoryMb = Annotated[int, Field(ge=32, le=1024 * 1024, description="memory limit in MiB")]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=False,
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=True,
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
    listen_address: IPAddress = "172.17.0.1"
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
        return self

    # Names of Docker objects, derived once here so that components and tests agree.
    @property
    def prometheus_volume(self) -> str:
        return self.prometheus.volume_name or f"{self.name}-prometheus-data"

    @property
    def grafana_volume(self) -> str:
        return self.grafana.volume_name or f"{self.name}-grafana-data"

    @property
    def monitoring_network(self) -> str:
        return f"{self.name}-monitoring"

    def container_name(self, service: str) -> str:
        return f"{self.name}-{service}"

    def published_url(self, port: int) -> str:
        """The URL of a port published on bindAddress."""
        host = f"[{self.bind_address}]" if ":" in self.bind_address else self.bind_address
        return f"http://{host}:{port}"
