"""The files web auth needs inside a service, with their content kept a Pulumi secret.

A server (Prometheus, Alertmanager) gets its `--web.config.file` (holding a bcrypt hash of the
password, never the password), the `Authorization` header value its own healthcheck sends, and
its certificate and key; a client (Prometheus towards Alertmanager and itself, Grafana) gets the
password file and the CA.

The files are platform-neutral (`File`): on one engine they become container uploads
(`as_uploads`), on Swarm configs and secrets (stack.swarm.resources.swarm_files). Either way no
value appears in `docker inspect`: uploads are not part of a container's configuration, and a
Swarm secret is a file in the task, not a field of the service.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterable

import pulumi
import pulumi_docker as docker

from .config import Secrets
from .render import to_yaml
from .webauth import (
    AUTH_HEADER_NAME,
    PASSWORD_NAME,
    TLS_CA_NAME,
    TLS_CERT_NAME,
    TLS_KEY_NAME,
    WEB_CONFIG_NAME,
    basic_auth_header_value,
    bcrypt_hash,
    render_web_config,
)

__all__ = ["File", "as_uploads", "client_files", "server_files", "web_config_flag", "web_salt_key"]


@dataclass(frozen=True)
class File:
    """A file a service reads: its absolute path in the container and its content. `secret`:
    the content is a credential (a Swarm secret, a secret upload), not configuration."""

    path: str
    content: pulumi.Input[str]
    secret: bool = True


def as_uploads(files: Iterable[File]) -> list[docker.ContainerUploadArgs]:
    return [
        docker.ContainerUploadArgs(file=f.path, content=pulumi.Output.secret(f.content) if f.secret else f.content)
        for f in files
    ]


def web_salt_key(stack_name: str) -> str:
    """The key the bcrypt salt is derived under (webauth.bcrypt_hash): one per stack."""
    return f"monstack-web:{stack_name}"


def web_config_flag(secrets: Secrets, config_dir: str) -> list[str]:
    web = secrets.web
    return [f"--web.config.file={posixpath.join(config_dir, WEB_CONFIG_NAME)}"] if (web.basic_auth or web.tls) else []


def server_files(secrets: Secrets, config_dir: str, *, salt_key: str) -> list[File]:
    web = secrets.web
    if not (web.basic_auth or web.tls):
        return []
    if web.basic_auth:
        # The hash is derived from the password alone (and the key): the same password gives the
        # same file, so an unchanged `pulumi up` does not replace the container.
        web_config = secrets.web_password.apply(
            lambda password: to_yaml(
                render_web_config(web, config_dir=config_dir, password_hash=bcrypt_hash(password, key=salt_key))
            )
        )
    else:
        web_config = pulumi.Output.from_input(to_yaml(render_web_config(web, config_dir=config_dir, password_hash=None)))
    files = [File(posixpath.join(config_dir, WEB_CONFIG_NAME), web_config)]
    if web.basic_auth:
        header = secrets.web_password.apply(lambda password: basic_auth_header_value(web.username, password))
        files.append(File(posixpath.join(config_dir, AUTH_HEADER_NAME), header))
    if web.tls:
        files.append(File(posixpath.join(config_dir, TLS_CERT_NAME), secrets.web_tls_cert))
        files.append(File(posixpath.join(config_dir, TLS_KEY_NAME), secrets.web_tls_key))
    return files


def client_files(secrets: Secrets, config_dir: str) -> list[File]:
    web = secrets.web
    files = []
    if web.basic_auth:
        files.append(File(posixpath.join(config_dir, PASSWORD_NAME), secrets.web_password))
    if web.tls:
        files.append(File(posixpath.join(config_dir, TLS_CA_NAME), secrets.web_tls_ca or secrets.web_tls_cert))
    return files
