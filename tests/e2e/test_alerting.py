"""Alerts that reach people, on a real engine: the ci stack's Alertmanager (Debian's 0.25) notifies a
webhook sink the tests run. A stopped backend is notified firing then resolved, the Watchdog
arrives repeatedly, a silence holds across a re-created Alertmanager, Prometheus sees its
Alertmanager and evaluates every rule, and the receiver's credential is nowhere to be read."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import catalogue

from . import harness
from .conftest import BACKEND, RECEIVER_TOKEN, docker_exec, prometheus_api, stack_containers, wait_all_targets_up

pytestmark = pytest.mark.e2e

# Bounds, not timing asserts: the ci stack fires TargetDown after 10 s, evaluates every 5 s,
# discovers by DNS every 5 s and groups for 1 s (Pulumi.ci.yaml); Prometheus itself resends
# firing alerts every minute.
NOTIFY_TIMEOUT = 120


def alertmanager_url(stack) -> str:
    return stack.result.outputs["alertmanager_url"]


def am_api(stack, method: str, path: str, body=None):
    request = urllib.request.Request(
        f"{alertmanager_url(stack)}/api/v2/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def _ours(stack, **labels):
    """A predicate: a notification holding an alert of this stack with these labels."""
    return lambda n: bool(n.alerts(monstack=stack.name, **labels))


def wait_backend_up(stack, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        up = prometheus_api(stack.url, "query", query=f'up{{job="{catalogue.backend.JOB}"}}')["result"]
        if up and all(r["value"][1] == "1" for r in up):
            return
        assert time.monotonic() < deadline, f"the backend is not up again: {up}"
        time.sleep(0.5)


def test_prometheus_reports_its_alertmanager_active_and_every_rule_group_healthy(stack):
    deadline = time.monotonic() + 60
    while True:
        active = prometheus_api(stack.url, "alertmanagers")["activeAlertmanagers"]
        groups = prometheus_api(stack.url, "rules")["groups"]
        evaluated = groups and all(g["lastEvaluation"] > "2000" for g in groups)
        if active and evaluated:
            break
        assert time.monotonic() < deadline, (active, [(g["name"], g["lastEvaluation"]) for g in groups])
        time.sleep(1)
    assert [urllib.parse.urlsplit(a["url"]).netloc for a in active] == [catalogue.alertmanager.TARGET]
    assert prometheus_api(stack.url, "alertmanagers")["droppedAlertmanagers"] == []
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    unhealthy = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert unhealthy == []
    assert {r["name"] for r in rules if r["type"] == "alerting"} == {r.name for r in catalogue.alert_rules(_settings(stack))}


def _settings(stack):
    from stack.config import settings_from_mapping

    return settings_from_mapping({key.split(":", 1)[1]: value for key, value in stack.config.items()})


def test_the_watchdog_reaches_the_dead_mans_switch_repeatedly(stack, sink):
    interval = 10  # route.watchdogRepeatInterval in Pulumi.ci.yaml
    first = sink.wait_for(lambda n: n.path == "/watchdog" and _ours(stack, alertname="Watchdog")(n), timeout=NOTIFY_TIMEOUT)
    second = sink.wait_for(
        lambda n: n.path == "/watchdog" and _ours(stack, alertname="Watchdog")(n),
        timeout=NOTIFY_TIMEOUT,
        since=first.received_at + interval / 2,
    )
    third = sink.wait_for(
        lambda n: n.path == "/watchdog" and _ours(stack, alertname="Watchdog")(n),
        timeout=NOTIFY_TIMEOUT,
        since=second.received_at + interval / 2,
    )
    assert first.status == second.status == third.status == "firing"
    (alert,) = third.alerts(alertname="Watchdog")
    assert alert["labels"]["severity"] == "none"
    # Only the dead man's switch gets it: never the team's receiver.
    assert not [n for n in sink.received() if n.path == "/alerts" and n.alerts(alertname="Watchdog", monstack=stack.name)]


def test_a_stopped_backend_is_notified_firing_and_its_return_resolved(stack, sink, engine):
    started = time.time()
    engine.stop(BACKEND, timeout=2)
    try:
        firing = sink.wait_for(
            lambda n: n.path == "/alerts" and n.status == "firing" and _ours(stack, alertname="TargetDown", job=catalogue.backend.JOB)(n),
            timeout=NOTIFY_TIMEOUT,
            since=started,
        )
        print(f"TargetDown for the backend notified {firing.received_at - started:.1f}s after it stopped")
    finally:
        engine.start(BACKEND)
    (alert,) = firing.alerts(alertname="TargetDown", job=catalogue.backend.JOB)
    assert alert["status"] == "firing"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["monstack"] == stack.name
    annotations = alert["annotations"]
    assert annotations["summary"] == "Prometheus cannot scrape a target"
    assert annotations["description"].startswith("backend ") and "10s" in annotations["description"]
    assert annotations["runbook_url"].endswith("/runbooks.md#targetdown")
    # The receiver's credential reached Alertmanager as a file and is sent as the bearer token.
    assert firing.authorization == f"Bearer {RECEIVER_TOKEN}"
    assert firing.body["receiver"] == "team"
    assert firing.body["groupLabels"] == {"alertname": "TargetDown", "job": catalogue.backend.JOB}

    restarted = time.time()
    resolved = sink.wait_for(
        lambda n: n.path == "/alerts"
        and any(a["status"] == "resolved" for a in n.alerts(alertname="TargetDown", job=catalogue.backend.JOB, monstack=stack.name)),
        timeout=NOTIFY_TIMEOUT,
        since=restarted,
    )
    print(f"resolved {resolved.received_at - restarted:.1f}s after the backend started again")
    assert resolved.status == "resolved"
    wait_backend_up(stack)
    wait_all_targets_up(stack.url)


def test_a_silence_suppresses_a_firing_alert_and_survives_recreating_alertmanager(stack, sink, engine):
    container = f"{stack.name}-alertmanager"
    volume = engine.inspect_volume(_settings(stack).alertmanager_volume)
    silence = {
        "matchers": [
            {"name": "alertname", "value": "Watchdog", "isRegex": False, "isEqual": True},
            {"name": "monstack", "value": stack.name, "isRegex": False, "isEqual": True},
        ],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
        "createdBy": "tests/e2e",
        "comment": "e2e: a silence must hold across re-creation",
    }
    silence_id = am_api(stack, "POST", "silences", silence)["silenceID"]
    try:
        def watchdog_silenced():
            alerts = [a for a in am_api(stack, "GET", "alerts?silenced=true&active=true&inhibited=true")
                      if a["labels"].get("alertname") == "Watchdog" and a["labels"].get("monstack") == stack.name]
            return alerts and alerts[0]["status"]["silencedBy"] == [silence_id]

        _wait(watchdog_silenced, "the Watchdog is not silenced")
        # Suppressed: no Watchdog notification of this stack for three repeat intervals.
        quiet_from = time.time() + 2
        time.sleep(32)
        leaked = [n for n in sink.received(quiet_from) if n.alerts(alertname="Watchdog", monstack=stack.name)]
        assert leaked == []

        # Removed behind the tool's back, re-created by the next deploy: the silence is on the volume.
        marker = f"kept-{silence_id}"
        docker_exec(container, "sh", "-c", f"echo {marker} > /alertmanager/e2e-marker")
        old_id = engine.inspect_container(container)["Id"]
        engine.remove_container(container, force=True)
        result = stack.deploy(refresh=True)  # `pulumi up --refresh`: without it the provider leaves a removed container alone
        assert [a["name"] for a in result.changed if a["type"] == harness.CONTAINER] == ["monstack-alertmanager-container"]
        assert [a["op"] for a in result.actions
                if a["type"] == harness.VOLUME and "alertmanager" in a["name"] and a["op"] != "refresh"] == ["same"]
        assert engine.inspect_container(container)["Id"] != old_id
        kept = engine.inspect_volume(volume["Name"])
        assert (kept["Name"], kept["Mountpoint"], kept["Labels"]) == (volume["Name"], volume["Mountpoint"], volume["Labels"])
        assert docker_exec(container, "cat", "/alertmanager/e2e-marker").strip() == marker
        states = {s["id"]: s["status"]["state"] for s in am_api(stack, "GET", "silences")}
        assert states.get(silence_id) == "active", states
        # Prometheus re-sends the Watchdog (every minute at the latest): it arrives silenced.
        _wait(watchdog_silenced, "the re-created Alertmanager does not silence the Watchdog", timeout=150)
    finally:
        try:
            am_api(stack, "DELETE", f"silence/{silence_id}")
        except urllib.error.HTTPError as err:  # never hide the failure that got us here
            print(f"could not expire silence {silence_id}: {err}")
    after = time.time()
    sink.wait_for(lambda n: n.path == "/watchdog" and _ours(stack, alertname="Watchdog")(n), timeout=NOTIFY_TIMEOUT, since=after)


def _wait(condition, message, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(1)


def test_receiver_credentials_are_nowhere_in_docker_inspect_nor_the_rendered_config(stack, engine):
    containers = stack_containers(engine, stack.name)
    assert f"{stack.name}-alertmanager" in containers
    everything = {c["Id"]: engine.inspect_container(c["Id"]) for c in engine.containers(all=True)}
    for cid, info in everything.items():
        assert RECEIVER_TOKEN not in json.dumps(info), info["Name"]
    alertmanager = f"{stack.name}-alertmanager"
    rendered = docker_exec(alertmanager, "cat", "/etc/alertmanager/alertmanager.yml")
    assert "credentials_file: /etc/alertmanager/secrets/receiver-team" in rendered
    assert RECEIVER_TOKEN not in rendered
    # Delivered as the file the config names, and nowhere in the logs.
    assert docker_exec(alertmanager, "cat", "/etc/alertmanager/secrets/receiver-team") == RECEIVER_TOKEN
    assert RECEIVER_TOKEN not in engine.logs(alertmanager, tail=100000).decode(errors="replace")
