"""The whole monitoring stack on Docker Swarm: an attachable overlay network and one Swarm
service per enabled service of the catalogue.

- node exporter and cAdvisor run in global mode: one task on every node, new nodes included;
- Prometheus, Grafana and Alertmanager run one replica each, placed on the node labelled
  `<swarm.dataNodeLabel>=true`, where their named volumes live;
- the MongoDB exporter runs one replica anywhere;
- each service reads the same files as on one engine (stack.prometheus.prometheus_files and its
  peers): configuration as Swarm configs, credentials (web auth included) as Swarm secrets,
  named by content;
- no exporter publishes a port; Prometheus, Grafana and Alertmanager publish theirs only with
  swarm.publish, which requires web auth (stack.alerting_secrets).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker
import pulumi_random as random

import catalogue
from catalogue import (
    alertmanager as alertmanager_service,
    cadvisor,
    grafana as grafana_service,
    mongodb_exporter,
    node_exporter,
    prometheus as prometheus_service,
)

from ..alerting_render import PROMETHEUS_CONFIG_DIR
from ..alertmanager import DATA_PATH as ALERTMANAGER_DATA_PATH, DESTROY_GRACE_SECONDS
from ..alertmanager import alertmanager_command, alertmanager_files, alertmanager_healthcheck, external_url
from ..config import Secrets
from ..exporters import _CADVISOR_BINDS
from ..grafana import DATA_PATH as GRAFANA_DATA_PATH, START_SCRIPT_FILE
from ..grafana import grafana_config_files, grafana_environment, grafana_secret_files
from ..prometheus import TSDB_PATH, prometheus_files, prometheus_healthcheck
from ..render import prometheus_command, render_alert_rules, to_yaml
from ..settings import Settings
from ..web_files import File, web_config_flag
from .render import DOCKER_SOCKET, render_swarm_prometheus_config, service_name
from .resources import swarm_files, swarm_service, url_healthcheck

__all__ = ["SwarmMonitoringStack"]

# The node name of the task, by Swarm's template: node_uname_info{nodename} says which node.
NODE_HOSTNAME = "{{.Node.Hostname}}"
NOBODY = "65534"


def _bind(source: str, target: str, propagation: Optional[str] = None) -> docker.ServiceTaskSpecContainerSpecMountArgs:
    return docker.ServiceTaskSpecContainerSpecMountArgs(
        type="bind",
        source=source,
        target=target,
        read_only=True,
        bind_options=docker.ServiceTaskSpecContainerSpecMountBindOptionsArgs(propagation=propagation) if propagation else None,
    )


def _volume(name: str, target: str) -> docker.ServiceTaskSpecContainerSpecMountArgs:
    return docker.ServiceTaskSpecContainerSpecMountArgs(
        type="volume",
        source=name,
        target=target,
        volume_options=docker.ServiceTaskSpecContainerSpecMountVolumeOptionsArgs(
            labels=[docker.ServiceTaskSpecContainerSpecMountVolumeOptionsLabelArgs(label="monstack.volume", value=name)]
        ),
    )


class SwarmMonitoringStack(pulumi.ComponentResource):
    prometheus_url: pulumi.Output[str]
    grafana_url: Optional[pulumi.Output[str]]
    alertmanager_url: Optional[pulumi.Output[str]]
    grafana_admin_password: Optional[pulumi.Output[str]]
    network_name: pulumi.Output[str]
    app_network_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        settings: Settings,
        secrets: Secrets,
        *,
        dashboards: Mapping[str, str],
        services: Sequence[catalogue.Service] = catalogue.SERVICES,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("monstack:swarm:Stack", name, None, opts)
        self._name, self._settings, self._secrets = name, settings, secrets
        services = tuple(services)
        labels = [docker.NetworkLabelArgs(label="monstack.stack", value=settings.name)]
        child = pulumi.ResourceOptions(parent=self)
        # Attachable: the app's own stack (and plain containers) may join it.
        # A Swarm network is allocated by the managers after it is created: read back too early
        # (the provider reads once, 2 s after creating it) it has no IPAM driver yet, and the next
        # plan would replace the network, which Docker refuses while services use it. The stack
        # never sets the IPAM driver or options, so ignoring them loses nothing.
        overlay = pulumi.ResourceOptions(parent=self, ignore_changes=["ipamDriver", "ipamOptions"])
        monitoring = docker.Network(
            f"{name}-monitoring", name=settings.monitoring_network, driver="overlay", attachable=True, labels=labels, opts=overlay
        )
        # Services join networks by id: Swarm stores a service's network as its id whatever it was
        # given, the provider reads that back into `id`, and a network given by `name` would then
        # differ from the state at every plan and replace the service at every `pulumi up`
        # (the provider deprecates `name` for that reason).
        if settings.app_network:
            app_network_id = docker.get_network_output(name=settings.app_network).id
            app_network_name = pulumi.Output.from_input(settings.app_network)
        else:
            app_network_id = docker.Network(
                f"{name}-app", name=f"{settings.name}-app", driver="overlay", attachable=True, labels=labels, opts=overlay
            ).id
            app_network_name = pulumi.Output.from_input(f"{settings.name}-app")
        self.monitoring_network_id = monitoring.id
        self.app_network_id = app_network_id
        # The key under which secret names are derived (resources.secret_name).
        self._secret_key = random.RandomId(f"{name}-secret-name-key", byte_length=16, opts=child).hex
        networks = [settings.monitoring_network, settings.app_network or f"{settings.name}-app"]

        enabled = {s.name for s in catalogue.enabled_services(settings, services)}
        self.services: dict[str, docker.Service] = {}
        self.services[prometheus_service.JOB] = self._prometheus(services, networks)
        self.grafana = None
        self.grafana_url = None
        self.grafana_admin_password = None
        self.alertmanager = None
        self.alertmanager_url = None
        if alertmanager_service.SERVICE.name in enabled:
            self.services[alertmanager_service.SERVICE.name] = self._alertmanager()
        if grafana_service.SERVICE.name in enabled:
            self.services[grafana_service.SERVICE.name] = self._grafana(dashboards)
        if mongodb_exporter.JOB in enabled:
            self.services[mongodb_exporter.JOB] = self._mongodb_exporter()
        if node_exporter.JOB in enabled:
            self.services[node_exporter.JOB] = self._node_exporter()
        if cadvisor.JOB in enabled:
            self.services[cadvisor.JOB] = self._cadvisor()

        self.prometheus_url = self._url(settings.prometheus.port, secrets.web.scheme)
        self.network_name = monitoring.name
        self.app_network_name = app_network_name
        self.register_outputs({
            "prometheus_url": self.prometheus_url,
            "grafana_url": self.grafana_url,
            "alertmanager_url": self.alertmanager_url,
            "network_name": self.network_name,
            "app_network_name": self.app_network_name,
        })

    # --- one method per service ---------------------------------------------------------------

    def _data_node(self) -> list[str]:
        return [f"node.labels.{self._settings.swarm.data_node_label}==true"]

    def _opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _url(self, port: int, scheme: str = "http") -> pulumi.Output[str]:
        settings = self._settings
        if not settings.swarm.publish:
            return pulumi.Output.from_input("(not published: swarm.publish is false)")
        return pulumi.Output.from_input(settings.published_url(port, scheme))

    def _published(self, target: int, published: int) -> list[docker.ServiceEndpointSpecPortArgs]:
        if not self._settings.swarm.publish:
            return []
        # Host mode: the port answers on the data node itself, not through the routing mesh.
        return [docker.ServiceEndpointSpecPortArgs(target_port=target, published_port=published, publish_mode="host")]

    def _files(self, service: str, files: list[File], *, uid: str, gid: str):
        return swarm_files(
            f"{self._name}-{service}", self._settings, service_name(self._settings, service), files, self._secret_key,
            parent=self, uid=uid, gid=gid,
        )

    def _prometheus(self, services, networks) -> docker.Service:
        name, settings, secrets, prom = self._name, self._settings, self._secrets, self._settings.prometheus
        config_text = to_yaml(render_swarm_prometheus_config(settings, networks, services, secrets.web))
        rules_text = to_yaml(render_alert_rules(settings, services)) if prom.mode == "server" else ""
        files = prometheus_files(settings, secrets, config_text, rules_text, secrets.remote_write_credentials)
        configs, secret_files = self._files(prometheus_service.JOB, files, uid=NOBODY, gid=NOBODY)
        mounts = [_volume(settings.prometheus_volume, TSDB_PATH)]
        constraints = self._data_node()
        extra = {}
        if settings.swarm.node_name_labels:
            # Swarm service discovery reads the Swarm API: a manager's socket, as root (see README).
            mounts.append(_bind(settings.swarm.docker_socket, DOCKER_SOCKET))
            constraints.append("node.role==manager")
            extra["user"] = "root"
            # root without capabilities may not write the TSDB directory (owned by nobody).
            extra["cap_adds"] = ["DAC_OVERRIDE"]
        return swarm_service(
            f"{name}-prometheus",
            settings=settings, service=prometheus_service.JOB, name=service_name(settings, prometheus_service.JOB),
            image=prom.image, memory_mb=prom.memory_mb, parent=self, constraints=constraints, stop_first=True,
            networks=[
                docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.monitoring_network_id, aliases=[prometheus_service.SERVICE.alias]),
                docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.app_network_id),
            ],
            ports=self._published(prometheus_service.PORT, prom.port),
            healthcheck=prometheus_healthcheck(secrets),
            args=prometheus_command(settings) + web_config_flag(secrets, PROMETHEUS_CONFIG_DIR),
            configs=configs,
            secrets=secret_files,
            mounts=mounts,
            **extra,
        )

    def _alertmanager(self) -> docker.Service:
        settings, secrets, am = self._settings, self._secrets, self._settings.alertmanager
        configs, secret_files = self._files(alertmanager_service.JOB, alertmanager_files(settings, secrets), uid=NOBODY, gid=NOBODY)
        self.alertmanager = swarm_service(
            f"{self._name}-alertmanager",
            settings=settings, service=alertmanager_service.JOB, name=service_name(settings, alertmanager_service.JOB),
            image=am.image, memory_mb=am.memory_mb, parent=self, constraints=self._data_node(), stop_first=True,
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.monitoring_network_id, aliases=[alertmanager_service.SERVICE.alias])],
            ports=self._published(alertmanager_service.PORT, am.port),
            healthcheck=alertmanager_healthcheck(secrets),
            args=alertmanager_command(settings, secrets, external_url(settings, secrets.web.scheme)),
            configs=configs,
            secrets=secret_files,
            mounts=[_volume(settings.alertmanager_volume, ALERTMANAGER_DATA_PATH)],
            # Silences and the notification log are written to the volume when it stops.
            stop_grace_period=f"{DESTROY_GRACE_SECONDS}s",
        )
        self.alertmanager_url = self._url(am.port, secrets.web.scheme)
        return self.alertmanager

    def _grafana(self, dashboards: Mapping[str, str]) -> docker.Service:
        name, settings, secrets, graf = self._name, self._settings, self._secrets, self._settings.grafana
        password = secrets.grafana_admin_password
        if password is None:
            password = random.RandomPassword(f"{name}-grafana-admin-password", length=32, special=False, opts=self._opts()).result
        self.grafana_admin_password = pulumi.Output.secret(password)
        files = [File(path, text, secret=False) for path, text in sorted(grafana_config_files(settings, secrets, dashboards).items())]
        files += grafana_secret_files(secrets, self.grafana_admin_password)
        # grafana's uid in the official image; group root, as the image's files are.
        configs, secret_files = self._files(grafana_service.SERVICE.name, files, uid="472", gid="0")
        self.grafana = swarm_service(
            f"{name}-grafana",
            settings=settings, service=grafana_service.SERVICE.name, name=service_name(settings, grafana_service.SERVICE.name),
            image=graf.image, memory_mb=graf.memory_mb, parent=self, constraints=self._data_node(), stop_first=True,
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.monitoring_network_id, aliases=[grafana_service.SERVICE.alias])],
            ports=self._published(grafana_service.PORT, graf.port),
            healthcheck=url_healthcheck(f"http://127.0.0.1:{grafana_service.PORT}/api/health"),
            # The admin password is applied at every start, not only when the database is created.
            commands=["/bin/sh", START_SCRIPT_FILE],
            env=grafana_environment(graf.admin_user),
            configs=configs,
            secrets=secret_files,
            mounts=[_volume(settings.grafana_volume, GRAFANA_DATA_PATH)],
        )
        self.grafana_url = self._url(graf.port)
        return self.grafana

    def _mongodb_exporter(self) -> docker.Service:
        settings = self._settings
        if self._secrets.mongodb_uri is None:
            raise ValueError("the MongoDB exporter is enabled but no MongoDB URI was given")
        return swarm_service(
            f"{self._name}-mongodb-exporter",
            settings=settings, service=mongodb_exporter.JOB, name=service_name(settings, mongodb_exporter.JOB),
            image=settings.mongodb_exporter.image, memory_mb=settings.mongodb_exporter.memory_mb, parent=self,
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.monitoring_network_id),
                      docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.app_network_id)],
            args=list(mongodb_exporter.flags(direct_connect=self._secrets.mongodb_direct_connect)),
            # As on one engine, the exporter reads its URI from the environment (a Pulumi secret).
            env={"MONGODB_URI": self._secrets.mongodb_uri},
        )

    def _node_exporter(self) -> docker.Service:
        settings, node = self._settings, self._settings.node_exporter
        # On the overlay network only, with no published port: it listens on its task's own
        # address, never on the host's. The host's filesystems and processes come from the
        # host's / (and its /proc and /sys) mounted read-only.
        return swarm_service(
            f"{self._name}-node-exporter",
            settings=settings, service=node_exporter.JOB, name=service_name(settings, node_exporter.JOB),
            image=node.image, memory_mb=node.memory_mb, parent=self, global_mode=True,
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.monitoring_network_id)],
            healthcheck=url_healthcheck(f"http://127.0.0.1:{node.port}/metrics"),
            hostname=NODE_HOSTNAME,
            args=["--path.rootfs=/host", "--path.procfs=/host/proc", "--path.sysfs=/host/sys", f"--web.listen-address=:{node.port}"],
            mounts=[_bind("/", "/host", "rslave")],
        )

    def _cadvisor(self) -> docker.Service:
        settings = self._settings
        return swarm_service(
            f"{self._name}-cadvisor",
            settings=settings, service=cadvisor.JOB, name=service_name(settings, cadvisor.JOB),
            image=settings.cadvisor.image, memory_mb=settings.cadvisor.memory_mb, parent=self, global_mode=True,
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.monitoring_network_id)],
            healthcheck=url_healthcheck(f"http://127.0.0.1:{cadvisor.PORT}/healthz"),
            hostname=NODE_HOSTNAME,
            args=list(cadvisor.flags(settings.prometheus.scrape_interval)),
            mounts=[_bind(source, target) for source, target in _CADVISOR_BINDS],
        )
