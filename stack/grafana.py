"""The Grafana component: provisioned datasource and dashboards, kept data, no default password."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_docker as docker
import pulumi_random as random
from catalogue import grafana as service

from .alerting_render import GRAFANA_SECRETS_DIR
from .config import Secrets
from .containers import healthcheck, service_container
from .render import (
    GRAFANA_DASHBOARD_PROVIDER_FILE,
    GRAFANA_DATASOURCE_FILE,
    render_grafana_dashboard_provider,
    render_grafana_datasources,
    render_grafana_start_script,
    sha256,
    to_yaml,
)
from .settings import Settings
from .volumes import kept_volume
from .web_files import File, as_uploads, client_files

__all__ = [
    "ADMIN_PASSWORD_FILE",
    "DATA_PATH",
    "Grafana",
    "GrafanaArgs",
    "START_SCRIPT_FILE",
    "grafana_config_files",
    "grafana_environment",
    "grafana_secret_files",
]

DATA_PATH = "/var/lib/grafana"
ADMIN_PASSWORD_FILE = "/run/secrets/grafana-admin-password"
START_SCRIPT_FILE = "/etc/grafana/monstack-start.sh"


def grafana_config_files(settings: Settings, secrets: Secrets, dashboards: Mapping[str, str]) -> dict[str, str]:
    """path -> text of Grafana's configuration files (none secret), on either platform: the
    provisioned datasources (with web auth's $__file{} references) and dashboards, and the start script."""
    files = {
        GRAFANA_DATASOURCE_FILE: to_yaml(render_grafana_datasources(settings, secrets.web)),
        GRAFANA_DASHBOARD_PROVIDER_FILE: to_yaml(render_grafana_dashboard_provider(settings)),
        START_SCRIPT_FILE: render_grafana_start_script(ADMIN_PASSWORD_FILE),
    }
    for filename, text in sorted(dashboards.items()):
        if posixpath.basename(filename) != filename or not filename.endswith(".json"):
            raise ValueError(f"dashboard file name {filename!r} must be a plain '*.json' name")
        files[posixpath.join(service.DASHBOARDS_DIR, filename)] = text
    return files


def grafana_secret_files(secrets: Secrets, admin_password: pulumi.Output[str]) -> list[File]:
    """The admin password as a file, not an environment variable, so that `docker inspect` does
    not show it; and the datasources' credentials for Prometheus and Alertmanager behind web auth."""
    return [File(ADMIN_PASSWORD_FILE, admin_password), *client_files(secrets, GRAFANA_SECRETS_DIR)]


def grafana_environment(admin_user: str) -> dict[str, str]:
    """Grafana's settings that are not files: no anonymous access, no sign-up, nothing phoned home."""
    return {
        "GF_SECURITY_ADMIN_USER": admin_user,
        "GF_SECURITY_ADMIN_PASSWORD__FILE": ADMIN_PASSWORD_FILE,
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_AUTH_BASIC_ENABLED": "true",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_USERS_ALLOW_ORG_CREATE": "false",
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        "GF_NEWS_NEWS_FEED_ENABLED": "false",
    }


@dataclass(frozen=True)
class GrafanaArgs:
    settings: Settings
    dashboards: Mapping[str, str]  # file name -> dashboard JSON text
    admin_password: Optional[pulumi.Output[str]]  # None: generate one
    monitoring_network: pulumi.Input[str]
    # The web auth of Prometheus and Alertmanager, which the datasources use (None: none).
    secrets: Optional[Secrets] = None


class Grafana(pulumi.ComponentResource):
    url: pulumi.Output[str]
    admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: GrafanaArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("monstack:index:Grafana", name, None, opts)
        settings, dashboards, admin_password = args.settings, args.dashboards, args.admin_password
        graf = settings.grafana
        secrets = args.secrets or Secrets(grafana_admin_password=None, mongodb_uri=None)
        if admin_password is None:
            generated = random.RandomPassword(
                f"{name}-admin-password",
                length=32,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            admin_password = generated.result
        self.admin_password = pulumi.Output.secret(admin_password)

        files = grafana_config_files(settings, secrets, dashboards)
        uploads = as_uploads([File(path, text, secret=False) for path, text in sorted(files.items())])
        uploads += as_uploads(grafana_secret_files(secrets, self.admin_password))

        self.volume = kept_volume(f"{name}-data", settings.grafana_volume, settings, parent=self)
        self.container = service_container(
            name,
            settings=settings,
            service=service.SERVICE.name,
            image=graf.image,
            memory_mb=graf.memory_mb,
            parent=self,
            config_hash=sha256(*(f"{path}\n{text}" for path, text in sorted(files.items()))),
            # The admin password is applied at every start, not only when the database is created.
            entrypoints=["/bin/sh", START_SCRIPT_FILE],
            envs=[f"{key}={value}" for key, value in grafana_environment(graf.admin_user).items()],
            uploads=uploads,
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=DATA_PATH)],
            ports=[docker.ContainerPortArgs(internal=service.PORT, external=graf.port, ip=settings.bind_address)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.monitoring_network, aliases=[service.SERVICE.alias])],
            healthcheck=healthcheck(f"http://127.0.0.1:{service.PORT}/api/health", start_period="1m0s"),
            wait=True,
            wait_timeout=180,
        )
        self.url = pulumi.Output.from_input(settings.published_url(graf.port))
        self.register_outputs({"url": self.url, "volume": self.volume.name, "admin_password": self.admin_password})
