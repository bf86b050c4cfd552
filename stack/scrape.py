"""Who Prometheus scrapes, and where: the single place that turns settings into scrape jobs."""

from __future__ import annotations

from dataclasses import dataclass

from . import names
from .settings import Settings

__all__ = [
    "ALERTMANAGER_ALIAS",
    "ALERTMANAGER_PORT",
    "ALERTMANAGER_TARGET",
    "CADVISOR_ALIAS",
    "CADVISOR_PORT",
    "CADVISOR_TARGET",
    "MONGODB_EXPORTER_ALIAS",
    "MONGODB_EXPORTER_TARGET",
    "PROMETHEUS_ALIAS",
    "MONGODB_EXPORTER_PORT",
    "NODE_EXPORTER_HOST",
    "PROMETHEUS_PORT",
    "ScrapeJob",
    "scrape_jobs",
]

# Ports inside the containers (the images' defaults).
PROMETHEUS_PORT = 9090
MONGODB_EXPORTER_PORT = 9216
CADVISOR_PORT = 8080
ALERTMANAGER_PORT = 9093

# Network aliases: the names by which Prometheus (and Grafana) find the services.
# They are the job names, so a target's name says which job scrapes it.
PROMETHEUS_ALIAS = names.JOB_PROMETHEUS
MONGODB_EXPORTER_ALIAS = names.JOB_MONGODB_EXPORTER
CADVISOR_ALIAS = names.JOB_CADVISOR
MONGODB_EXPORTER_TARGET = f"{MONGODB_EXPORTER_ALIAS}:{MONGODB_EXPORTER_PORT}"
CADVISOR_TARGET = f"{CADVISOR_ALIAS}:{CADVISOR_PORT}"
ALERTMANAGER_ALIAS = names.JOB_ALERTMANAGER
ALERTMANAGER_TARGET = f"{ALERTMANAGER_ALIAS}:{ALERTMANAGER_PORT}"

# The name under which Prometheus finds node exporter, which runs in the host's network
# namespace: an /etc/hosts entry in the Prometheus container pointing at its listen address.
NODE_EXPORTER_HOST = "node-exporter.host"


@dataclass(frozen=True)
class ScrapeJob:
    job_name: str
    targets: tuple[str, ...]


def scrape_jobs(settings: Settings) -> tuple[ScrapeJob, ...]:
    """The scrape jobs for these settings, in a fixed order; a switched-off exporter has none."""
    jobs = [
        ScrapeJob(names.JOB_PROMETHEUS, (f"localhost:{PROMETHEUS_PORT}",)),
        ScrapeJob(names.JOB_BACKEND, tuple(settings.backend_targets)),
    ]
    if settings.mongodb_exporter.enabled:
        jobs.append(ScrapeJob(names.JOB_MONGODB_EXPORTER, (MONGODB_EXPORTER_TARGET,)))
    if settings.node_exporter.enabled:
        jobs.append(ScrapeJob(names.JOB_NODE_EXPORTER, (f"{NODE_EXPORTER_HOST}:{settings.node_exporter.port}",)))
    if settings.cadvisor.enabled:
        jobs.append(ScrapeJob(names.JOB_CADVISOR, (CADVISOR_TARGET,)))
    if settings.alertmanager.enabled:
        jobs.append(ScrapeJob(names.JOB_ALERTMANAGER, (ALERTMANAGER_TARGET,)))
    return tuple(jobs)
