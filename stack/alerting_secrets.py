"""Checks of the alerting secrets at preview, and the web security they switch on.

Pure: the settings and the decrypted values of the secret keys in, problems (one line each,
naming the full config key) out.  No message ever contains a secret's value.

- `monstack:alertmanagerSecrets`: an object, receiver name -> its credential (the Slack
  webhook URL, the SMTP password, the PagerDuty routing key, the webhook token or URL);
  `pulumi config set --secret --path 'monstack:alertmanagerSecrets.<receiver>' VALUE`.
- `monstack:webPassword`: the basic-auth password of Prometheus and Alertmanager; required when
  `bindAddress` is not a loopback address.
- `monstack:webTlsCert`, `monstack:webTlsKey` (PEM): serve HTTPS; `monstack:webTlsCa`: the CA
  that signed the certificate (default: the certificate itself, for a self-signed one).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Mapping

import catalogue

from .alerting_settings import is_loopback
from .alertmanager_config import receiver_credentials
from .settings import Settings
from .webauth import WebSecurity

__all__ = ["RECEIVER_SECRETS_KEY", "alerting_problems", "receiver_secret_values", "web_security"]

NAMESPACE = "monstack"
RECEIVER_SECRETS_KEY = "alertmanagerSecrets"
WEB_PASSWORD_KEY = "webPassword"
WEB_TLS_CERT_KEY = "webTlsCert"
WEB_TLS_KEY_KEY = "webTlsKey"
WEB_TLS_CA_KEY = "webTlsCa"
MIN_WEB_PASSWORD_LENGTH = 12


def receiver_secret_values(raw: Any) -> dict:
    """The alertmanagerSecrets object (config values arrive as JSON text)."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("not a JSON object") from None
    if not isinstance(raw, dict):
        raise ValueError("must be an object: receiver name -> credential")
    return raw


def web_security(settings: Settings, secrets: Mapping[str, Any]) -> WebSecurity:
    return WebSecurity(
        basic_auth=bool(secrets.get(WEB_PASSWORD_KEY)),
        tls=bool(secrets.get(WEB_TLS_CERT_KEY)),
        username=settings.web_auth.username,
    )


def _credential_problem(kind: str, value: str) -> str:
    if not value.strip() or value != value.strip() or "\n" in value:
        return "must be a non-empty single line without surrounding spaces"
    if kind in ("slack", "url"):
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in (("https",) if kind == "slack" else ("http", "https")) or not parts.hostname:
            return "must be an https:// URL" if kind == "slack" else "must be an http:// or https:// URL"
    return ""


def _receiver_problems(settings: Settings, raw: Any) -> list[str]:
    key = f"{NAMESPACE}:{RECEIVER_SECRETS_KEY}"
    try:
        values = receiver_secret_values(raw)
    except ValueError as err:
        return [f"{key}: {err}"]
    am = settings.alertmanager
    needed = receiver_credentials(am) if am.enabled else {}
    problems = []
    for name, what in needed.items():
        value = values.get(name)
        if not isinstance(value, str) or not value:
            problems.append(
                f"{key}.{name}: required: {what} of receiver '{name}' "
                f"(pulumi config set --secret --path '{key}.{name}' ...)"
            )
            continue
        receiver = am.receiver(name)
        kind = "url" if receiver.type == "webhook" and receiver.credential_kind == "url" else receiver.type
        problem = _credential_problem(kind, value)
        if problem:
            problems.append(f"{key}.{name}: {problem} ({what})")
    for name in sorted(set(values) - set(needed)):
        problems.append(f"{key}.{name}: no enabled receiver named '{name}' takes a secret")
    return problems


def _web_problems(settings: Settings, secrets: Mapping[str, Any]) -> list[str]:
    problems = []
    password = secrets.get(WEB_PASSWORD_KEY)
    if settings.platform == "swarm":
        # A published Swarm port answers on every address of the node (swarm.publish).
        exposed, why = settings.swarm.publish, f"{NAMESPACE}:swarm.publish is true (Swarm publishes on every address of the node)"
    else:
        exposed, why = not is_loopback(settings.bind_address), f"{NAMESPACE}:bindAddress {settings.bind_address} is not a loopback address"
    if exposed and not password:
        problems.append(
            f"{NAMESPACE}:{WEB_PASSWORD_KEY}: required because {why}: Prometheus and Alertmanager must not "
            f"answer the network without authentication (pulumi config set --secret {NAMESPACE}:{WEB_PASSWORD_KEY} ...)"
        )
    if password is not None:
        if not isinstance(password, str) or len(password) < MIN_WEB_PASSWORD_LENGTH:
            problems.append(f"{NAMESPACE}:{WEB_PASSWORD_KEY}: must be at least {MIN_WEB_PASSWORD_LENGTH} characters")
        elif len(password.encode()) > 72:
            problems.append(f"{NAMESPACE}:{WEB_PASSWORD_KEY}: must be at most 72 bytes (bcrypt's limit)")
    cert, key, ca = (secrets.get(k) for k in (WEB_TLS_CERT_KEY, WEB_TLS_KEY_KEY, WEB_TLS_CA_KEY))
    if bool(cert) != bool(key):
        missing = WEB_TLS_KEY_KEY if cert else WEB_TLS_CERT_KEY
        problems.append(f"{NAMESPACE}:{missing}: required with {WEB_TLS_CERT_KEY if key else WEB_TLS_KEY_KEY} (HTTPS needs both)")
    if ca and not cert:
        problems.append(f"{NAMESPACE}:{WEB_TLS_CA_KEY}: set only with {WEB_TLS_CERT_KEY} and {WEB_TLS_KEY_KEY}")
    for name, value in ((WEB_TLS_CERT_KEY, cert), (WEB_TLS_KEY_KEY, key), (WEB_TLS_CA_KEY, ca)):
        if value and "-----BEGIN " not in str(value):
            problems.append(f"{NAMESPACE}:{name}: not PEM text (-----BEGIN ...)")
    return problems


def alerting_problems(settings: Settings, secrets: Mapping[str, Any]) -> list[str]:
    """Every problem of the alerting settings that needs the secrets (or the rules) to see."""
    problems = _receiver_problems(settings, secrets.get(RECEIVER_SECRETS_KEY))
    problems += _web_problems(settings, secrets)
    known = {rule.name for rule in catalogue.alert_rules(settings)}
    for name in sorted(set(settings.alert_rules.for_overrides) - known):
        problems.append(f"{NAMESPACE}:alertRules.forOverrides.{name}: no alert rule is named '{name}'")
    return problems
