"""The whole monitoring stack on Docker Swarm: an attachable overlay network and one Swarm
service per enabled service of the catalogue.

- node exporter and cAdvisor run in global mode: one task on every node, new nodes included;
- Prometheus and Grafana run one replica each, placed on the node labelled
  `<swarm.dataNodeLabel>=true`, where their named volumes live;
- the MongoDB exporter runs one replica anywhere;
- configuration files are Swarm configs and credentials Swarm secrets, named by content;
- no exporter publishes a port; Prometheus and Grafana publish theirs only with swarm.publish.
"""

from __future__ import annotations

import posixpath
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker
import pulumi_random as random

import catalogue
from catalogue import cadvisor, grafana as grafana_service, mongodb_exporter, node_exporter, prometheus as prometheus_service

from ..config import Secrets
from ..exporters import _CADVISOR_BINDS
from ..grafana import ADMIN_PASSWORD_FILE, DATA_PATH as GRAFANA_DATA_PATH, START_SCRIPT_FILE
from ..prometheus import TSDB_PATH
from ..prometheus_flags import prometheus_command
from ..remote_write import credential_file
from ..render import (
    GRAFANA_DASHBOARD_PROVIDER_FILE,
    GRAFANA_DATASOURCE_FILE,
    PROMETHEUS_CONFIG_FILE,
    PROMETHEUS_RULES_FILE,
    render_alert_rules,
    render_grafana_dashboard_provider,
    render_grafana_datasources,
    render_grafana_start_script,
    to_yaml,
)
from ..settings import Settings
from .render import DOCKER_SOCKET, render_swarm_prometheus_config, service_name
from .resources import swarm_config, swarm_secret, swarm_service

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
        monitoring = docker.Network(
            f"{name}-monitoring", name=settings.monitoring_network, driver="overlay", attachable=True, labels=labels, opts=child
        )
        if settings.app_network:
            app_network = docker.get_network_output(name=settings.app_network).name
            app_network_name = pulumi.Output.from_input(settings.app_network)
        else:
            app_network = docker.Network(
                f"{name}-app", name=f"{settings.name}-app", driver="overlay", attachable=True, labels=labels, opts=child
            ).name
            app_network_name = pulumi.Output.from_input(f"{settings.name}-app")
        self.monitoring_network = monitoring.name
        self.app_network = app_network
        # The key under which secret names are derived (resources.secret_name).
        self._secret_key = random.RandomId(f"{name}-secret-name-key", byte_length=16, opts=child).hex
        networks = [settings.monitoring_network, settings.app_network or f"{settings.name}-app"]

        enabled = {s.name for s in catalogue.enabled_services(settings, services)}
        self.services: dict[str, docker.Service] = {}
        self.services[prometheus_service.JOB] = self._prometheus(services, networks)
        self.grafana = None
        self.grafana_url = None
        self.grafana_admin_password = None
        # Alertmanager is not deployed on Swarm yet: the settings refuse alertmanager.enabled there.
        self.alertmanager = None
        self.alertmanager_url = None
        if grafana_service.SERVICE.name in enabled:
            self.services[grafana_service.SERVICE.name] = self._grafana(dashboards)
        if mongodb_exporter.JOB in enabled:
            self.services[mongodb_exporter.JOB] = self._mongodb_exporter()
        if node_exporter.JOB in enabled:
            self.services[node_exporter.JOB] = self._node_exporter()
        if cadvisor.JOB in enabled:
            self.services[cadvisor.JOB] = self._cadvisor()

        url = settings.published_url(settings.prometheus.port) if settings.swarm.publish else "(not published: swarm.publish is false)"
        self.prometheus_url = pulumi.Output.from_input(url)
        self.network_name = monitoring.name
        self.app_network_name = app_network_name
        self.register_outputs({"prometheus_url": self.prometheus_url, "network_name": self.network_name})

    # --- one method per service ---------------------------------------------------------------

    def _data_node(self) -> list[str]:
        return [f"node.labels.{self._settings.swarm.data_node_label}==true"]

    def _opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _prometheus(self, services, networks) -> docker.Service:
        name, settings, prom = self._name, self._settings, self._settings.prometheus
        svc = service_name(settings, prometheus_service.JOB)
        config_text = to_yaml(render_swarm_prometheus_config(settings, networks, services))
        configs = [swarm_config(f"{name}-prometheus-config", settings, f"{svc}-config", config_text, parent=self)]
        files = [PROMETHEUS_CONFIG_FILE]
        if prom.mode == "server":
            rules_text = to_yaml(render_alert_rules(settings, services))
            configs.append(swarm_config(f"{name}-prometheus-rules", settings, f"{svc}-rules", rules_text, parent=self))
            files.append(PROMETHEUS_RULES_FILE)
        secrets = []
        for endpoint in settings.remote_write:
            if endpoint.auth:
                secret = swarm_secret(
                    f"{name}-remote-write-{endpoint.name}", settings, f"{svc}-remote-write-{endpoint.name}",
                    self._secrets.remote_write_credentials[endpoint.name], self._secret_key, parent=self,
                )
                secrets.append(docker.ServiceTaskSpecContainerSpecSecretArgs(
                    secret_id=secret.id, secret_name=secret.name, file_name=credential_file(endpoint),
                    file_uid=NOBODY, file_gid=NOBODY, file_mode=0o400,
                ))
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
        ports = []
        if settings.swarm.publish:
            ports = [docker.ServiceEndpointSpecPortArgs(target_port=prometheus_service.PORT, published_port=prom.port, publish_mode="host")]
        return swarm_service(
            f"{name}-prometheus",
            settings=settings, service=prometheus_service.JOB, name=svc, image=prom.image, memory_mb=prom.memory_mb,
            parent=self, constraints=constraints, stop_first=True,
            networks=[
                docker.ServiceTaskSpecNetworksAdvancedArgs(name=self.monitoring_network, aliases=[prometheus_service.SERVICE.alias]),
                docker.ServiceTaskSpecNetworksAdvancedArgs(name=self.app_network),
            ],
            ports=ports,
            healthcheck_url=f"http://127.0.0.1:{prometheus_service.PORT}/-/healthy",
            args=prometheus_command(
                image=prom.image, mode=prom.mode, config_file=PROMETHEUS_CONFIG_FILE, data_path=TSDB_PATH,
                listen_address=f":{prometheus_service.PORT}", retention_time=prom.retention_time, retention_size=prom.retention_size,
            ),
            configs=[
                docker.ServiceTaskSpecContainerSpecConfigArgs(
                    config_id=config.id, config_name=config.name, file_name=path, file_uid=NOBODY, file_gid=NOBODY, file_mode=0o444
                )
                for config, path in zip(configs, files)
            ],
            secrets=secrets,
            mounts=mounts,
            **extra,
        )

    def _grafana(self, dashboards: Mapping[str, str]) -> docker.Service:
        name, settings, graf = self._name, self._settings, self._settings.grafana
        svc = service_name(settings, grafana_service.SERVICE.name)
        password = self._secrets.grafana_admin_password
        if password is None:
            password = random.RandomPassword(f"{name}-grafana-admin-password", length=32, special=False, opts=self._opts()).result
        self.grafana_admin_password = pulumi.Output.secret(password)
        files = {
            GRAFANA_DATASOURCE_FILE: to_yaml(render_grafana_datasources(settings)),
            GRAFANA_DASHBOARD_PROVIDER_FILE: to_yaml(render_grafana_dashboard_provider(settings)),
            START_SCRIPT_FILE: render_grafana_start_script(ADMIN_PASSWORD_FILE),
        }
        for filename, text in sorted(dashboards.items()):
            files[posixpath.join(grafana_service.DASHBOARDS_DIR, filename)] = text
        configs = []
        for path, text in sorted(files.items()):
            # /etc/grafana/provisioning/datasources/monstack.yaml -> provisioning-datasources-monstack
            stem = posixpath.splitext(path.removeprefix("/etc/grafana/"))[0].replace("/", "-").replace(".", "-")
            config = swarm_config(f"{name}-grafana-{stem}", settings, f"{svc}-{stem}"[:48], text, parent=self)
            configs.append(docker.ServiceTaskSpecContainerSpecConfigArgs(
                config_id=config.id, config_name=config.name, file_name=path, file_mode=0o444
            ))
        secret = swarm_secret(f"{name}-grafana-admin-password-secret", settings, f"{svc}-admin-password",
                              self.grafana_admin_password, self._secret_key, parent=self)
        ports = []
        if settings.swarm.publish:
            ports = [docker.ServiceEndpointSpecPortArgs(target_port=grafana_service.PORT, published_port=graf.port, publish_mode="host")]
        self.grafana = swarm_service(
            f"{name}-grafana",
            settings=settings, service=grafana_service.SERVICE.name, name=svc, image=graf.image, memory_mb=graf.memory_mb,
            parent=self, constraints=self._data_node(), stop_first=True,
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=self.monitoring_network, aliases=[grafana_service.SERVICE.alias])],
            ports=ports,
            healthcheck_url=f"http://127.0.0.1:{grafana_service.PORT}/api/health",
            commands=["/bin/sh", START_SCRIPT_FILE],
            env={
                "GF_SECURITY_ADMIN_USER": graf.admin_user,
                "GF_SECURITY_ADMIN_PASSWORD__FILE": ADMIN_PASSWORD_FILE,
                "GF_AUTH_ANONYMOUS_ENABLED": "false",
                "GF_USERS_ALLOW_SIGN_UP": "false",
                "GF_ANALYTICS_REPORTING_ENABLED": "false",
                "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            },
            configs=configs,
            secrets=[docker.ServiceTaskSpecContainerSpecSecretArgs(
                secret_id=secret.id, secret_name=secret.name, file_name=ADMIN_PASSWORD_FILE, file_mode=0o400,
                file_uid="472", file_gid="0",  # grafana's uid in the official image
            )],
            mounts=[_volume(settings.grafana_volume, GRAFANA_DATA_PATH)],
        )
        self.grafana_url = pulumi.Output.from_input(
            settings.published_url(graf.port) if settings.swarm.publish else "(not published: swarm.publish is false)"
        )
        return self.grafana

    def _mongodb_exporter(self) -> docker.Service:
        settings = self._settings
        if self._secrets.mongodb_uri is None:
            raise ValueError("the MongoDB exporter is enabled but no MongoDB URI was given")
        return swarm_service(
            f"{self._name}-mongodb-exporter",
            settings=settings, service=mongodb_exporter.JOB, name=service_name(settings, mongodb_exporter.JOB),
            image=settings.mongodb_exporter.image, memory_mb=settings.mongodb_exporter.memory_mb, parent=self,
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=self.monitoring_network),
                      docker.ServiceTaskSpecNetworksAdvancedArgs(name=self.app_network)],
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
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=self.monitoring_network)],
            healthcheck_url=f"http://127.0.0.1:{node.port}/metrics",
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
            networks=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=self.monitoring_network)],
            healthcheck_url=f"http://127.0.0.1:{cadvisor.PORT}/healthz",
            hostname=NODE_HOSTNAME,
            args=list(cadvisor.flags(settings.prometheus.scrape_interval)),
            mounts=[_bind(source, target) for source, target in _CADVISOR_BINDS],
        )
