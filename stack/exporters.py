"""The exporter components: MongoDB exporter, node exporter and cAdvisor.

None of them publishes a port: Prometheus scrapes them over Docker networks (node
exporter over the Docker bridge gateway), so nothing here is reachable from the LAN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker
from catalogue import cadvisor, mongodb_exporter, node_exporter

from .containers import healthcheck, service_container
from .settings import Settings

__all__ = ["Cadvisor", "CadvisorArgs", "MongodbExporter", "MongodbExporterArgs", "NodeExporter", "NodeExporterArgs"]


@dataclass(frozen=True)
class MongodbExporterArgs:
    settings: Settings
    mongodb_uri: pulumi.Output[str]
    monitoring_network: pulumi.Input[str]
    app_network: pulumi.Input[str]
    # False for a replica set, several hosts or mongodb+srv:// (the driver must discover members).
    direct_connect: bool = True


class MongodbExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: MongodbExporterArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:MongodbExporter", name, None, opts)
        settings = args.settings
        exporter = settings.mongodb_exporter
        alias = mongodb_exporter.SERVICE.alias
        self.container = service_container(
            name,
            settings=settings,
            service=mongodb_exporter.SERVICE.name,
            image=exporter.image,
            memory_mb=exporter.memory_mb,
            parent=self,
            command=list(mongodb_exporter.flags(direct_connect=args.direct_connect)),
            # The exporter reads its connection string from MONGODB_URI; the value is a
            # Pulumi secret, so it is encrypted in the state and masked in previews.
            envs=[pulumi.Output.concat("MONGODB_URI=", args.mongodb_uri)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.monitoring_network, aliases=[alias]),
                # MongoDB lives on the app's network.
                docker.ContainerNetworksAdvancedArgs(name=args.app_network),
            ],
        )
        self.register_outputs({"container": self.container.name})


@dataclass(frozen=True)
class NodeExporterArgs:
    settings: Settings


class NodeExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodeExporterArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:NodeExporter", name, None, opts)
        settings = args.settings
        node = settings.node_exporter
        listen = f"{node.listen_address}:{node.port}"
        self.container = service_container(
            name,
            settings=settings,
            service=node_exporter.SERVICE.name,
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
        self.register_outputs({"container": self.container.name})


# cAdvisor reads container statistics from the host: every mount is read-only and it runs
# without privileged mode and with no capabilities.  The sockets under /var/run are the exception
# to "read-only means harmless": a read-only bind still lets a process *talk* to the Docker API
# and to containerd, which is root-equivalent on the host.  cAdvisor needs Docker's to map cgroups
# to container names and containerd's to find a container's root filesystem on the containerd
# image store (Docker 29+); /var/run is bound whole, as cAdvisor's docs do, because containerd's
# socket is not on every host and a bind of a missing file fails.  This is why cAdvisor publishes
# no port and sits only on the monitoring network.  /dev/kmsg (OOM events) is left out: it needs
# CAP_SYSLOG and OOM kills also show as container restarts.
_CADVISOR_BINDS = (
    ("/", "/rootfs"),
    ("/var/run", "/var/run"),
    ("/sys", "/sys"),
    ("/var/lib/docker", "/var/lib/docker"),
    ("/dev/disk", "/dev/disk"),
)


@dataclass(frozen=True)
class CadvisorArgs:
    settings: Settings
    monitoring_network: pulumi.Input[str]


class Cadvisor(pulumi.ComponentResource):
    def __init__(self, name: str, args: CadvisorArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:Cadvisor", name, None, opts)
        settings = args.settings
        self.container = service_container(
            name,
            settings=settings,
            service=cadvisor.SERVICE.name,
            image=settings.cadvisor.image,
            memory_mb=settings.cadvisor.memory_mb,
            parent=self,
            command=list(cadvisor.flags(settings.prometheus.scrape_interval)),
            mounts=[
                docker.ContainerMountArgs(type="bind", source=source, target=target, read_only=True)
                for source, target in _CADVISOR_BINDS
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.monitoring_network, aliases=[cadvisor.SERVICE.alias])
            ],
            healthcheck=healthcheck(f"http://127.0.0.1:{cadvisor.PORT}/healthz", start_period="15s"),
            wait=True,
            wait_timeout=60,
        )
        self.register_outputs({"container": self.container.name})
