"""Authentication of Prometheus' and Alertmanager's HTTP endpoints (exporter-toolkit web config).

Pure: a `WebSecurity` (which secrets are set, never their values) in, config documents out;
`bcrypt_hash` is the one function that sees the password, and runs inside an `Output.apply`.

The web config (`--web.config.file`) holds a bcrypt hash of the password. bcrypt salts at
random, and a new hash would change the uploaded file, which replaces the container on every
`pulumi up`; so the salt is derived from the password with a keyed hash (HMAC-SHA256 keyed by
the stack name): the same password gives the same file, another password or stack another salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Optional

import bcrypt

__all__ = [
    "BCRYPT_COST",
    "WebSecurity",
    "basic_auth_header_value",
    "bcrypt_hash",
    "client_auth",
    "healthcheck_command",
    "render_web_config",
]

BCRYPT_COST = 10
# Files a service holds when auth is on, relative to its config directory.
WEB_CONFIG_NAME = "web.yml"
PASSWORD_NAME = "secrets/web-password"
AUTH_HEADER_NAME = "secrets/web-authorization"
TLS_CERT_NAME = "secrets/tls.crt"
TLS_KEY_NAME = "secrets/tls.key"
TLS_CA_NAME = "secrets/ca.crt"

_BCRYPT_ALPHABET = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@dataclass(frozen=True)
class WebSecurity:
    """Whether the HTTP endpoints require basic auth and serve TLS (known at preview)."""

    basic_auth: bool = False
    tls: bool = False
    username: str = "monstack"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


def _salt(password: str, key: str) -> bytes:
    """A bcrypt salt (`$2b$<cost>$` + 22 characters) derived from the password."""
    digest = hmac.new(key.encode(), password.encode(), hashlib.sha256).digest()[:16]
    # bcrypt's base64: the standard alphabet reordered, no padding; 16 bytes make 22 characters.
    encoded = base64.b64encode(digest).rstrip(b"=").translate(bytes.maketrans(_STD_ALPHABET, _BCRYPT_ALPHABET))
    return b"$2b$%02d$" % BCRYPT_COST + encoded


def bcrypt_hash(password: str, *, key: str) -> str:
    """The bcrypt hash of `password`, the same for the same password and key."""
    if not password:
        raise ValueError("the password is empty")
    if len(password.encode()) > 72:
        raise ValueError("the password is longer than bcrypt's 72 bytes")
    return bcrypt.hashpw(password.encode(), _salt(password, key)).decode()


def basic_auth_header_value(username: str, password: str) -> str:
    """`Basic <base64>`, for the healthcheck, which reads it from a file inside the container."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def render_web_config(web: WebSecurity, *, config_dir: str, password_hash: Optional[str]) -> dict:
    """The `--web.config.file` document; `password_hash` is required when basic auth is on."""
    document: dict = {}
    if web.tls:
        document["tls_server_config"] = {
            "cert_file": f"{config_dir}/{TLS_CERT_NAME}",
            "key_file": f"{config_dir}/{TLS_KEY_NAME}",
            "min_version": "TLS12",
        }
    if web.basic_auth:
        if not password_hash:
            raise ValueError("basic auth is on but no password hash was given")
        document["basic_auth_users"] = {web.username: password_hash}
    return document


def client_auth(web: WebSecurity, *, config_dir: str, server_name: str) -> dict:
    """What a Prometheus HTTP client (scrape job, alertmanagers entry) needs to talk to an
    endpoint of this stack: scheme, basic auth with a password file, TLS verified by the CA."""
    section: dict = {}
    if web.tls:
        section["scheme"] = "https"
        section["tls_config"] = {"ca_file": f"{config_dir}/{TLS_CA_NAME}", "server_name": server_name}
    if web.basic_auth:
        section["basic_auth"] = {"username": web.username, "password_file": f"{config_dir}/{PASSWORD_NAME}"}
    return section


def healthcheck_command(web: WebSecurity, *, config_dir: str, port: int, path: str) -> list[str]:
    """A busybox-wget healthcheck that sends the credentials read from a file in the container,
    so that `docker inspect` shows the file's path and never the password."""
    url = f"{web.scheme}://127.0.0.1:{port}{path}"
    if not web.basic_auth and not web.tls:
        return ["CMD", "wget", "-q", "-O", "/dev/null", url]
    # The loopback probe checks liveness, not the certificate (which names the service, not 127.0.0.1).
    flags = "--no-check-certificate " if web.tls else ""
    header = f'--header "Authorization: $(cat {config_dir}/{AUTH_HEADER_NAME})" ' if web.basic_auth else ""
    return ["CMD", "sh", "-c", f"wget -q -O /dev/null {flags}{header}{url}"]
