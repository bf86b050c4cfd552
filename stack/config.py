"""Reading the `monstack:` config namespace into `Settings` and secret Outputs.

All problems are reported together in one `pulumi.RunError` whose lines name the full
config key (`monstack:prometheus.retentionTime`) and what is wrong with it, before any
resource is registered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi
from pydantic import ValidationError

from catalogue.mongodb_uri import MongoUriError, parse_mongodb_uri

from .alerting_secrets import RECEIVER_SECRETS_KEY, alerting_problems, receiver_secret_values, web_security
from .alerting_settings import RECEIVER_TYPES
from .alertmanager_config import receiver_credentials
from .remote_write import CREDENTIALS_KEY
from .settings import SECRET_KEYS, Settings
from .sizing import sizing_warnings
from .webauth import WebSecurity

__all__ = ["NAMESPACE", "ConfigError", "Secrets", "load", "settings_from_mapping"]

NAMESPACE = "monstack"


class ConfigError(pulumi.RunError):
    """A config value is wrong; the message names every bad key."""

    @classmethod
    def listing(cls, problems: list[str]) -> "ConfigError":
        """One error for all problems, one `  key: what is wrong` line each."""
        return cls("invalid stack configuration:\n" + "\n".join(f"  {problem}" for problem in problems))


@dataclass(frozen=True)
class Secrets:
    """Secret config values, as Pulumi secret Outputs (None when not set)."""

    grafana_admin_password: Optional[pulumi.Output[str]]
    mongodb_uri: Optional[pulumi.Output[str]]
    # remote-write endpoint name -> its password or bearer token
    remote_write_credentials: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    # Not secret: whether the URI names one host the exporter may connect to directly.
    mongodb_direct_connect: bool = True
    # Receiver name -> its credential (see stack.alerting_secrets).
    receiver_credentials: dict = field(default_factory=dict)
    web_password: Optional[pulumi.Output[str]] = None
    web_tls_cert: Optional[pulumi.Output[str]] = None
    web_tls_key: Optional[pulumi.Output[str]] = None
    web_tls_ca: Optional[pulumi.Output[str]] = None
    # Which of the web secrets are set (no values): basic auth and TLS on or off.
    web: WebSecurity = WebSecurity()


_NESTED_KEY_RE = re.compile(r"^(?P<key>[a-z][A-Za-z0-9]*(?:\[[0-9]+\]|\.[a-z][A-Za-z0-9]*)*): (?P<message>.*)$", re.S)


def remote_write_credentials(settings: Settings, raw: Any) -> dict[str, str]:
    """The credential of every endpoint that authenticates, checked against remoteWrite.

    `raw` is the secret's value (a JSON object text or a mapping) or None.  Raises ConfigError
    naming the key; the message never contains a credential.
    """
    key = f"{NAMESPACE}:{CREDENTIALS_KEY}"
    if raw is None:
        values: dict = {}
    else:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError(f"{key}: not a JSON object of endpoint name -> credential") from None
        if not isinstance(raw, Mapping) or not all(isinstance(v, str) and v for v in raw.values()):
            raise ConfigError(f"{key}: must be a JSON object of endpoint name -> non-empty string")
        values = dict(raw)
    needed = {endpoint.name for endpoint in settings.remote_write if endpoint.auth}
    problems = [
        f"{key}: no credential for remoteWrite endpoint {name!r} "
        f"(pulumi config set --secret --path '{key}.{name}' ...)"
        for name in sorted(needed - values.keys())
    ]
    problems += [f"{key}: {name!r} is not a remoteWrite endpoint with auth" for name in sorted(values.keys() - needed)]
    if problems:
        raise ConfigError.listing(problems)
    return values


def _key_path(loc: tuple) -> str:
    # A receiver's errors carry its `type` after the list index (pydantic's discriminated
    # union); the user wrote `receivers[0].url`, not `receivers[0].webhook.url`.
    loc = tuple(
        part
        for index, part in enumerate(loc)
        if not (index and isinstance(loc[index - 1], int) and part in RECEIVER_TYPES)
    )
    head, *rest = [str(part) for part in loc] or ["(root)"]
    path = f"{NAMESPACE}:{head}"
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _decode(key: str, value: Any) -> Any:
    """Config values arrive as strings; objects and lists as JSON text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{NAMESPACE}:{key}: not valid JSON ({err.msg} at column {err.colno})") from None
    return value


def settings_from_mapping(raw: Mapping[str, Any], *, default_name: str = "monstack") -> Settings:
    """Validate plain (non-secret) config values, keyed without the namespace."""
    values = {key: _decode(key, value) for key, value in raw.items()}
    values.setdefault("name", default_name)
    try:
        return Settings.model_validate(values)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting (check the spelling; see README 'Settings')"
            loc = tuple(error["loc"])
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc += ("type",)  # a receiver's `type` is missing or unknown
            # A model's own check names the key below it as `sub.key[0]: message`.
            nested = _NESTED_KEY_RE.match(message)
            if nested and error["type"] == "value_error":
                prefix = f"{_key_path(loc)}." if loc else f"{NAMESPACE}:"
                problems.append(f"{prefix}{nested['key']}: {nested['message']}")
                continue
            problems.append(f"{_key_path(loc)}: {message}")
        raise ConfigError.listing(problems) from None


def _namespace_values() -> dict[str, Any]:
    """Every key set under `monstack:`, including ones no code reads (to catch typos)."""
    everything = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix):]: value for key, value in everything.items() if key.startswith(prefix)}


def load() -> tuple[Settings, Secrets]:
    """Read the current stack's settings and secrets; raise ConfigError naming every bad key."""
    raw = _namespace_values()
    problems = []
    for key in SECRET_KEYS:
        if key in raw and not pulumi.runtime.is_config_secret(f"{NAMESPACE}:{key}"):
            problems.append(
                f"{NAMESPACE}:{key}: must be stored as a secret (pulumi config set --secret {NAMESPACE}:{key} ...)"
            )
    if problems:
        raise ConfigError.listing(problems)
    direct_connect = True
    if "mongodbUri" in raw:
        try:
            direct_connect = parse_mongodb_uri(raw["mongodbUri"]).direct_connect
        except MongoUriError as err:
            # The value is a secret: say what is wrong with it, never what it is.
            problems.append(f"{NAMESPACE}:mongodbUri: not a valid MongoDB connection string ({err})")
    if problems:
        raise ConfigError.listing(problems)
    plain = {key: value for key, value in raw.items() if key not in SECRET_KEYS}
    settings = settings_from_mapping(plain, default_name=f"monstack-{pulumi.get_stack()}")
    for warning in sizing_warnings(settings):
        pulumi.log.warn(warning)

    problems = alerting_problems(settings, raw)
    if problems:
        raise ConfigError.listing(problems)

    config = pulumi.Config(NAMESPACE)
    credentials = {}
    if settings.alertmanager.enabled:
        # Values stay Pulumi secrets: each is read from the secret object inside an apply.
        receiver_object = config.get_secret_object(RECEIVER_SECRETS_KEY)
        for name in receiver_credentials(settings.alertmanager):
            credentials[name] = pulumi.Output.secret(
                receiver_object.apply(lambda values, name=name: str(receiver_secret_values(values)[name]))
            )
    remote_write_secrets = remote_write_credentials(settings, raw.get(CREDENTIALS_KEY))
    secrets = Secrets(
        grafana_admin_password=config.get_secret("grafanaAdminPassword"),
        mongodb_uri=config.get_secret("mongodbUri"),
        remote_write_credentials={name: pulumi.Output.secret(value) for name, value in remote_write_secrets.items()},
        mongodb_direct_connect=direct_connect,
        receiver_credentials=credentials,
        web_password=config.get_secret("webPassword"),
        web_tls_cert=config.get_secret("webTlsCert"),
        web_tls_key=config.get_secret("webTlsKey"),
        web_tls_ca=config.get_secret("webTlsCa"),
        web=web_security(settings, raw),
    )
    if settings.mongodb_exporter.enabled and secrets.mongodb_uri is None:
        raise ConfigError.listing(
            [
                f"{NAMESPACE}:mongodbUri: required while mongodbExporter.enabled is true "
                f"(pulumi config set --secret {NAMESPACE}:mongodbUri 'mongodb://user:pass@mongo:27017'), "
                f"or set {NAMESPACE}:mongodbExporter '{{\"enabled\": false}}'"
            ]
        )
    return settings, secrets
