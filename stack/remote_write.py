"""Remote write: the settings of each endpoint and their pure rendering into Prometheus' config.

A stack may send every sample it scrapes to long-term storage (Mimir, Thanos Receive,
VictoriaMetrics, a central Prometheus with `--web.enable-remote-write-receiver`).  Each endpoint
is named; its credential (a basic-auth password or a bearer token) is a Pulumi secret under
`monstack:remoteWriteCredentials` (a secret JSON object, endpoint name -> credential), delivered
to Prometheus as a file (`password_file`, `authorization.credentials_file`), never in the config
text, an environment variable or `docker inspect`.

No Pulumi here: models in, dicts out.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "CREDENTIALS_KEY",
    "REMOTE_WRITE_SECRETS_DIR",
    "QueueSettings",
    "RelabelRule",
    "RemoteWriteEndpoint",
    "credential_file",
    "render_remote_write",
    "validate_external_labels",
]

# The secret config key holding every endpoint's credential (JSON object: name -> credential).
CREDENTIALS_KEY = "remoteWriteCredentials"
# Where the credential files live inside the Prometheus container.
REMOTE_WRITE_SECRETS_DIR = "/etc/prometheus/secrets"

_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ENDPOINT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# Prometheus durations as `queue_config` accepts them.
_DURATION_RE = re.compile(r"^(?:\d+(?:ms|s|m|h))+$")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True, hide_input_in_errors=True
    )


def _label_name(value: str) -> str:
    if not _LABEL_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    return value


def _endpoint_name(value: str) -> str:
    if not _ENDPOINT_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not an endpoint name (lower-case letters, digits, '-'; at most 63)")
    return value


def _duration(value: str) -> str:
    if not _DURATION_RE.match(value):
        raise ValueError(f"{value!r} is not a duration (examples: 100ms, 5s, 1m)")
    return value


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL (example: https://mimir.example.com/api/v1/push)")
    if parts.username or parts.password:
        raise ValueError("the URL must not carry credentials; use auth and monstack:remoteWriteCredentials")
    return value


LabelName = Annotated[str, AfterValidator(_label_name)]
PromDuration = Annotated[str, AfterValidator(_duration)]


class QueueSettings(_Model):
    """`queue_config` of one endpoint; unset fields keep Prometheus' defaults."""

    capacity: Optional[Annotated[int, Field(ge=1)]] = None
    max_shards: Optional[Annotated[int, Field(ge=1)]] = None
    min_shards: Optional[Annotated[int, Field(ge=1)]] = None
    max_samples_per_send: Optional[Annotated[int, Field(ge=1)]] = None
    batch_send_deadline: Optional[PromDuration] = None
    min_backoff: Optional[PromDuration] = None
    max_backoff: Optional[PromDuration] = None

    @model_validator(mode="after")
    def _shards(self) -> "QueueSettings":
        if self.min_shards and self.max_shards and self.min_shards > self.max_shards:
            raise ValueError("minShards must not exceed maxShards")
        return self


_ACTIONS = ("replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase")


class RelabelRule(_Model):
    """One `write_relabel_configs` rule (Prometheus' relabel_config, camelCase keys)."""

    source_labels: Optional[list[LabelName]] = None
    separator: Optional[str] = None
    regex: Optional[str] = None
    modulus: Optional[Annotated[int, Field(ge=1)]] = None
    target_label: Optional[str] = None
    replacement: Optional[str] = None
    action: Literal[_ACTIONS] = "replace"  # type: ignore[valid-type]

    def render(self) -> dict:
        return self.model_dump(exclude_none=True, by_alias=False)


class RemoteWriteAuth(_Model):
    """How the endpoint authenticates us; the secret itself is in monstack:remoteWriteCredentials."""

    type: Literal["basic", "bearer"]
    username: Optional[Annotated[str, Field(min_length=1, max_length=256)]] = None

    @model_validator(mode="after")
    def _username(self) -> "RemoteWriteAuth":
        if self.type == "basic" and not self.username:
            raise ValueError("basic auth needs a username")
        if self.type == "bearer" and self.username:
            raise ValueError("bearer auth takes no username")
        return self


class RemoteWriteEndpoint(_Model):
    name: Annotated[str, AfterValidator(_endpoint_name)]
    url: Annotated[str, AfterValidator(_url)]
    auth: Optional[RemoteWriteAuth] = None
    remote_timeout: Optional[PromDuration] = None
    queue: QueueSettings = QueueSettings()
    write_relabel_configs: list[RelabelRule] = []
    # TLS is verified unless the endpoint is plain http; no setting turns verification off.


def credential_file(endpoint: RemoteWriteEndpoint) -> str:
    """The path of the endpoint's credential file inside the Prometheus container."""
    return f"{REMOTE_WRITE_SECRETS_DIR}/remote-write-{endpoint.name}"


def render_remote_write(endpoints: list[RemoteWriteEndpoint], *, secrets_dir: str = REMOTE_WRITE_SECRETS_DIR) -> list[dict]:
    """The `remote_write` section: one entry per endpoint, credentials by file path only."""
    rendered = []
    for endpoint in endpoints:
        entry: dict = {"name": endpoint.name, "url": endpoint.url}
        path = f"{secrets_dir}/remote-write-{endpoint.name}"
        if endpoint.auth and endpoint.auth.type == "basic":
            entry["basic_auth"] = {"username": endpoint.auth.username, "password_file": path}
        elif endpoint.auth and endpoint.auth.type == "bearer":
            entry["authorization"] = {"type": "Bearer", "credentials_file": path}
        if endpoint.remote_timeout:
            entry["remote_timeout"] = endpoint.remote_timeout
        queue = endpoint.queue.model_dump(exclude_none=True, by_alias=False)
        if queue:
            entry["queue_config"] = queue
        if endpoint.write_relabel_configs:
            entry["write_relabel_configs"] = [rule.render() for rule in endpoint.write_relabel_configs]
        rendered.append(entry)
    return rendered


def validate_external_labels(labels: dict[str, str]) -> dict[str, str]:
    for name, value in labels.items():
        _label_name(name)
        if name.startswith("__"):
            raise ValueError(f"external label {name!r}: names starting with '__' are reserved")
        if not isinstance(value, str) or not value:
            raise ValueError(f"external label {name!r} needs a non-empty string value")
    return labels
