"""The files web auth needs inside a container, as uploads whose content stays a Pulumi secret.

A server (Prometheus, Alertmanager) gets its `--web.config.file` (holding a bcrypt hash of the
password, never the password), the `Authorization` header value its own healthcheck sends, and
its certificate and key; a client (Prometheus towards Alertmanager and itself, Grafana) gets the
password file and the CA.  None of these values appears in `docker inspect`: uploads are not
part of a container's configuration.
"""

from __future__ import annotations

import posixpath

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

__all__ = ["client_uploads", "server_uploads", "web_config_flag"]


def _upload(config_dir: str, name: str, content: pulumi.Input[str]) -> docker.ContainerUploadArgs:
    return docker.ContainerUploadArgs(file=posixpath.join(config_dir, name), content=pulumi.Output.secret(content))


def web_config_flag(secrets: Secrets, config_dir: str) -> list[str]:
    web = secrets.web
    return [f"--web.config.file={posixpath.join(config_dir, WEB_CONFIG_NAME)}"] if (web.basic_auth or web.tls) else []


def server_uploads(secrets: Secrets, config_dir: str, *, salt_key: str) -> list[docker.ContainerUploadArgs]:
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
    uploads = [_upload(config_dir, WEB_CONFIG_NAME, web_config)]
    if web.basic_auth:
        header = secrets.web_password.apply(lambda password: basic_auth_header_value(web.username, password))
        uploads.append(_upload(config_dir, AUTH_HEADER_NAME, header))
    if web.tls:
        uploads.append(_upload(config_dir, TLS_CERT_NAME, secrets.web_tls_cert))
        uploads.append(_upload(config_dir, TLS_KEY_NAME, secrets.web_tls_key))
    return uploads


def client_uploads(secrets: Secrets, config_dir: str) -> list[docker.ContainerUploadArgs]:
    web = secrets.web
    uploads = []
    if web.basic_auth:
        uploads.append(_upload(config_dir, PASSWORD_NAME, secrets.web_password))
    if web.tls:
        uploads.append(_upload(config_dir, TLS_CA_NAME, secrets.web_tls_ca or secrets.web_tls_cert))
    return uploads
