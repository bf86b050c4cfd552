"""Alerting settings and secrets: a wrong receiver, route or web-auth setting fails at preview,
naming the key, and never echoes a secret's value."""

import json

import pytest

from stack.config import ConfigError
from tests.support.pulumi_program import RecordingMocks, run_program
from tests.unit.conftest import MONGODB_URI

SLACK = {"name": "chat", "type": "slack", "channel": "#alerts"}
PAGER = {"name": "pager", "type": "pagerduty"}
MAIL = {"name": "mail", "type": "email", "to": ["oncall@example.com"], "from": "am@example.com", "smarthost": "smtp.example.com:587"}
HOOK = {"name": "hook", "type": "webhook", "url": "http://sink.example.com:8080/alerts"}
SECRET_VALUE = "https://hooks.slack.com/services/T000/B000/very-secret-token"


def alertmanager(*receivers, **route):
    return {"alertmanager": {"receivers": list(receivers), "route": route}}


BAD_CONFIGS = [
    # (config, secrets beyond the MongoDB URI, the key the message must name, a word of what is wrong)
    (alertmanager({**SLACK, "type": "sms"}), {}, "monstack:alertmanager.receivers[0].type", "does not match any of the expected tags"),
    (alertmanager({**SLACK, "channell": "#x"}), {}, "monstack:alertmanager.receivers[0].channell", "unknown setting"),
    (alertmanager({**SLACK, "name": "Team Chat"}), {}, "monstack:alertmanager.receivers[0].name", "not a receiver name"),
    (alertmanager({**HOOK, "url": "http://user:pw@sink/"}), {}, "monstack:alertmanager.receivers[0].url", "must not hold credentials"),
    (alertmanager({**HOOK, "url": "http://sink/?token=abc"}), {}, "monstack:alertmanager.receivers[0].url", "must not hold credentials"),
    (alertmanager({**HOOK, "url": "ftp://sink/"}), {}, "monstack:alertmanager.receivers[0].url", "not an http"),
    (alertmanager({k: v for k, v in HOOK.items() if k != "url"}), {}, "monstack:alertmanager.receivers[0]", "url is required"),
    (alertmanager({**MAIL, "to": ["not-an-address"]}), {}, "monstack:alertmanager.receivers[0].to[0]", "not an e-mail address"),
    (alertmanager({**MAIL, "smarthost": "smtp.example.com"}), {}, "monstack:alertmanager.receivers[0].smarthost", "host:port"),
    (alertmanager(MAIL, {**MAIL}), {}, "monstack:alertmanager.receivers", "used twice"),
    (alertmanager({**HOOK, "name": "discard"}), {}, "monstack:alertmanager.receivers", "reserved"),
    (alertmanager(MAIL, critical=["pager"]), {}, "monstack:alertmanager.route.critical[0]", "no receiver is named 'pager'"),
    (alertmanager(MAIL, watchdog="dms"), {}, "monstack:alertmanager.route.watchdog", "no receiver is named 'dms'"),
    (alertmanager(MAIL, warning=["mail", "mail"]), {}, "monstack:alertmanager.route", "lists a receiver twice"),
    (alertmanager(MAIL, groupInterval="1h", repeatInterval="5m"), {}, "monstack:alertmanager.route", "repeatInterval"),
    (alertmanager(MAIL, groupWait="soon"), {}, "monstack:alertmanager.route.groupWait", "not a Prometheus duration"),
    ({"alertmanager": {"image": "prom/alertmanager:latest"}}, {}, "monstack:alertmanager.image", "not pinned"),
    ({"alertmanager": {"port": 9090}}, {}, "monstack:alertmanager.port", "must differ from prometheus.port"),
    ({"alertRules": {"forOverrides": {"TargetDwn": "10s"}}}, {}, "monstack:alertRules.forOverrides.TargetDwn", "no alert rule"),
    # Secrets: missing, unknown, malformed.
    (alertmanager(SLACK, warning=["chat"]), {}, "monstack:alertmanagerSecrets.chat", "required: the Slack incoming-webhook URL"),
    (alertmanager(PAGER, critical=["pager"]), {}, "monstack:alertmanagerSecrets.pager", "required"),
    (alertmanager({**MAIL, "authUsername": "am"}), {}, "monstack:alertmanagerSecrets.mail", "required: the SMTP password"),
    (alertmanager({**HOOK, "credential": "bearer"}), {}, "monstack:alertmanagerSecrets.hook", "required: a bearer token"),
    (alertmanager(SLACK), {"alertmanagerSecrets": json.dumps({"chat": "http://hooks.slack.com/x"})}, "monstack:alertmanagerSecrets.chat", "https://"),
    (alertmanager(HOOK), {"alertmanagerSecrets": json.dumps({"hook": "token"})}, "monstack:alertmanagerSecrets.hook", "no enabled receiver"),
    ({}, {"alertmanagerSecrets": "[1, 2]"}, "monstack:alertmanagerSecrets", "must be an object"),
    # Web auth.
    ({"bindAddress": "0.0.0.0"}, {}, "monstack:webPassword", "not a loopback address"),
    ({"bindAddress": "192.168.1.10"}, {}, "monstack:webPassword", "required"),
    ({}, {"webPassword": "short"}, "monstack:webPassword", "at least 12"),
    ({}, {"webPassword": "p" * 80}, "monstack:webPassword", "72 bytes"),
    ({}, {"webTlsCert": "-----BEGIN CERTIFICATE-----\n"}, "monstack:webTlsKey", "HTTPS needs both"),
    ({}, {"webTlsKey": "-----BEGIN PRIVATE KEY-----\n"}, "monstack:webTlsCert", "HTTPS needs both"),
    ({}, {"webTlsCert": "cert", "webTlsKey": "-----BEGIN PRIVATE KEY-----\n"}, "monstack:webTlsCert", "not PEM"),
    ({"webAuth": {"username": "a b"}}, {}, "monstack:webAuth.username", "should match pattern"),
]


def run(config, secrets=None, preview=True):
    return run_program(
        config, secrets={"mongodbUri": MONGODB_URI, **(secrets or {})}, mocks=RecordingMocks(), preview=preview
    )


@pytest.mark.parametrize(("config", "secrets", "key", "problem"), BAD_CONFIGS, ids=[f"{c[2]}-{i}" for i, c in enumerate(BAD_CONFIGS)])
def test_a_wrong_alerting_setting_fails_at_preview_naming_the_key(config, secrets, key, problem):
    with pytest.raises(ConfigError) as raised:
        run(config, secrets)
    message = str(raised.value)
    line = next((line for line in message.splitlines() if f"{key}:" in line or f"{key} " in line), None)
    assert line is not None, message
    assert problem in line, message


def test_a_wrong_secret_is_reported_without_its_value():
    with pytest.raises(ConfigError) as raised:
        run(alertmanager({**HOOK, "name": "other"}, SLACK), {"alertmanagerSecrets": json.dumps({"chat": SECRET_VALUE + " ", "hook": SECRET_VALUE})})
    message = str(raised.value)
    assert "monstack:alertmanagerSecrets.chat" in message and "monstack:alertmanagerSecrets.hook" in message
    assert "very-secret-token" not in message


def test_a_plain_text_receiver_secret_is_refused():
    with pytest.raises(ConfigError, match=r"monstack:alertmanagerSecrets: must be stored as a secret"):
        run_program(
            {**alertmanager(SLACK), "alertmanagerSecrets": json.dumps({"chat": SECRET_VALUE})},
            secrets={"mongodbUri": MONGODB_URI},
            mocks=RecordingMocks(),
        )


def test_a_switched_off_alertmanager_needs_no_receiver_secret():
    deployment = run({"alertmanager": {"enabled": False, "receivers": [SLACK], "route": {"warning": ["chat"]}}})
    assert "monstack-dev-alertmanager" not in deployment.containers


def test_a_non_loopback_address_with_a_password_previews():
    deployment = run({"bindAddress": "0.0.0.0"}, {"webPassword": "a long enough password"})
    assert "monstack-dev-alertmanager" in deployment.containers


def test_receiver_credentials_reach_alertmanager_only_as_secret_files(deploy):
    from stack.alertmanager_config import receiver_secret_file

    credentials = {"chat": SECRET_VALUE, "pager": "R0UT1NGKEY0000000000000000000000", "hook": "hook-bearer-token"}
    config = alertmanager(SLACK, PAGER, {**HOOK, "credential": "bearer"}, critical=["pager"], warning=["chat"], info=["hook"])
    deployment = deploy(config, secrets={"mongodbUri": MONGODB_URI, "alertmanagerSecrets": json.dumps(credentials)})
    container = deployment.containers["monstack-dev-alertmanager"]
    uploads = {u["file"]: u["content"] for u in container.inputs["uploads"]}
    for name, value in credentials.items():
        assert uploads[receiver_secret_file(name)] == value
    assert "uploads" in container.secret_inputs
    rendered = uploads["/etc/alertmanager/alertmanager.yml"]
    everything_else = json.dumps({k: v for k, v in container.inputs.items() if k != "uploads"})
    for name, value in credentials.items():
        assert value not in rendered and value not in everything_else
        for other in deployment.containers.values():
            if other is not container:
                assert value not in json.dumps(other.inputs)
    assert all(value not in json.dumps(deployment.outputs) for value in credentials.values())


def test_alertmanager_gets_time_to_write_its_silences_when_replaced(deploy):
    # The provider stops a container with destroy_grace_seconds before removing it (0 when unset:
    # killed at once), and Alertmanager writes silences to its volume when it stops.
    container = deploy().containers["monstack-dev-alertmanager"]
    assert container.inputs["destroyGraceSeconds"] >= 10
    assert container.delete_before_replace
    assert {"containerPath": "/alertmanager", "volumeName": "monstack-dev-alertmanager-data"} in container.inputs["volumes"]
