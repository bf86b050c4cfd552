"""Settings of alerting: Alertmanager, its receivers and routes, the alert rules' knobs, web auth.

Plain values only. A receiver's credential (Slack URL, SMTP password, PagerDuty routing key,
webhook token) is never a field here: it is an entry of the secret config object
`monstack:alertmanagerSecrets`, keyed by the receiver's name (see `stack.config`), and reaches
Alertmanager as a file (`stack.alertmanager_config.receiver_secret_file`).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Annotated, Literal, Optional, Union

from pydantic import AfterValidator, Field, model_validator

from .settings_types import DockerName, Duration, Image, MemoryMb, Port, _Model, parse_duration_seconds

__all__ = [
    "AlertRulesSettings",
    "DISCARD_RECEIVER",
    "AlertmanagerSettings",
    "EmailReceiver",
    "PagerdutyReceiver",
    "RECEIVER_TYPES",
    "Receiver",
    "RoutingSettings",
    "SEVERITIES",
    "SlackReceiver",
    "WebAuthSettings",
    "WebhookReceiver",
    "is_loopback",
]

# A receiver with no integration (see stack.alertmanager_config); a reserved name.
DISCARD_RECEIVER = "discard"

# The severities every rule carries, most urgent first; each has a route of its own.
SEVERITIES = ("critical", "warning", "info")

_RECEIVER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _receiver_name(value: str) -> str:
    if not _RECEIVER_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a receiver name (lower-case letters, digits and '-', at most 63)")
    return value


def _plain_http_url(value: str) -> str:
    """An http(s) URL that holds no credential: no user info, no query string."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http:// or https:// URL")
    if parts.username or parts.password or parts.query:
        raise ValueError(
            "must not hold credentials (user info or a query string): put the token in the secret "
            "monstack:alertmanagerSecrets (credential 'bearer', or 'url' for the whole URL)"
        )
    return value


_EMAIL_RE = re.compile(r"^[^@\s<>,]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")


def _email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError(f"{value!r} is not an e-mail address (example: oncall@example.com)")
    return value


_HOST_PORT_RE = re.compile(r"^(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(?P<port>[0-9]{1,5})$")


def _smarthost(value: str) -> str:
    match = _HOST_PORT_RE.match(value)
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise ValueError(f"{value!r} is not host:port of an SMTP server (example: smtp.example.com:587)")
    return value


ReceiverName = Annotated[str, AfterValidator(_receiver_name)]
PlainUrl = Annotated[str, AfterValidator(_plain_http_url)]
EmailAddress = Annotated[str, AfterValidator(_email)]
SmartHost = Annotated[str, AfterValidator(_smarthost)]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


# --- receivers ----------------------------------------------------------------------------------


class _Receiver(_Model):
    name: ReceiverName
    send_resolved: bool = True

    # What the receiver's entry in monstack:alertmanagerSecrets holds; None: it has none.
    def credential(self) -> Optional[str]:
        raise NotImplementedError


class WebhookReceiver(_Receiver):
    """POSTs Alertmanager's JSON to `url`; a token goes in the secret, never in the URL."""

    type: Literal["webhook"]
    url: Optional[PlainUrl] = None
    # none: no secret; bearer: the secret is a token sent as `Authorization: Bearer`;
    # url: the secret is the whole URL (`url_file`, Alertmanager 0.26 or later).
    credential_kind: Literal["none", "bearer", "url"] = Field("none", alias="credential")
    max_alerts: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _url_or_secret(self) -> "WebhookReceiver":
        if self.credential_kind == "url" and self.url is not None:
            raise ValueError("url must be unset when credential is 'url' (the secret holds the URL)")
        if self.credential_kind != "url" and self.url is None:
            raise ValueError("url is required (or set credential 'url' and keep the URL in the secret)")
        return self

    def credential(self) -> Optional[str]:
        return {"none": None, "bearer": "a bearer token", "url": "the webhook URL"}[self.credential_kind]


class SlackReceiver(_Receiver):
    """A Slack incoming webhook; its URL (the credential) is the secret."""

    type: Literal["slack"]
    channel: Optional[Annotated[str, Field(pattern=r"^[#@]?[A-Za-z0-9._-]{1,80}$")]] = None

    def credential(self) -> Optional[str]:
        return "the Slack incoming-webhook URL"


class EmailReceiver(_Receiver):
    """Mail through an SMTP relay; the SMTP password (when authUsername is set) is the secret."""

    type: Literal["email"]
    to: Annotated[list[EmailAddress], Field(min_length=1)]
    from_: EmailAddress = Field(alias="from")
    smarthost: SmartHost
    auth_username: Optional[Annotated[str, Field(min_length=1, max_length=256)]] = None
    require_tls: bool = True
    send_resolved: bool = False

    def credential(self) -> Optional[str]:
        return "the SMTP password" if self.auth_username else None


class PagerdutyReceiver(_Receiver):
    """PagerDuty Events API v2; the integration's routing key is the secret."""

    type: Literal["pagerduty"]

    def credential(self) -> Optional[str]:
        return "the PagerDuty Events API v2 routing key"


RECEIVER_TYPES = ("webhook", "slack", "email", "pagerduty")

Receiver = Annotated[
    Union[WebhookReceiver, SlackReceiver, EmailReceiver, PagerdutyReceiver], Field(discriminator="type")
]


# --- routing ------------------------------------------------------------------------------------


class RoutingSettings(_Model):
    """Where alerts go: one list of receivers per severity, a catch-all, and the dead man's switch."""

    group_by: Annotated[list[LabelName], Field(min_length=1)] = ["alertname", "job"]
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"
    critical: list[ReceiverName] = []
    warning: list[ReceiverName] = []
    info: list[ReceiverName] = []
    # Alerts no severity route took (for example a rule without a known severity).
    default: Optional[ReceiverName] = None
    # The receiver of the always-firing Watchdog alert: an external dead man's switch that
    # pages when the notifications stop.
    watchdog: Optional[ReceiverName] = None
    watchdog_repeat_interval: Duration = "5m"

    @model_validator(mode="after")
    def _intervals(self) -> "RoutingSettings":
        if parse_duration_seconds(self.repeat_interval) < parse_duration_seconds(self.group_interval):
            raise ValueError("repeatInterval must not be shorter than groupInterval")
        for severity in SEVERITIES:
            names = getattr(self, severity)
            if len(set(names)) != len(names):
                raise ValueError(f"{severity} lists a receiver twice")
        return self

    def referenced(self) -> dict[str, str]:
        """Each receiver name a route uses, with the setting that uses it."""
        used = {}
        for severity in SEVERITIES:
            for index, name in enumerate(getattr(self, severity)):
                used.setdefault(name, f"{severity}[{index}]")
        for key in ("default", "watchdog"):
            if getattr(self, key):
                used.setdefault(getattr(self, key), key)
        return used


class AlertmanagerSettings(_Model):
    enabled: bool = True
    image: Image = "prom/alertmanager:v0.34.0"
    port: Port = 9093
    memory_mb: MemoryMb = 128
    volume_name: Optional[DockerName] = None
    # How long silences and the notification log are kept (--data.retention).
    retention: Duration = "120h"
    resolve_timeout: Duration = "5m"
    receivers: list[Receiver] = []
    route: RoutingSettings = RoutingSettings()

    @model_validator(mode="after")
    def _receivers_exist(self) -> "AlertmanagerSettings":
        names = [receiver.name for receiver in self.receivers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"receivers: the name {duplicates[0]!r} is used twice")
        if DISCARD_RECEIVER in names:
            raise ValueError(f"receivers: the name {DISCARD_RECEIVER!r} is reserved (the receiver that sends nothing)")
        for name, where in self.route.referenced().items():
            if name not in names:
                raise ValueError(
                    f"route.{where}: no receiver is named {name!r} (receivers: {', '.join(names) or 'none'})"
                )
        return self

    def receiver(self, name: str) -> Union[WebhookReceiver, SlackReceiver, EmailReceiver, PagerdutyReceiver]:
        return next(receiver for receiver in self.receivers if receiver.name == name)


class AlertRulesSettings(_Model):
    """Knobs of the alert rules: where runbooks live, and shorter `for` durations for tests."""

    runbook_base_url: Annotated[str, Field(pattern=r"^https?://\S+$")] = (
        "https://github.com/monstack/monstack/blob/main/docs/runbooks.md"
    )
    # alert name -> `for` duration replacing the rule's own (the ci stack shortens TargetDown's).
    for_overrides: dict[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")], Duration] = {}


class WebAuthSettings(_Model):
    """The user name of Prometheus' and Alertmanager's basic auth (the password is the secret
    monstack:webPassword).  Auth is on whenever that secret is set, and required when
    bindAddress is not a loopback address."""

    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")] = "monstack"
