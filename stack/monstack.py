"""The whole monitoring stack as one component: networks, then the services, as its children."""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_docker as docker

from .config import Secrets
from .exporters import Cadvisor, MongodbExporter, NodeExporter
from .grafana import Grafana
from .prometheus import Prometheus
from .settings import Settings

__all__ = ["MonitoringStack"]


class MonitoringStack(pulumi.ComponentResource):
    """Prometheus, Grafana and the exporters beside an application on Docker.

    The stack owns one network of its own for the monitoring services and joins the
    application's network (by name; created only when none is configured) so that
    Prometheus reaches the backend by its service name.
    """

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
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("monstack:index:Stack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = [docker.NetworkLabelArgs(label="monstack.stack", value=settings.name)]

        monitoring = docker.Network(
            f"{name}-monitoring",
            name=settings.monitoring_network,
            driver="bridge",
            labels=labels,
            opts=child,
        )
        if settings.app_network:
            # The app's network belongs to the app: look it up, never create or change it.
            app_network_name = docker.get_network_output(name=settings.app_network).name
        else:
            app_network_name = docker.Network(
                f"{name}-app",
                name=f"{settings.name}-app",
                driver="bridge",
                labels=labels,
                opts=child,
            ).name

        self.prometheus = Prometheus(
            f"{name}-prometheus",
            settings,
            monitoring_network=monitoring.name,
            app_network=app_network_name,
            remote_write_credentials=secrets.remote_write_credentials,
            opts=child,
        )
        self.grafana = None
        if settings.grafana.enabled:
            self.grafana = Grafana(
                f"{name}-grafana",
                settings,
                dashboards=dashboards,
                admin_password=secrets.grafana_admin_password,
                monitoring_network=monitoring.name,
                opts=child,
            )
        if settings.mongodb_exporter.enabled:
            if secrets.mongodb_uri is None:
                raise ValueError("the MongoDB exporter is enabled but no MongoDB URI was given")
            MongodbExporter(
                f"{name}-mongodb-exporter",
                settings,
                mongodb_uri=secrets.mongodb_uri,
                monitoring_network=monitoring.name,
                app_network=app_network_name,
                opts=child,
            )
        if settings.node_exporter.enabled:
            NodeExporter(f"{name}-node-exporter", settings, opts=child)
        if settings.cadvisor.enabled:
            Cadvisor(f"{name}-cadvisor", settings, monitoring_network=monitoring.name, opts=child)

        self.prometheus_url = self.prometheus.url
        self.grafana_url = self.grafana.url if self.grafana else None
        self.grafana_admin_password = self.grafana.admin_password if self.grafana else None
        self.network_name = monitoring.name
        self.app_network_name = pulumi.Output.from_input(app_network_name)
        self.register_outputs(
            {
                "prometheus_url": self.prometheus_url,
                "grafana_url": self.grafana_url,
                "network_name": self.network_name,
                "app_network_name": self.app_network_name,
            }
        )
