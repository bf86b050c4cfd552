"""Names shared by the stack, the dashboards and the tests: defined once.

This module imports nothing from Pulumi so that ``dashboards`` can use it
without pulling in the deployment program.
"""

__all__ = [
    "JOB_PROMETHEUS",
    "JOB_BACKEND",
    "JOB_MONGODB_EXPORTER",
    "JOB_NODE_EXPORTER",
    "JOB_CADVISOR",
    "JOB_ALERTMANAGER",
    "ALERTMANAGER_DATASOURCE_UID",
    "PROMETHEUS_DATASOURCE_UID",
    "GRAFANA_DASHBOARDS_DIR",
]

# Prometheus scrape job names (the `job` label on every series).
JOB_PROMETHEUS = "prometheus"
JOB_BACKEND = "backend"
JOB_MONGODB_EXPORTER = "mongodb-exporter"
JOB_NODE_EXPORTER = "node-exporter"
JOB_CADVISOR = "cadvisor"
JOB_ALERTMANAGER = "alertmanager"

# The uid of the provisioned Prometheus datasource; dashboards refer to it by uid.
PROMETHEUS_DATASOURCE_UID = "monstack-prometheus"
ALERTMANAGER_DATASOURCE_UID = "monstack-alertmanager"

# Where Grafana's file provider reads dashboards inside the container.
GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards"
