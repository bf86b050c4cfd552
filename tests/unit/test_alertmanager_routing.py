"""alertmanager.yml with the real tools: `amtool check-config`, the routing table per severity
(`amtool config routes test`), and inhibition on a real Alertmanager process."""

import json
import subprocess
import time
import urllib.request

import pytest
import yaml

from stack.alertmanager_config import render_alertmanager_config, receiver_secret_file
from stack.alerting_settings import DISCARD_RECEIVER
from stack.config import settings_from_mapping
from stack.render import to_yaml
from tests.support.tools import require_binary

RECEIVERS = [
    {"name": "pager", "type": "pagerduty"},
    {"name": "chat", "type": "slack", "channel": "#alerts"},
    {"name": "mail", "type": "email", "to": ["oncall@example.com", "ops@example.com"], "from": "am@example.com",
     "smarthost": "smtp.example.com:587", "authUsername": "alertmanager"},
    {"name": "hook", "type": "webhook", "url": "http://sink.example.com:8080/alerts", "credential": "bearer"},
    {"name": "dms", "type": "webhook", "url": "https://deadmans.example.com/ping"},
]
ROUTE = {"critical": ["pager", "chat"], "warning": ["chat"], "info": ["hook"], "default": "mail", "watchdog": "dms"}
TEAM = {"alertmanager": {"receivers": RECEIVERS, "route": ROUTE}}
# Secrets the tests never see in the rendered text.
CREDENTIALS = ["R0UT1NGKEY0000000000000000000000", "https://hooks.slack.com/services/T/B/xyz", "smtp-pass", "bearer-token"]


def render(config):
    return to_yaml(render_alertmanager_config(settings_from_mapping(config).alertmanager))


def amtool(*args, cwd):
    return subprocess.run([require_binary("amtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "config",
    [{}, TEAM, {"alertmanager": {"receivers": [RECEIVERS[3]], "route": {"critical": ["hook"], "groupWait": "1s"}}}],
    ids=["no-receivers", "team", "one-webhook"],
)
def test_rendered_config_passes_amtool_check_config(tmp_path, config):
    (tmp_path / "alertmanager.yml").write_text(render(config))
    result = amtool("check-config", "alertmanager.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_receiver_kind_names_its_credential_file_and_holds_no_credential(tmp_path):
    text = render(TEAM)
    document = yaml.safe_load(text)
    by_name = {r["name"]: r for r in document["receivers"]}
    assert by_name["pager"]["pagerduty_configs"][0]["routing_key_file"] == receiver_secret_file("pager")
    assert by_name["chat"]["slack_configs"][0]["api_url_file"] == receiver_secret_file("chat")
    assert by_name["mail"]["email_configs"][0]["auth_password_file"] == receiver_secret_file("mail")
    assert by_name["hook"]["webhook_configs"][0]["http_config"]["authorization"]["credentials_file"] == receiver_secret_file("hook")
    assert "http_config" not in by_name["dms"]["webhook_configs"][0]
    for field in ("api_url", "routing_key", "service_key", "auth_password", "credentials"):
        assert f" {field}:" not in text
    for secret in CREDENTIALS:
        assert secret not in text


def _routes_test(tmp_path, labels):
    result = amtool("config", "routes", "test", "--config.file=alertmanager.yml", *labels, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(",")


# The routing table: where an alert of each severity lands.
ROUTING_TABLE = [
    (["alertname=TargetDown", "severity=critical", "job=backend"], ["pager", "chat"]),
    (["alertname=BackendSlowRoute", "severity=warning", "job=backend"], ["chat"]),
    (["alertname=BackendMetricsSeriesCapped", "severity=info", "job=backend"], ["hook"]),
    (["alertname=Watchdog", "severity=none"], ["dms"]),
    (["alertname=Unknown", "severity=page"], ["mail"]),
    (["alertname=NoSeverity"], ["mail"]),
]


@pytest.mark.parametrize(("labels", "receivers"), ROUTING_TABLE, ids=[row[0][1] if len(row[0]) > 1 else row[0][0] for row in ROUTING_TABLE])
def test_routing_table_per_severity(tmp_path, labels, receivers):
    (tmp_path / "alertmanager.yml").write_text(render(TEAM))
    assert _routes_test(tmp_path, labels) == receivers


def test_without_receivers_everything_lands_on_the_discard_receiver(tmp_path):
    (tmp_path / "alertmanager.yml").write_text(render({}))
    for labels, _ in ROUTING_TABLE:
        assert _routes_test(tmp_path, labels) == [DISCARD_RECEIVER]


def test_the_watchdog_repeats_on_its_own_interval_and_goes_nowhere_else():
    document = yaml.safe_load(render({**TEAM, "alertmanager": {**TEAM["alertmanager"], "route": {**ROUTE, "watchdogRepeatInterval": "1m"}}}))
    watchdog, *others = document["route"]["routes"]
    assert watchdog["matchers"] == ['alertname="Watchdog"']
    assert watchdog["repeat_interval"] == "1m" and "continue" not in watchdog
    assert document["route"]["group_by"] == ["alertname", "job"]


# --- inhibition, on a real Alertmanager -------------------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path):
    binary = require_binary("prometheus-alertmanager")
    from tests.e2e.conftest import free_port

    port = free_port("127.0.0.1")
    (tmp_path / "alertmanager.yml").write_text(render({}))
    proc = subprocess.Popen(
        [binary, "--config.file=alertmanager.yml", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/-/ready", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"Alertmanager did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def _post_alerts(base, alerts):
    request = urllib.request.Request(
        f"{base}/api/v2/alerts", data=json.dumps([{"labels": labels} for labels in alerts]).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    urllib.request.urlopen(request, timeout=5)


def _inhibited(base):
    """alertname/severity/instance -> the fingerprints inhibiting it."""
    with urllib.request.urlopen(f"{base}/api/v2/alerts", timeout=5) as response:
        alerts = json.load(response)
    return {
        (a["labels"]["alertname"], a["labels"].get("severity"), a["labels"].get("instance")): a["status"]["inhibitedBy"]
        for a in alerts
    }


def test_inhibition_silences_warnings_under_a_critical_and_symptoms_of_a_down_target(alertmanager):
    backend = {"job": "backend", "instance": "backend:8000"}
    other = {"job": "backend", "instance": "backend-2:8000"}
    _post_alerts(alertmanager, [
        {"alertname": "TargetDown", "severity": "critical", **backend},
        {"alertname": "BackendSlowRoute", "severity": "warning", **backend},     # symptom of the down target
        {"alertname": "BackendSlowRoute", "severity": "warning", **other},       # another target: stays
        {"alertname": "DiskFilling", "severity": "critical", **other},
        {"alertname": "DiskFilling", "severity": "warning", **other},            # same alert and instance, lower severity
        {"alertname": "Watchdog", "severity": "none"},
    ])
    deadline = time.monotonic() + 20
    while True:  # inhibition is computed when the alerts are read; give the API a moment
        state = _inhibited(alertmanager)
        if len(state) == 6 and state[("BackendSlowRoute", "warning", "backend:8000")]:
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state[("BackendSlowRoute", "warning", "backend:8000")]
    assert state[("DiskFilling", "warning", "backend-2:8000")]
    for kept in (("TargetDown", "critical", "backend:8000"), ("BackendSlowRoute", "warning", "backend-2:8000"),
                 ("DiskFilling", "critical", "backend-2:8000"), ("Watchdog", "none", None)):
        assert state[kept] == [], kept
