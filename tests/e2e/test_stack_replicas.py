"""Three backend replicas behind one alias: Prometheus scrapes each one and counts every request.

The app runs two more helpdesk containers on its network with the alias `backend` (what Compose
`--scale` or several containers sharing an alias give). The ci stack's `backend:8000` target is
discovered by DNS (an A lookup refreshed every scrape interval), so each replica is its own
target. Runs after test_stack.py (which checks the single-backend target list) and leaves the
single backend behind.
"""

from __future__ import annotations

import subprocess
import time

import pytest

import catalogue
from backend_metrics.names import HTTP_REQUESTS_TOTAL
from stack.config import settings_from_mapping

from . import harness
from .conftest import APP_NETWORK, BACKEND, HELPDESK_IMAGE, REPORT, docker_exec, prometheus_api, targets

pytestmark = pytest.mark.e2e

JOB = catalogue.backend.JOB
PORT = 8000
# Prometheus passes discovered targets on at most every 5 s twice over: the discovery manager's
# sender (discovery/manager.go, `updatert: 5 * time.Second`) and the scrape manager's reloader
# (scrape/manager.go, a 5 s ticker).  A change of replicas reaches the scrape loop within one DNS
# refresh interval plus these, and is scraped within one more scrape interval.
THROTTLES = 5 + 5


def _interval_seconds(stack) -> float:
    plain = {key.split(":", 1)[1]: value for key, value in stack.config.items()}
    text = settings_from_mapping(plain).prometheus.scrape_interval
    return float(text[:-1]) * {"s": 1, "m": 60}[text[-1]]


def _start_replica(engine, name: str) -> str:
    cid = engine.create_container_from_config(
        {
            "Image": HELPDESK_IMAGE,
            "Labels": {harness.HARNESS_LABEL: "1"},
            "HostConfig": {"NetworkMode": APP_NETWORK, "RestartPolicy": {"Name": "no"}},
            "NetworkingConfig": {"EndpointsConfig": {APP_NETWORK: {"Aliases": [BACKEND]}}},
        },
        name,
    )["Id"]
    engine.start(cid)
    deadline = time.monotonic() + 60
    probe = ["docker", "exec", name, "python3", "-c",
             f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/healthz', timeout=2)"]
    while subprocess.run(probe, capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, f"replica {name} did not answer"
        time.sleep(0.3)
    return engine.inspect_container(cid)["NetworkSettings"]["Networks"][APP_NETWORK]["IPAddress"]


def _backend_targets(url: str) -> dict[str, str]:
    return {t["labels"]["instance"]: t["health"] for t in targets(url) if t["labels"]["job"] == JOB}


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f}s"
        time.sleep(0.25)


def _requests_by_instance(url: str) -> dict[str, float]:
    query = f'sum by (instance) ({HTTP_REQUESTS_TOTAL}{{job="{JOB}",route="/tickets"}})'
    return {r["metric"]["instance"]: float(r["value"][1]) for r in prometheus_api(url, "query", query=query)["result"]}


def _up_samples(url: str, instance: str) -> list[tuple[float, str]]:
    selector = f'up{{job="{JOB}",instance="{instance}"}}[15m]'
    result = prometheus_api(url, "query", query=selector, time=f"{time.time():.3f}")["result"]
    return [(float(t), v) for t, v in result[0]["values"]] if result else []


def test_three_replicas_behind_one_alias_are_three_targets_and_every_request_is_counted(stack, engine):
    interval = _interval_seconds(stack)
    prometheus = f"{stack.name}-prometheus"
    first = engine.inspect_container(BACKEND)["NetworkSettings"]["Networks"][APP_NETWORK]["IPAddress"]
    replicas = {}
    try:
        for name in ("backend-r2", "backend-r3"):
            replicas[name] = _start_replica(engine, name)
        ips = {BACKEND: first, **replicas}
        instances = {name: f"{ip}:{PORT}" for name, ip in ips.items()}
        _wait_for(lambda: set(_backend_targets(stack.url)) == set(instances.values())
                  and set(_backend_targets(stack.url).values()) == {"up"}, 60, "three backend targets up")

        # A known, different number of requests to each replica, sent inside the app's network.
        sent = {BACKEND: 3, "backend-r2": 5, "backend-r3": 8}
        before = _requests_by_instance(stack.url)
        for name, count in sent.items():
            docker_exec(prometheus, "sh", "-c",
                        f"i=0; while [ $i -lt {count} ]; do wget -q -O /dev/null http://{ips[name]}:{PORT}/tickets; i=$((i+1)); done")
        expected = {instances[name]: before.get(instances[name], 0.0) + count for name, count in sent.items()}
        counted = _wait_for(
            lambda: (lambda now: now if all(now.get(i) == v for i, v in expected.items()) else None)(
                _requests_by_instance(stack.url)), 10 * interval, f"the counts {expected}")
        assert {i: counted[i] - before.get(i, 0.0) for i in expected} == {instances[n]: c for n, c in sent.items()}
        assert sum(counted[i] for i in expected) - sum(before.get(i, 0.0) for i in expected) == sum(sent.values())

        # Scale down: the replica's target goes at the next DNS refresh (refresh interval = scrape
        # interval), so at most the scrapes until then fail.
        gone = instances["backend-r3"]
        engine.remove_container("backend-r3", force=True)
        removed_at = time.time()
        _wait_for(lambda: gone not in _backend_targets(stack.url), 6 * interval, "the removed replica's target to go")
        time.sleep(2 * interval)
        failed = [t for t, v in _up_samples(stack.url, gone) if t > removed_at and v == "0"]
        # The scrapes until the next refresh (refresh interval = scrape interval) and Prometheus'
        # update throttles pass it on, plus the one under way.
        allowed = int((interval + THROTTLES) // interval) + 1
        assert len(failed) <= allowed, f"{len(failed)} failed scrapes of the removed replica: {failed}"
        assert set(_backend_targets(stack.url)) == {instances[BACKEND], instances["backend-r2"]}

        # Scale up again: the new replica is scraped within one refresh interval, the throttles and one scrape.
        ip = _start_replica(engine, "backend-r3")
        started_at = time.time()
        back = f"{ip}:{PORT}"
        _wait_for(lambda: _backend_targets(stack.url).get(back) == "up", 6 * interval, "the new replica's target up")
        first_up = min(t for t, v in _up_samples(stack.url, back) if v == "1" and t >= started_at - interval)
        assert first_up - started_at <= interval + THROTTLES + interval + 1, (
            f"first scrape {first_up - started_at:.1f}s after it answered"
        )
        REPORT["note:replicas"] = (
            f"backend replicas: 3 targets, requests {sent} counted exactly; scale down: {len(failed)} failed "
            f"scrape(s) before the target went; scale up: first scrape {first_up - started_at:.1f}s after the replica "
            f"answered (refresh and scrape interval {interval:g}s; Prometheus' update throttles {THROTTLES}s)"
        )
    finally:
        for name in replicas:
            try:
                engine.remove_container(name, force=True)
            except Exception:
                pass
