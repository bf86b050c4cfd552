"""The Alertmanager component: routed receivers, silences on a kept volume, published on bindAddress."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker
from catalogue import alertmanager as service

from .alertmanager_config import ALERTMANAGER_CONFIG_DIR, ALERTMANAGER_CONFIG_FILE, receiver_secret_file, render_alertmanager_config
from .config import Secrets
from .containers import healthcheck, service_container
from .render import sha256, to_yaml
from .settings import Settings
from .volumes import kept_volume
from .web_files import File, as_uploads, server_files, web_config_flag, web_salt_key
from .webauth import healthcheck_command

__all__ = [
    "Alertmanager",
    "AlertmanagerArgs",
    "DATA_PATH",
    "DESTROY_GRACE_SECONDS",
    "alertmanager_command",
    "alertmanager_files",
    "alertmanager_healthcheck",
]

# Silences and the notification log (the image's declared volume).
DATA_PATH = "/alertmanager"
DESTROY_GRACE_SECONDS = 30


def external_url(settings: Settings, scheme: str) -> str:
    """The URL people open; Alertmanager puts it in notifications' links."""
    host = f"[{settings.bind_address}]" if ":" in settings.bind_address else settings.bind_address
    return urllib.parse.urlunsplit((scheme, f"{host}:{settings.alertmanager.port}", "/", "", ""))


def alertmanager_command(settings: Settings, secrets: Secrets, url: str) -> list[str]:
    """Alertmanager's flags, on either platform; `url` is the external URL people open."""
    am = settings.alertmanager
    return [
        f"--config.file={ALERTMANAGER_CONFIG_FILE}",
        f"--storage.path={DATA_PATH}",
        f"--data.retention={am.retention}",
        f"--web.listen-address=:{service.PORT}",
        f"--web.external-url={url}",
        # One instance: no gossip port (HA would need peers and a shared network).
        "--cluster.listen-address=",
        *web_config_flag(secrets, ALERTMANAGER_CONFIG_DIR),
    ]


def alertmanager_files(settings: Settings, secrets: Secrets) -> list[File]:
    """Every file Alertmanager reads, on either platform: its config, each receiver's credential
    (a file the config names with `*_file`: never in the config text, the environment, the
    command line or the labels), and web auth's server files."""
    files = [File(ALERTMANAGER_CONFIG_FILE, to_yaml(render_alertmanager_config(settings.alertmanager)), secret=False)]
    for receiver, credential in sorted(secrets.receiver_credentials.items()):
        files.append(File(receiver_secret_file(receiver), credential))
    files += server_files(secrets, ALERTMANAGER_CONFIG_DIR, salt_key=web_salt_key(settings.name))
    return files


def alertmanager_healthcheck(secrets: Secrets) -> list[str]:
    return healthcheck_command(secrets.web, config_dir=ALERTMANAGER_CONFIG_DIR, port=service.PORT, path="/-/healthy")


@dataclass(frozen=True)
class AlertmanagerArgs:
    settings: Settings
    secrets: Secrets  # receiver credentials and web auth
    monitoring_network: pulumi.Input[str]


class Alertmanager(pulumi.ComponentResource):
    url: pulumi.Output[str]

    def __init__(self, name: str, args: AlertmanagerArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:Alertmanager", name, None, opts)
        settings, secrets = args.settings, args.secrets
        am = settings.alertmanager
        web = secrets.web
        files = alertmanager_files(settings, secrets)
        config_text = next(f.content for f in files if f.path == ALERTMANAGER_CONFIG_FILE)
        self.volume = kept_volume(f"{name}-data", settings.alertmanager_volume, settings, parent=self)
        url = external_url(settings, web.scheme)
        self.container = service_container(
            name,
            settings=settings,
            service=service.SERVICE.name,
            image=am.image,
            memory_mb=am.memory_mb,
            parent=self,
            config_hash=sha256(config_text, repr(web)),
            command=alertmanager_command(settings, secrets, url),
            uploads=as_uploads(files),
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=DATA_PATH)],
            ports=[docker.ContainerPortArgs(internal=service.PORT, external=am.port, ip=settings.bind_address)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.monitoring_network, aliases=[service.SERVICE.alias])
            ],
            healthcheck=healthcheck("", tests=alertmanager_healthcheck(secrets)),
            wait=True,
            wait_timeout=120,
            # Alertmanager writes silences and the notification log to its volume when it stops
            # (and every 15 minutes): the provider's delete must give it time, or a replaced
            # container loses the silences of the last minutes (its default stop timeout is 0).
            destroy_grace_seconds=DESTROY_GRACE_SECONDS,
        )
        self.url = pulumi.Output.from_input(url.rstrip("/"))
        self.register_outputs({"url": self.url, "volume": self.volume.name})
