"""Swarm objects every monstack service is built from: content-named configs and secrets, and
hardened services.

Swarm configs and secrets are immutable: a config whose content changed under the same name
cannot be updated. Each is named after its content (`<name>-<what>-<hash>`), so a change makes
a new object, the service rolls to it, and the old one is deleted after (Pulumi creates the
replacement first). A secret's name carries an HMAC of its content under a random per-stack key,
so the name says when the secret changed without offering a hash of the secret to guess against.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from ..containers import LABEL_SERVICE, LABEL_STACK
from ..settings import Settings

__all__ = ["config_name", "secret_name", "swarm_config", "swarm_secret", "swarm_service"]

_HASH_CHARS = 12


def config_name(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]}"


def secret_name(prefix: str, key_hex: str, value: str) -> str:
    digest = hmac.new(bytes.fromhex(key_hex), value.encode(), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:_HASH_CHARS]}"


def swarm_config(resource_name: str, settings: Settings, prefix: str, text: str, *, parent: pulumi.Resource) -> docker.ServiceConfig:
    return docker.ServiceConfig(
        resource_name,
        name=config_name(prefix, text),
        data=base64.b64encode(text.encode()).decode(),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def swarm_secret(
    resource_name: str,
    settings: Settings,
    prefix: str,
    value: pulumi.Output[str],
    key_hex: pulumi.Output[str],
    *,
    parent: pulumi.Resource,
) -> docker.Secret:
    name = pulumi.Output.all(key_hex, value).apply(lambda kv: secret_name(prefix, kv[0], kv[1]))
    return docker.Secret(
        resource_name,
        # The name is derived from the secret but reveals nothing of it (HMAC under a random key).
        name=pulumi.Output.unsecret(name),
        data=pulumi.Output.secret(value).apply(lambda v: base64.b64encode(v.encode()).decode()),
        labels=[docker.SecretLabelArgs(label=LABEL_STACK, value=settings.name)],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def swarm_service(
    resource_name: str,
    *,
    settings: Settings,
    service: str,
    name: str,
    image: str,
    memory_mb: int,
    parent: pulumi.Resource,
    global_mode: bool = False,
    constraints: Sequence[str] = (),
    networks: Sequence[docker.ServiceTaskSpecNetworksAdvancedArgs] = (),
    ports: Sequence[docker.ServiceEndpointSpecPortArgs] = (),
    healthcheck_url: Optional[str] = None,
    stop_first: bool = False,
    **container_spec,
) -> docker.Service:
    """One Swarm service with the hardening every monstack container gets on one engine: all
    capabilities dropped, a memory limit, restart on failure, rotated logs, its stack's labels."""
    labels = [docker.ServiceLabelArgs(label=LABEL_STACK, value=settings.name), docker.ServiceLabelArgs(label=LABEL_SERVICE, value=service)]
    healthcheck = None
    if healthcheck_url:
        healthcheck = docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
            tests=["CMD", "wget", "-q", "-O", "/dev/null", healthcheck_url], interval="15s", timeout="5s", retries=4, start_period="30s"
        )
    mode = (
        docker.ServiceModeArgs(global_=True)
        if global_mode
        else docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1))
    )
    return docker.Service(
        resource_name,
        name=name,
        labels=labels,
        mode=mode,
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=image,
                cap_drops=container_spec.pop("cap_drops", ["ALL"]),
                labels=[docker.ServiceTaskSpecContainerSpecLabelArgs(label=LABEL_STACK, value=settings.name),
                        docker.ServiceTaskSpecContainerSpecLabelArgs(label=LABEL_SERVICE, value=service)],
                healthcheck=healthcheck,
                **container_spec,
            ),
            networks_advanceds=list(networks),
            placement=docker.ServiceTaskSpecPlacementArgs(constraints=sorted(constraints)) if constraints else None,
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=memory_mb * 1024 * 1024)
            ),
            restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="5s"),
            log_driver=docker.ServiceTaskSpecLogDriverArgs(name="json-file", options={"max-size": "10m", "max-file": "3"}),
        ),
        # DNS round robin: the service name resolves to its tasks' addresses, no virtual IP. A VIP
        # needs IPVS in the kernel (ip_vs), which not every host has; one replica or many,
        # Prometheus and Grafana reach every task without it.
        endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr", ports=list(ports) or None),
        # A service holding a volume (Prometheus' TSDB lock) stops its old task before starting
        # the new one; stateless exporters start the new one first.
        update_config=docker.ServiceUpdateConfigArgs(parallelism=1, order="stop-first" if stop_first else "start-first"),
        opts=pulumi.ResourceOptions(parent=parent),
    )
