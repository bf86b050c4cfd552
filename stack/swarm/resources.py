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
import posixpath
from typing import Iterable, Optional, Sequence

import pulumi
import pulumi_docker as docker

from ..containers import LABEL_SERVICE, LABEL_STACK
from ..settings import Settings
from ..web_files import File

__all__ = [
    "bounded_prefix",
    "config_name",
    "file_stem",
    "secret_name",
    "swarm_config",
    "swarm_files",
    "swarm_secret",
    "swarm_service",
    "url_healthcheck",
]

_HASH_CHARS = 12
# Docker refuses config and secret names longer than 64 characters: prefix, '-', hash.
_MAX_PREFIX = 64 - 1 - _HASH_CHARS


def bounded_prefix(prefix: str) -> str:
    """`prefix`, or when too long its head and a short hash of the whole, so that two long
    prefixes never end up the same."""
    if len(prefix) <= _MAX_PREFIX:
        return prefix
    return f"{prefix[:_MAX_PREFIX - 7]}-{hashlib.sha256(prefix.encode()).hexdigest()[:6]}"


def config_name(prefix: str, text: str) -> str:
    return f"{bounded_prefix(prefix)}-{hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]}"


def secret_name(prefix: str, key_hex: str, value: str) -> str:
    digest = hmac.new(bytes.fromhex(key_hex), value.encode(), hashlib.sha256).hexdigest()
    return f"{bounded_prefix(prefix)}-{digest[:_HASH_CHARS]}"


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


def file_stem(path: str) -> str:
    """A short name for a service's file: its path below /etc/<service>/ (or /run/secrets/),
    without extension, '/' and '.' as '-' (/etc/prometheus/secrets/web-password -> secrets-web-password)."""
    parts = path.strip("/").split("/")
    rest = parts[2:] if parts[0] in ("etc", "run") and len(parts) > 2 else parts
    return posixpath.splitext("/".join(rest))[0].replace("/", "-").replace(".", "-")


def swarm_files(
    resource_prefix: str,
    settings: Settings,
    service_name: str,
    files: Iterable[File],
    key_hex: pulumi.Output[str],
    *,
    parent: pulumi.Resource,
    uid: str = "0",
    gid: str = "0",
) -> tuple[list[docker.ServiceTaskSpecContainerSpecConfigArgs], list[docker.ServiceTaskSpecContainerSpecSecretArgs]]:
    """A service's files (stack.web_files.File) as Swarm configs (readable) and Swarm secrets
    (owner-only), mounted at their paths and owned by the service's user."""
    configs, secrets, seen = [], [], {}
    for f in files:
        stem = file_stem(f.path)
        if stem in seen:
            raise ValueError(f"{service_name}: {f.path} and {seen[stem]} would share the Swarm name {stem!r}")
        seen[stem] = f.path
        resource_name, prefix = f"{resource_prefix}-{stem}", bounded_prefix(f"{service_name}-{stem}")
        if f.secret:
            secret = swarm_secret(resource_name, settings, prefix, pulumi.Output.from_input(f.content), key_hex, parent=parent)
            secrets.append(docker.ServiceTaskSpecContainerSpecSecretArgs(
                secret_id=secret.id, secret_name=secret.name, file_name=f.path, file_uid=uid, file_gid=gid, file_mode=0o400,
            ))
        else:
            if not isinstance(f.content, str):
                raise TypeError(f"{f.path}: a Swarm config's content must be known at preview (it names the config)")
            config = swarm_config(resource_name, settings, prefix, f.content, parent=parent)
            configs.append(docker.ServiceTaskSpecContainerSpecConfigArgs(
                config_id=config.id, config_name=config.name, file_name=f.path, file_uid=uid, file_gid=gid, file_mode=0o444,
            ))
    return configs, secrets


def url_healthcheck(url: str) -> list[str]:
    return ["CMD", "wget", "-q", "-O", "/dev/null", url]


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
    healthcheck: Optional[Sequence[str]] = None,
    stop_first: bool = False,
    **container_spec,
) -> docker.Service:
    """One Swarm service with the hardening every monstack container gets on one engine: all
    capabilities dropped, a memory limit, restart on failure, rotated logs, its stack's labels."""
    labels = [docker.ServiceLabelArgs(label=LABEL_STACK, value=settings.name), docker.ServiceLabelArgs(label=LABEL_SERVICE, value=service)]
    check = None
    if healthcheck:
        check = docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
            tests=list(healthcheck), interval="15s", timeout="5s", retries=4, start_period="30s"
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
                healthcheck=check,
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
