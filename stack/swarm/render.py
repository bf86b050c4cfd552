"""Pure renderers of the Swarm platform: Prometheus' scrape configs for services and their tasks.

On one engine a scrape target is a container name or network alias. On Swarm a service name
resolves to the service's virtual IP (one address, whichever task answers), so every service is
scraped through `tasks.<service>`: one A record per running task, on every node, looked up again
at every refresh (a task started on a new node is scraped by the next refresh).

With `swarm.nodeNameLabels` the tasks come from the Swarm API instead (dockerswarm_sd_configs,
role `tasks`), which also says on which node each task runs: every target gets a `node` label.
"""

from __future__ import annotations

from typing import Iterable

import catalogue
from catalogue import prometheus as prometheus_service
# The target label that names the node a task runs on (swarm.nodeNameLabels); dashboards select on it.
from catalogue.service import NODE_LABEL

from ..alerting_render import scrape_job_auth
from ..render import render_prometheus_config
from ..settings import Settings
from ..webauth import WebSecurity

__all__ = [
    "DOCKER_SOCKET",
    "NODE_LABEL",
    "render_swarm_prometheus_config",
    "service_name",
    "swarm_scrape_configs",
]

DOCKER_SOCKET = "/var/run/docker.sock"


def service_name(settings: Settings, service: str) -> str:
    """The Swarm service name of one of the stack's services (`<name>-<service>`)."""
    return settings.container_name(service)


def _ports(job: catalogue.ScrapeJob) -> list[int]:
    ports = {int(target.rpartition(":")[2]) for target in job.targets}
    ports |= {port for _, port in job.discovered}
    return sorted(ports)


def _targets(settings: Settings, job: catalogue.ScrapeJob, services: Iterable[catalogue.Service]) -> tuple[list[tuple[str, int]], list[str]]:
    """(Swarm service name, port) pairs to discover, and targets scraped as written."""
    service = catalogue.by_name(job.job_name, services)
    if service.deployed:
        # One of the stack's own services: the Swarm service of that name, on its port(s).
        return [(service_name(settings, service.name), port) for port in _ports(job)], []
    # The app's services (backendTargets): `name:port` entries are Swarm services (or aliases)
    # on the app's network; address:port entries are hosts outside the swarm.
    return [(name.removeprefix("tasks."), port) for name, port in job.discovered], list(job.targets)


def _dns_job(job_name: str, discovered: list[tuple[str, int]], static: list[str], interval: str) -> dict:
    config: dict = {"job_name": job_name}
    if static:
        config["static_configs"] = [{"targets": static}]
    if discovered:
        config["dns_sd_configs"] = [
            {"names": sorted(f"tasks.{name}" for name, p in discovered if p == port), "type": "A", "port": port,
             "refresh_interval": interval}
            for port in sorted({port for _, port in discovered})
        ]
    return config


def _swarm_sd_job(job_name: str, discovered: list[tuple[str, int]], static: list[str], interval: str, networks: list[str]) -> dict:
    config: dict = {"job_name": job_name}
    if static:
        config["static_configs"] = [{"targets": static}]
    if discovered:
        names = sorted({name for name, _ in discovered})
        ports = sorted({port for _, port in discovered})
        if len(ports) > 1:
            raise ValueError(f"job {job_name}: Swarm service discovery supports one port per job, got {ports}")
        config["dockerswarm_sd_configs"] = [
            {"host": f"unix://{DOCKER_SOCKET}", "role": "tasks", "port": ports[0], "refresh_interval": interval}
        ]
        config["relabel_configs"] = [
            # Tasks meant to run, and the tasks of a node that is down: Swarm marks those for
            # shutdown at once, and without this rule a lost node's targets would vanish instead
            # of going down (TargetDown would never fire for it). Tasks of other services and on
            # other networks are dropped.
            {"source_labels": ["__meta_dockerswarm_task_desired_state", "__meta_dockerswarm_node_status"],
             "regex": "running;.*|.*;down", "action": "keep"},
            {"source_labels": ["__meta_dockerswarm_service_name"], "regex": "|".join(_escape(n) for n in names), "action": "keep"},
            {"source_labels": ["__meta_dockerswarm_network_name"], "regex": "|".join(_escape(n) for n in networks), "action": "keep"},
            # The port the service listens on (a task with no published port has the configured one).
            {"source_labels": ["__address__"], "regex": r"(.+):\d+", "target_label": "__address__",
             "replacement": f"$1:{ports[0]}", "action": "replace"},
            {"source_labels": ["__meta_dockerswarm_node_hostname"], "target_label": NODE_LABEL, "action": "replace"},
        ]
    return config


def _escape(name: str) -> str:
    return name.replace(".", r"\.")


def swarm_scrape_configs(
    settings: Settings,
    networks: list[str],
    services: Iterable[catalogue.Service] = catalogue.SERVICES,
    web: WebSecurity = WebSecurity(),
) -> list[dict]:
    """`networks`: [the monitoring overlay, the app's network]. With Swarm service discovery a task
    is one target per network it is on: the stack's services are kept on the monitoring network,
    the app's on the app's network, so that each task is scraped once. Jobs of the stack's own
    endpoints behind web auth (Prometheus, Alertmanager) carry its client auth, as on one engine."""
    services = tuple(services)
    interval = settings.prometheus.scrape_interval
    return [{**config, **scrape_job_auth(config["job_name"], web)} for config in _scrape_configs(settings, networks, services, interval)]


def _scrape_configs(settings: Settings, networks: list[str], services: tuple[catalogue.Service, ...], interval: str) -> list[dict]:
    configs = []
    for job in catalogue.scrape_jobs(settings, services):
        if job.job_name == prometheus_service.JOB and not settings.swarm.node_name_labels:
            # Prometheus scrapes itself where it runs.
            configs.append({"job_name": job.job_name, "static_configs": [{"targets": list(job.targets)}]})
            continue
        discovered, static = _targets(settings, job, services)
        if settings.swarm.node_name_labels:
            deployed = catalogue.by_name(job.job_name, services).deployed
            job_networks = networks[:1] if deployed else networks[1:]
            configs.append(_swarm_sd_job(job.job_name, discovered, static, interval, job_networks))
        else:
            configs.append(_dns_job(job.job_name, discovered, static, interval))
    return configs


def render_swarm_prometheus_config(
    settings: Settings,
    networks: list[str],
    services: Iterable[catalogue.Service] = catalogue.SERVICES,
    web: WebSecurity = WebSecurity(),
) -> dict:
    """prometheus.yml for Swarm: the one-engine config with Swarm's scrape configs.

    `networks`: the names of the networks Prometheus shares with its targets (the monitoring
    overlay and the app's network), to which Swarm service discovery is limited.
    """
    services = tuple(services)
    document = render_prometheus_config(settings, services, web)
    document["scrape_configs"] = swarm_scrape_configs(settings, networks, services, web)
    return document
