"""monstack: the monitoring stack of one environment (`pulumi up -s dev`)."""

import pulumi

import catalogue
from dashboards import render_dashboards
from stack import config
from stack.monstack import MonitoringStack

settings, secrets = config.load()
services = catalogue.enabled_services(settings)
if settings.platform == "swarm":
    from stack.swarm.stack import SwarmMonitoringStack as Stack
else:
    Stack = MonitoringStack
monitoring = Stack("monstack", settings, secrets, dashboards=render_dashboards(services))

pulumi.export("prometheus_url", monitoring.prometheus_url)
pulumi.export("network_name", monitoring.network_name)
pulumi.export("app_network_name", monitoring.app_network_name)
if monitoring.alertmanager is not None:
    pulumi.export("alertmanager_url", monitoring.alertmanager_url)
if monitoring.grafana is not None:
    pulumi.export("grafana_url", monitoring.grafana_url)
    pulumi.export("grafana_admin_user", settings.grafana.admin_user)
    pulumi.export("grafana_admin_password", monitoring.grafana_admin_password)
