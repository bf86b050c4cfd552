"""The Prometheus component: rendered config, TSDB on a kept volume, published on bindAddress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker
from catalogue import prometheus as service

from .alerting_render import PROMETHEUS_CONFIG_DIR
from .config import Secrets
from .containers import healthcheck, service_container
from .remote_write import credential_file
from .render import PROMETHEUS_CONFIG_FILE, PROMETHEUS_RULES_FILE, PROMETHEUS_TSDB_PATH, prometheus_command, sha256
from .settings import Settings
from .volumes import kept_volume
from .web_files import File, as_uploads, client_files, server_files, web_config_flag, web_salt_key
from .webauth import healthcheck_command

__all__ = ["Prometheus", "PrometheusArgs", "TSDB_PATH", "prometheus_files", "prometheus_healthcheck"]

TSDB_PATH = PROMETHEUS_TSDB_PATH


@dataclass(frozen=True)
class PrometheusArgs:
    settings: Settings
    config_text: str  # prometheus.yml, rendered
    rules_text: str  # the alert rule file, rendered
    monitoring_network: pulumi.Input[str]
    app_network: pulumi.Input[str]
    # Extra /etc/hosts entries: name -> address (node exporter in the host's namespace).
    hosts: Sequence[tuple[str, str]] = ()
    # Web auth (its --web.config.file and the client files for itself and Alertmanager).
    secrets: Optional[Secrets] = None
    # remote-write endpoint name -> its credential (secret), delivered as a file
    remote_write_credentials: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)


def prometheus_files(
    settings: Settings,
    secrets: Secrets,
    config_text: str,
    rules_text: str,
    remote_write_credentials: Mapping[str, pulumi.Output[str]],
) -> list[File]:
    """Every file Prometheus reads, on either platform: its config and rules, the remote-write
    credentials, and web auth's files (its own server files, the client files for itself and
    Alertmanager)."""
    files = [File(PROMETHEUS_CONFIG_FILE, config_text, secret=False)]
    if settings.prometheus.mode == "server":
        files.append(File(PROMETHEUS_RULES_FILE, rules_text, secret=False))
    # Remote-write credentials reach Prometheus as files (password_file, credentials_file):
    # never in the config text, the environment or `docker inspect`; Pulumi keeps them secret.
    for endpoint in settings.remote_write:
        if endpoint.auth:
            files.append(File(credential_file(endpoint), remote_write_credentials[endpoint.name]))
    files += server_files(secrets, PROMETHEUS_CONFIG_DIR, salt_key=web_salt_key(settings.name))
    files += client_files(secrets, PROMETHEUS_CONFIG_DIR)
    return files


def prometheus_healthcheck(secrets: Secrets) -> list[str]:
    return healthcheck_command(secrets.web, config_dir=PROMETHEUS_CONFIG_DIR, port=service.PORT, path="/-/healthy")


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:Prometheus", name, None, opts)
        settings = args.settings
        prom = settings.prometheus
        secrets = args.secrets or Secrets(grafana_admin_password=None, mongodb_uri=None)
        web = secrets.web
        self.volume = kept_volume(f"{name}-data", settings.prometheus_volume, settings, parent=self)
        command = prometheus_command(settings) + web_config_flag(secrets, PROMETHEUS_CONFIG_DIR)
        uploads = as_uploads(
            prometheus_files(settings, secrets, args.config_text, args.rules_text, args.remote_write_credentials)
        )
        self.container = service_container(
            name,
            settings=settings,
            service=service.SERVICE.name,
            image=prom.image,
            memory_mb=prom.memory_mb,
            parent=self,
            config_hash=sha256(args.config_text, args.rules_text, repr(web)),
            command=command,
            uploads=uploads,
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=TSDB_PATH)],
            ports=[docker.ContainerPortArgs(internal=service.PORT, external=prom.port, ip=settings.bind_address)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.monitoring_network, aliases=[service.SERVICE.alias]),
                docker.ContainerNetworksAdvancedArgs(name=args.app_network),
            ],
            hosts=[docker.ContainerHostArgs(host=host, ip=ip) for host, ip in args.hosts],
            healthcheck=healthcheck("", tests=prometheus_healthcheck(secrets)),
            wait=True,
            wait_timeout=120,
        )
        self.url = pulumi.Output.from_input(settings.published_url(prom.port, web.scheme))
        self.register_outputs({"url": self.url, "volume": self.volume.name})
