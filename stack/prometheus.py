"""The Prometheus component: rendered config, TSDB on a kept volume, published on bindAddress."""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_docker as docker

from .containers import healthcheck, service_container
from .alerts import render_alert_rules
from .prometheus_flags import prometheus_command
from .remote_write import credential_file
from .render import PROMETHEUS_CONFIG_FILE, PROMETHEUS_RULES_FILE, render_prometheus_config, sha256, to_yaml
from .scrape import NODE_EXPORTER_HOST, PROMETHEUS_ALIAS, PROMETHEUS_PORT
from .settings import Settings
from .volumes import kept_volume

__all__ = ["Prometheus"]

TSDB_PATH = "/prometheus"


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        settings: Settings,
        *,
        monitoring_network: pulumi.Input[str],
        app_network: pulumi.Input[str],
        remote_write_credentials: Optional[Mapping[str, pulumi.Output[str]]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("monstack:index:Prometheus", name, None, opts)
        prom = settings.prometheus
        server = prom.mode == "server"
        config_text = to_yaml(render_prometheus_config(settings))
        rules_text = to_yaml(render_alert_rules(settings)) if server else ""
        self.volume = kept_volume(f"{name}-data", settings.prometheus_volume, settings, parent=self)
        command = prometheus_command(
            image=prom.image,
            mode=prom.mode,
            config_file=PROMETHEUS_CONFIG_FILE,
            data_path=TSDB_PATH,
            listen_address=f":{PROMETHEUS_PORT}",
            retention_time=prom.retention_time,
            retention_size=prom.retention_size,
        )
        uploads = [docker.ContainerUploadArgs(file=PROMETHEUS_CONFIG_FILE, content=config_text)]
        if server:
            uploads.append(docker.ContainerUploadArgs(file=PROMETHEUS_RULES_FILE, content=rules_text))
        # Remote-write credentials reach Prometheus as files (password_file, credentials_file):
        # never in the config text, the environment or `docker inspect`; Pulumi keeps them secret.
        credentials = remote_write_credentials or {}
        for endpoint in settings.remote_write:
            if endpoint.auth:
                uploads.append(
                    docker.ContainerUploadArgs(
                        file=credential_file(endpoint), content=pulumi.Output.secret(credentials[endpoint.name])
                    )
                )
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
            uploads=uploads,
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
