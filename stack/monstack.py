"""The whole monitoring stack as one component: networks, then one component per enabled service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

import catalogue
from catalogue import alertmanager, cadvisor, grafana, mongodb_exporter, node_exporter, prometheus

from .alertmanager import Alertmanager, AlertmanagerArgs
from .config import Secrets
from .exporters import Cadvisor, CadvisorArgs, MongodbExporter, MongodbExporterArgs, NodeExporter, NodeExporterArgs
from .grafana import Grafana, GrafanaArgs
from .prometheus import Prometheus, PrometheusArgs
from .render import render_alert_rules, render_prometheus_config, to_yaml
from .settings import Settings

__all__ = ["COMPONENTS", "Context", "MonitoringStack"]


@dataclass(frozen=True)
class Context:
    """What every service component may be built from."""

    settings: Settings
    secrets: Secrets
    dashboards: Mapping[str, str]
    monitoring_network: pulumi.Output[str]
    app_network: pulumi.Input[str]
    services: tuple[catalogue.Service, ...] = catalogue.SERVICES


def _prometheus(name: str, ctx: Context, opts: pulumi.ResourceOptions) -> Prometheus:
    settings = ctx.settings
    hosts = []
    if node_exporter.SERVICE.enabled(settings):
        # node exporter lives in the host's network namespace, listening on the Docker
        # bridge gateway; this name points there (see README "Why node exporter listens on docker0").
        hosts.append((node_exporter.HOST_ALIAS, settings.node_exporter.listen_address))
    args = PrometheusArgs(
        settings=settings,
        config_text=to_yaml(render_prometheus_config(settings, ctx.services, ctx.secrets.web)),
        # An agent evaluates no rules (Prometheus refuses rule_files in agent mode).
        rules_text=to_yaml(render_alert_rules(settings, ctx.services)) if settings.prometheus.mode == "server" else "",
        monitoring_network=ctx.monitoring_network,
        app_network=ctx.app_network,
        hosts=tuple(hosts),
        secrets=ctx.secrets,
        remote_write_credentials=dict(ctx.secrets.remote_write_credentials),
    )
    return Prometheus(name, args, opts)


def _grafana(name: str, ctx: Context, opts: pulumi.ResourceOptions) -> Grafana:
    args = GrafanaArgs(
        ctx.settings, ctx.dashboards, ctx.secrets.grafana_admin_password, ctx.monitoring_network, secrets=ctx.secrets
    )
    return Grafana(name, args, opts)


def _mongodb_exporter(name: str, ctx: Context, opts: pulumi.ResourceOptions) -> MongodbExporter:
    if ctx.secrets.mongodb_uri is None:
        raise ValueError("the MongoDB exporter is enabled but no MongoDB URI was given")
    args = MongodbExporterArgs(
        ctx.settings,
        ctx.secrets.mongodb_uri,
        ctx.monitoring_network,
        ctx.app_network,
        direct_connect=ctx.secrets.mongodb_direct_connect,
    )
    return MongodbExporter(name, args, opts)


def _alertmanager(name: str, ctx: Context, opts: pulumi.ResourceOptions) -> Alertmanager:
    return Alertmanager(name, AlertmanagerArgs(ctx.settings, ctx.secrets, ctx.monitoring_network), opts)


def _node_exporter(name: str, ctx: Context, opts: pulumi.ResourceOptions) -> NodeExporter:
    return NodeExporter(name, NodeExporterArgs(ctx.settings), opts)


def _cadvisor(name: str, ctx: Context, opts: pulumi.ResourceOptions) -> Cadvisor:
    return Cadvisor(name, CadvisorArgs(ctx.settings, ctx.monitoring_network), opts)


# service name (catalogue) -> how the stack deploys it. Every deployed service of the catalogue has one.
COMPONENTS: dict[str, Callable[[str, Context, pulumi.ResourceOptions], pulumi.ComponentResource]] = {
    prometheus.SERVICE.name: _prometheus,
    grafana.SERVICE.name: _grafana,
    mongodb_exporter.SERVICE.name: _mongodb_exporter,
    node_exporter.SERVICE.name: _node_exporter,
    cadvisor.SERVICE.name: _cadvisor,
    alertmanager.SERVICE.name: _alertmanager,
}


class MonitoringStack(pulumi.ComponentResource):
    """Prometheus, Grafana and the exporters beside an application on Docker.

    The stack owns one network of its own for the monitoring services and joins the
    application's network (by name; created only when none is configured) so that
    Prometheus reaches the backend by its service name.
    """

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
        components: Mapping[str, Callable[[str, Context, pulumi.ResourceOptions], pulumi.ComponentResource]] = COMPONENTS,
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

        ctx = Context(settings, secrets, dashboards, monitoring.name, app_network_name, tuple(services))
        self.services: dict[str, pulumi.ComponentResource] = {}
        for service in catalogue.enabled_services(settings, services):
            if service.deployed:
                self.services[service.name] = components[service.name](f"{name}-{service.name}", ctx, child)

        self.prometheus = self.services[prometheus.SERVICE.name]
        self.grafana = self.services.get(grafana.SERVICE.name)
        self.prometheus_url = self.prometheus.url
        self.grafana_url = self.grafana.url if self.grafana else None
        self.alertmanager = self.services.get(alertmanager.SERVICE.name)
        self.alertmanager_url = self.alertmanager.url if self.alertmanager else None
        self.grafana_admin_password = self.grafana.admin_password if self.grafana else None
        self.network_name = monitoring.name
        self.app_network_name = pulumi.Output.from_input(app_network_name)
        self.register_outputs(
            {
                "prometheus_url": self.prometheus_url,
                "grafana_url": self.grafana_url,
                "alertmanager_url": self.alertmanager_url,
                "network_name": self.network_name,
                "app_network_name": self.app_network_name,
            }
        )
