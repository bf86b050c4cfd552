"""The Prometheus component: rendered config, TSDB on a kept volume, published on bindAddress."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_docker as docker

from .alerting_render import PROMETHEUS_CONFIG_DIR
from .config import Secrets
from .containers import healthcheck, service_container
from .alerts import render_alert_rules
from .render import PROMETHEUS_CONFIG_FILE, PROMETHEUS_RULES_FILE, render_prometheus_config, sha256, to_yaml
from .scrape import NODE_EXPORTER_HOST, PROMETHEUS_ALIAS, PROMETHEUS_PORT
from .settings import Settings
from .volumes import kept_volume
from .web_uploads import client_uploads, server_uploads, web_config_flag
from .webauth import healthcheck_command

__all__ = ["Prometheus"]

TSDB_PATH = "/prometheus"


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        settings: Settings,
        *,
        secrets: Optional[Secrets] = None,
        monitoring_network: pulumi.Input[str],
        app_network: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("monstack:index:Prometheus", name, None, opts)
        secrets = secrets or Secrets(grafana_admin_password=None, mongodb_uri=None)
        web = secrets.web
        config_text = to_yaml(render_prometheus_config(settings, web))
        rules_text = to_yaml(render_alert_rules(settings))
        self.volume = kept_volume(f"{name}-data", settings.prometheus_volume, settings, parent=self)
        prom = settings.prometheus
        command = [
            f"--config.file={PROMETHEUS_CONFIG_FILE}",
            f"--storage.tsdb.path={TSDB_PATH}",
            f"--storage.tsdb.retention.time={prom.retention_time}",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
        ]
        if prom.retention_size:
            command.append(f"--storage.tsdb.retention.size={prom.retention_size}")
        command += web_config_flag(secrets, PROMETHEUS_CONFIG_DIR)
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
            config_hash=sha256(config_text, rules_text, repr(web)),
            command=command,
            uploads=[
                docker.ContainerUploadArgs(file=PROMETHEUS_CONFIG_FILE, content=config_text),
                docker.ContainerUploadArgs(file=PROMETHEUS_RULES_FILE, content=rules_text),
                # Web auth: its own server files, and the client files for itself and Alertmanager.
                *server_uploads(secrets, PROMETHEUS_CONFIG_DIR, salt_key=f"monstack-web:{settings.name}"),
                *client_uploads(secrets, PROMETHEUS_CONFIG_DIR),
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=TSDB_PATH)],
            ports=[docker.ContainerPortArgs(internal=PROMETHEUS_PORT, external=prom.port, ip=settings.bind_address)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=monitoring_network, aliases=[PROMETHEUS_ALIAS]),
                docker.ContainerNetworksAdvancedArgs(name=app_network),
            ],
            hosts=hosts,
            healthcheck=healthcheck(
                "",
                tests=healthcheck_command(web, config_dir=PROMETHEUS_CONFIG_DIR, port=PROMETHEUS_PORT, path="/-/healthy"),
            ),
            wait=True,
            wait_timeout=120,
        )
        self.url = pulumi.Output.from_input(settings.published_url(prom.port))
        self.register_outputs({"url": self.url, "volume": self.volume.name})
