"""The Prometheus component: rendered config, TSDB on a kept volume, published on bindAddress."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_docker as docker

from .containers import healthcheck, service_container
from .render import (
    PROMETHEUS_CONFIG_FILE,
    PROMETHEUS_RULES_FILE,
    PROMETHEUS_TSDB_PATH,
    prometheus_command,
    render_prometheus_config,
    render_prometheus_rules,
    sha256,
    to_yaml,
)
from .scrape import NODE_EXPORTER_HOST, PROMETHEUS_ALIAS, PROMETHEUS_PORT
from .settings import Settings
from .volumes import kept_volume

__all__ = ["Prometheus"]

TSDB_PATH = PROMETHEUS_TSDB_PATH


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        settings: Settings,
        *,
        monitoring_network: pulumi.Input[str],
        app_network: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("monstack:index:Prometheus", name, None, opts)
        config_text = to_yaml(render_prometheus_config(settings))
        rules_text = to_yaml(render_prometheus_rules(settings))
        self.volume = kept_volume(f"{name}-data", settings.prometheus_volume, settings, parent=self)
        prom = settings.prometheus
        command = prometheus_command(settings)
        hosts = []
        if settings.node_exporter.enabled:
            # node exporter lives in the host's network namespace, listening on the Docker
            # bridge gateway; this name points there (see README "Why node exporter listens on docker0").
            hosts.append(docker.ContainerHostArgs(host=NODE_EXPORTER_HOST, ip=settings.node_exporter.listen_address))
        self.container = service_container(
            name,
            settings=settings,
            service=PROMETHEUS_ALIAS,
            image=prom.image,
            memory_mb=prom.memory_mb,
            parent=self,
            config_hash=sha256(config_text, rules_text),
            command=command,
            uploads=[
                docker.ContainerUploadArgs(file=PROMETHEUS_CONFIG_FILE, content=config_text),
                docker.ContainerUploadArgs(file=PROMETHEUS_RULES_FILE, content=rules_text),
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=TSDB_PATH)],
            ports=[docker.ContainerPortArgs(internal=PROMETHEUS_PORT, external=prom.port, ip=settings.bind_address)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=monitoring_network, aliases=[PROMETHEUS_ALIAS]),
                docker.ContainerNetworksAdvancedArgs(name=app_network),
            ],
            hosts=hosts,
            healthcheck=healthcheck(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/healthy"),
            wait=True,
            wait_timeout=120,
        )
        self.url = pulumi.Output.from_input(settings.published_url(prom.port))
        self.register_outputs({"url": self.url, "volume": self.volume.name})
