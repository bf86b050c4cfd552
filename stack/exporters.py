"""The exporter components: MongoDB exporter, node exporter and cAdvisor.

None of them publishes a port: Prometheus scrapes them over Docker networks (node
exporter over the Docker bridge gateway), so nothing here is reachable from the LAN.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_docker as docker

from . import names
from .containers import healthcheck, service_container
from .scrape import (
    CADVISOR_ALIAS,
    CADVISOR_PORT,
    CADVISOR_TARGET,
    MONGODB_EXPORTER_ALIAS,
    MONGODB_EXPORTER_PORT,
    MONGODB_EXPORTER_TARGET,
)
from .settings import Settings

__all__ = ["Cadvisor", "MongodbExporter", "NodeExporter", "MONGODB_EXPORTER_FLAGS", "CADVISOR_FLAGS"]

# The dashboards read metric names that depend on these flags (dashboards/metrics/).
MONGODB_EXPORTER_FLAGS = (
    "--collect-all",
    "--compatible-mode",
    "--discovering-mode",
    f"--web.listen-address=:{MONGODB_EXPORTER_PORT}",
)
CADVISOR_FLAGS = (
    "--docker_only=true",
    "--store_container_labels=false",
    "--housekeeping_interval=15s",
    f"--port={CADVISOR_PORT}",
)


class MongodbExporter(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: Settings,
        *,
        mongodb_uri: pulumi.Output[str],
        monitoring_network: pulumi.Input[str],
        app_network: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("monstack:index:MongodbExporter", name, None, opts)
        exporter = settings.mongodb_exporter
        self.container = service_container(
            name,
            settings=settings,
            service=MONGODB_EXPORTER_ALIAS,
            image=exporter.image,
            memory_mb=exporter.memory_mb,
            parent=self,
            command=list(MONGODB_EXPORTER_FLAGS),
            # The exporter reads its connection string from MONGODB_URI; the value is a
            # Pulumi secret, so it is encrypted in the state and masked in previews.
            envs=[pulumi.Output.concat("MONGODB_URI=", mongodb_uri)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=monitoring_network, aliases=[MONGODB_EXPORTER_ALIAS]),
                # MongoDB lives on the app's network.
                docker.ContainerNetworksAdvancedArgs(name=app_network),
            ],
        )
        self.scrape_target = MONGODB_EXPORTER_TARGET
        self.register_outputs({"scrape_target": self.scrape_target})


class NodeExporter(pulumi.ComponentResource):
    def __init__(self, name: str, settings: Settings, *, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:NodeExporter", name, None, opts)
        node = settings.node_exporter
        listen = f"{node.listen_address}:{node.port}"
        self.container = service_container(
            name,
            settings=settings,
            service=names.JOB_NODE_EXPORTER,
            image=node.image,
            memory_mb=node.memory_mb,
            parent=self,
            command=["--path.rootfs=/host", f"--web.listen-address={listen}"],
            # The host's network and process namespaces, so that network and process
            # metrics are the host's, not those of a container.
            network_mode="host",
            pid_mode="host",
            mounts=[
                docker.ContainerMountArgs(
                    type="bind",
                    source="/",
                    target="/host",
                    read_only=True,
                    bind_options=docker.ContainerMountBindOptionsArgs(propagation="rslave"),
                )
            ],
            healthcheck=healthcheck(f"http://{listen}/metrics", start_period="10s"),
            wait=True,
            wait_timeout=60,
        )
        self.scrape_target = listen
        self.register_outputs({"scrape_target": self.scrape_target})


# cAdvisor reads container statistics from the host: every mount is read-only and it runs
# without privileged mode and with no capabilities.  The Docker socket is the exception to
# "read-only means harmless": a read-only bind still lets a process *talk* to the Docker API,
# which is root-equivalent on the host.  cAdvisor needs it only to map cgroups to container
# names and labels; this is why cAdvisor publishes no port and sits only on the monitoring
# network.  /dev/kmsg (OOM events) is left out: it needs CAP_SYSLOG and OOM kills also show as
# container restarts.
_CADVISOR_BINDS = (
    ("/", "/rootfs"),
    ("/var/run/docker.sock", "/var/run/docker.sock"),
    ("/sys", "/sys"),
    ("/var/lib/docker", "/var/lib/docker"),
    ("/dev/disk", "/dev/disk"),
)


class Cadvisor(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: Settings,
        *,
        monitoring_network: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("monstack:index:Cadvisor", name, None, opts)
        cadvisor = settings.cadvisor
        self.container = service_container(
            name,
            settings=settings,
            service=CADVISOR_ALIAS,
            image=cadvisor.image,
            memory_mb=cadvisor.memory_mb,
            parent=self,
            command=list(CADVISOR_FLAGS),
            mounts=[
                docker.ContainerMountArgs(type="bind", source=source, target=target, read_only=True)
                for source, target in _CADVISOR_BINDS
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=monitoring_network, aliases=[CADVISOR_ALIAS])],
            healthcheck=healthcheck(f"http://127.0.0.1:{CADVISOR_PORT}/healthz", start_period="15s"),
            wait=True,
            wait_timeout=60,
        )
        self.scrape_target = CADVISOR_TARGET
        self.register_outputs({"scrape_target": self.scrape_target})
