"""alertmanager.yml, rendered from the settings: receivers, the routing tree, inhibition.

Pure: settings in, a dict out.  Credentials are never in the document: each receiver that has
one names a file (`*_file` fields) which the component uploads from the secret.
Everything here is accepted by Alertmanager 0.25 (Debian's amtool checks it) and by the pinned
v0.34, except a webhook with `credential: url` (`url_file`, 0.26 or later).
"""

from __future__ import annotations

from catalogue.prometheus import TARGET_DOWN as TARGET_DOWN_ALERT
from catalogue.prometheus import WATCHDOG as WATCHDOG_ALERT

from .alerting_settings import (
    DISCARD_RECEIVER,
    SEVERITIES,
    AlertmanagerSettings,
    EmailReceiver,
    PagerdutyReceiver,
    SlackReceiver,
    WebhookReceiver,
)

__all__ = [
    "ALERTMANAGER_CONFIG_DIR",
    "ALERTMANAGER_CONFIG_FILE",
    "DISCARD_RECEIVER",
    "INHIBIT_EQUAL_SAME_ALERT",
    "INHIBIT_EQUAL_SAME_TARGET",
    "WATCHDOG_ALERT",
    "receiver_credentials",
    "render_alertmanager_config",
    "receiver_secret_file",
]

ALERTMANAGER_CONFIG_DIR = "/etc/alertmanager"
ALERTMANAGER_CONFIG_FILE = f"{ALERTMANAGER_CONFIG_DIR}/alertmanager.yml"
INHIBIT_EQUAL_SAME_ALERT = ("alertname", "instance")
INHIBIT_EQUAL_SAME_TARGET = ("job", "instance")


def receiver_secret_file(name: str) -> str:
    """Where the credential of receiver `name` is uploaded inside the Alertmanager container."""
    return f"{ALERTMANAGER_CONFIG_DIR}/secrets/receiver-{name}"


def _webhook(receiver: WebhookReceiver) -> dict:
    config: dict = {"send_resolved": receiver.send_resolved, "max_alerts": receiver.max_alerts}
    if receiver.credential_kind == "url":
        config["url_file"] = receiver_secret_file(receiver.name)
    else:
        config["url"] = receiver.url
    if receiver.credential_kind == "bearer":
        config["http_config"] = {
            "authorization": {"type": "Bearer", "credentials_file": receiver_secret_file(receiver.name)}
        }
    return {"webhook_configs": [config]}


def _slack(receiver: SlackReceiver) -> dict:
    config = {
        "send_resolved": receiver.send_resolved,
        "api_url_file": receiver_secret_file(receiver.name),
        "title": '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
        "{{ .CommonLabels.alertname }} ({{ .CommonLabels.job }})",
        "text": "{{ range .Alerts }}*{{ .Annotations.summary }}* ({{ .Labels.severity }})\n"
        "{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}",
    }
    if receiver.channel:
        config["channel"] = receiver.channel
    return {"slack_configs": [config]}


def _email(receiver: EmailReceiver) -> dict:
    config: dict = {
        "send_resolved": receiver.send_resolved,
        "to": ", ".join(receiver.to),
        "from": receiver.from_,
        "smarthost": receiver.smarthost,
        "require_tls": receiver.require_tls,
    }
    if receiver.auth_username:
        config["auth_username"] = receiver.auth_username
        config["auth_password_file"] = receiver_secret_file(receiver.name)
    return {"email_configs": [config]}


def _pagerduty(receiver: PagerdutyReceiver) -> dict:
    return {
        "pagerduty_configs": [
            {
                "send_resolved": receiver.send_resolved,
                "routing_key_file": receiver_secret_file(receiver.name),
                "severity": "{{ if .CommonLabels.severity }}{{ .CommonLabels.severity }}{{ else }}error{{ end }}",
                "description": "{{ .CommonAnnotations.summary }}",
                "details": {
                    "firing": "{{ .Alerts.Firing | len }}",
                    "description": "{{ .CommonAnnotations.description }}",
                    "runbook_url": "{{ .CommonAnnotations.runbook_url }}",
                },
            }
        ]
    }


_RENDER = {"webhook": _webhook, "slack": _slack, "email": _email, "pagerduty": _pagerduty}


def _route(receiver: str, matchers: list[str], *, last: bool, **timing: str) -> dict:
    route = {"receiver": receiver, "matchers": matchers, **timing}
    if not last:
        route["continue"] = True
    return route


def _routes(am: AlertmanagerSettings) -> list[dict]:
    """Watchdog first (it must reach the dead man's switch and nothing else), then one route per
    receiver of each severity; a severity with several receivers notifies each (`continue`)."""
    route = am.route
    routes = [
        {
            "receiver": route.watchdog or DISCARD_RECEIVER,
            "matchers": [f'alertname="{WATCHDOG_ALERT}"'],
            "group_wait": "0s",
            "group_interval": route.watchdog_repeat_interval,
            "repeat_interval": route.watchdog_repeat_interval,
        }
    ]
    for severity in SEVERITIES:
        receivers = getattr(route, severity)
        for index, name in enumerate(receivers):
            routes.append(_route(name, [f'severity="{severity}"'], last=index == len(receivers) - 1))
    return routes


def _inhibit_rules() -> list[dict]:
    return [
        # A critical alert silences the warning of the same alert on the same instance.
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": list(INHIBIT_EQUAL_SAME_ALERT),
        },
        # A target that cannot be scraped silences the other alerts about it: they would all
        # be symptoms (absent series, stale values) of the one cause.
        {
            "source_matchers": [f'alertname="{TARGET_DOWN_ALERT}"'],
            "target_matchers": [f'alertname!~"{TARGET_DOWN_ALERT}|{WATCHDOG_ALERT}"'],
            "equal": list(INHIBIT_EQUAL_SAME_TARGET),
        },
    ]


def render_alertmanager_config(am: AlertmanagerSettings) -> dict:
    route = am.route
    receivers = [{"name": receiver.name, **_RENDER[receiver.type](receiver)} for receiver in am.receivers]
    receivers.append({"name": DISCARD_RECEIVER})
    return {
        "global": {"resolve_timeout": am.resolve_timeout},
        "route": {
            "receiver": route.default or DISCARD_RECEIVER,
            "group_by": list(route.group_by),
            "group_wait": route.group_wait,
            "group_interval": route.group_interval,
            "repeat_interval": route.repeat_interval,
            "routes": _routes(am),
        },
        "inhibit_rules": _inhibit_rules(),
        "receivers": receivers,
    }


def receiver_credentials(am: AlertmanagerSettings) -> dict[str, str]:
    """Receiver name -> what its secret holds, for every receiver that needs one."""
    return {r.name: r.credential() for r in am.receivers if r.credential() is not None}
