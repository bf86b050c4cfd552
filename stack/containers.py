"""What every monstack container has in common: a pinned image, least privilege, labels, logs.

Components call `service_container`; nothing else creates a `docker.Container`, so the
hardening below cannot be forgotten for one service.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_docker as docker

from .settings import Settings

__all__ = ["LABEL_CONFIG_HASH", "LABEL_SERVICE", "LABEL_STACK", "healthcheck", "service_container"]

LABEL_STACK = "monstack.stack"
LABEL_SERVICE = "monstack.service"
LABEL_CONFIG_HASH = "monstack.config-sha256"


def healthcheck(
    url: str, *, start_period: str = "30s", tests: Optional[list[str]] = None
) -> docker.ContainerHealthcheckArgs:
    """An HTTP healthcheck with busybox `wget`, which the pinned images ship (or `tests`, a
    command of the same kind, for example one that sends credentials read from a file).

    Durations are written as the provider reads them back (Go's `Duration.String()`: `1m0s`,
    not `60s`): with `replace_on_changes=["healthcheck"]` any other spelling replaces the
    container on every `pulumi up` (tests/unit/test_declared_canonical.py checks them all).
    """
    return docker.ContainerHealthcheckArgs(
        tests=tests or ["CMD", "wget", "-q", "-O", "/dev/null", url],
        interval="15s",
        timeout="5s",
        retries=4,
        start_period=start_period,
    )


def service_container(
    name: str,
    *,
    settings: Settings,
    service: str,
    image: str,
    memory_mb: int,
    parent: pulumi.Resource,
    config_hash: Optional[str] = None,
    **container_args,
) -> docker.Container:
    """The image and container of one service, as children of `parent`.

    Every container: drops all Linux capabilities (a service that needs one adds it
    explicitly), may not gain privileges, restarts unless stopped, has a memory limit
    without extra swap, and rotates its logs.

    Logs go to Docker's `local` driver, which rotates by itself (20 MB x 5 files, compressed),
    and no `log_opts` are declared: the provider reads `log_opts` back only when they are
    declared, and then with the daemon's default log-opts merged in (daemon.json), which would
    replace every container on every `pulumi up` on such an engine.
    """
    remote = docker.RemoteImage(
        f"{name}-image",
        name=image,
        # The image may be shared with other stacks on this engine: never delete it.
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    labels = [
        docker.ContainerLabelArgs(label=LABEL_STACK, value=settings.name),
        docker.ContainerLabelArgs(label=LABEL_SERVICE, value=service),
    ]
    if config_hash is not None:
        labels.append(docker.ContainerLabelArgs(label=LABEL_CONFIG_HASH, value=config_hash))
    capabilities = container_args.pop(
        "capabilities", docker.ContainerCapabilitiesArgs(drops=["ALL"])
    )
    replace_on_changes = ["healthcheck"] if "healthcheck" in container_args else []
    security_opts = ["no-new-privileges:true"]
    if "host" in (container_args.get("pid_mode"), container_args.get("ipc_mode")):
        # Docker adds this itself to a container in the host's PID or IPC namespace (moby
        # daemon/create.go, generateSecurityOpt), and the provider reads it back: declared, so
        # that the read-back equals the declaration and `pulumi up` does not replace it each time.
        security_opts.append("label=disable")
    return docker.Container(
        f"{name}-container",
        name=settings.container_name(service),
        image=remote.image_id,
        restart="unless-stopped",
        memory=memory_mb,
        memory_swap=memory_mb,
        capabilities=capabilities,
        security_opts=security_opts,
        labels=labels,
        log_driver="local",
        **container_args,
        opts=pulumi.ResourceOptions(
            parent=parent,
            # Container names (and published host ports) are fixed, and Docker cannot hold
            # them for the old and the new container at once (pulumi-docker#1356).
            delete_before_replace=True,
            replace_on_changes=replace_on_changes,
        ),
    )
