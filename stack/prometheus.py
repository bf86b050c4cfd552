"""The Prometheus component: rendered config, TSDB on a kept volume, published on bindAddress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker
from catalogue import prometheus as service

from .containers import healthcheck, service_container
from .prometheus_flags import prometheus_command
from .remote_write import credential_file
from .render import PROMETHEUS_CONFIG_FILE, PROMETHEUS_RULES_FILE, sha256
from .settings import Settings
from .volumes import kept_volume

__all__ = ["Prometheus", "PrometheusArgs", "TSDB_PATH"]

TSDB_PATH = "/prometheus"


@dataclass(frozen=True)
class PrometheusArgs:
    settings: Settings
    config_text: str  # prometheus.yml, rendered
    rules_text: str  # the alert rule file, rendered
    monitoring_network: pulumi.Input[str]
    app_network: pulumi.Input[str]
    # Extra /etc/hosts entries: name -> address (node exporter in the host's namespace).
    hosts: Sequence[tuple[str, str]] = ()
    # remote-write endpoint name -> its credential (secret), delivered as a file
    remote_write_credentials: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: PrometheusArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:Prometheus", name, None, opts)
        settings = args.settings
        prom = settings.prometheus
        self.volume = kept_volume(f"{name}-data", settings.prometheus_volume, settings, parent=self)
        command = prometheus_command(
            image=prom.image,
            mode=prom.mode,
            config_file=PROMETHEUS_CONFIG_FILE,
            data_path=TSDB_PATH,
            listen_address=f":{service.PORT}",
            retention_time=prom.retention_time,
            retention_size=prom.retention_size,
        )
        uploads = [docker.ContainerUploadArgs(file=PROMETHEUS_CONFIG_FILE, content=args.config_text)]
        if prom.mode == "server":
            uploads.append(docker.ContainerUploadArgs(file=PROMETHEUS_RULES_FILE, content=args.rules_text))
        # Remote-write credentials reach Prometheus as files (password_file, credentials_file):
        # never in the config text, the environment or `docker inspect`; Pulumi keeps them secret.
        for endpoint in settings.remote_write:
            if endpoint.auth:
                secret = pulumi.Output.secret(args.remote_write_credentials[endpoint.name])
                uploads.append(docker.ContainerUploadArgs(file=credential_file(endpoint), content=secret))
        self.container = service_container(
            name,
            settings=settings,
            service=service.SERVICE.name,
            image=prom.image,
            memory_mb=prom.memory_mb,
            parent=self,
            config_hash=sha256(args.config_text, args.rules_text),
            command=command,
            uploads=uploads,
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=TSDB_PATH)],
            ports=[docker.ContainerPortArgs(internal=service.PORT, external=prom.port, ip=settings.bind_address)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.monitoring_network, aliases=[service.SERVICE.alias]),
                docker.ContainerNetworksAdvancedArgs(name=args.app_network),
            ],
            hosts=[docker.ContainerHostArgs(host=host, ip=ip) for host, ip in args.hosts],
            healthcheck=healthcheck(f"http://127.0.0.1:{service.PORT}/-/healthy"),
            wait=True,
            wait_timeout=120,
        )
        self.url = pulumi.Output.from_input(settings.published_url(prom.port))
        self.register_outputs({"url": self.url, "volume": self.volume.name})
