"""Real clients read the example app: promtool, Prometheus, and gunicorn with four workers under load."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend_metrics.names import (
    AUTH_ATTEMPTS_TOTAL,
    AUTH_OUTCOMES,
    HTTP_REQUESTS_TOTAL,
    LABEL_OUTCOME,
    LABEL_ROUTE,
    ROUTE_UNMATCHED,
    TICKETS_CREATED_TOTAL,
)
from examples.helpdesk.app import EXCLUDED_ROUTES, ROUTES
from tests.support.live import REPO_ROOT, LiveProcessError, http_get, run_prometheus, serve_app
from tests.support.tools import require_binary

APP = "examples.helpdesk.app:app"
GUNICORN_CONF = REPO_ROOT / "examples" / "helpdesk" / "gunicorn.conf.py"


def send(base_url: str, method: str, path: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as err:
        err.read()
        return err.code


def exercise_every_route(base_url: str) -> None:
    assert send(base_url, "POST", "/users", {"username": "ann", "password": "correct horse"}) == 201
    assert send(base_url, "POST", "/auth/login", {"username": "ann", "password": "correct horse"}) == 200
    assert send(base_url, "POST", "/auth/login", {"username": "ann", "password": "wrong horse"}) == 401
    assert send(base_url, "POST", "/tickets", {"title": "vpn is down"}) == 201
    assert send(base_url, "GET", "/tickets") == 200
    assert send(base_url, "GET", "/tickets/nope") == 404
    assert send(base_url, "PATCH", "/tickets/nope", {"status": "closed"}) == 404
    assert send(base_url, "GET", "/healthz") == 200
    assert send(base_url, "GET", "/wp-admin/setup.php") == 404


def scrape(base_url: str) -> str:
    status, _, body = http_get(base_url + "/metrics")
    assert status == 200
    return body.decode()


def total_requests(exposition: str) -> float:
    for family in text_string_to_metric_families(exposition):
        if family.name + "_total" == HTTP_REQUESTS_TOTAL:
            return sum(s.value for s in family.samples if s.name == HTTP_REQUESTS_TOTAL)
    return 0.0


def counter_value(exposition: str, sample_name: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(exposition) for s in f.samples if s.name == sample_name)


def test_promtool_finds_nothing_wrong_with_the_live_metrics():
    promtool = require_binary("promtool")
    with serve_app(APP, ready_path="/healthz") as base_url:
        exercise_every_route(base_url)
        exposition = scrape(base_url)
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (0, "", "")
    assert "process_cpu_seconds_total" in exposition  # prometheus_client's defaults are exposed


def test_prometheus_scraping_the_app_sees_its_routes():
    with serve_app(APP, ready_path="/healthz") as base_url:
        target = base_url.removeprefix("http://")
        with run_prometheus([{"job_name": "helpdesk", "static_configs": [{"targets": [target]}]}]) as prometheus:
            prometheus.wait_for_targets_up(timeout=30)
            expected = set(ROUTES) - EXCLUDED_ROUTES | {ROUTE_UNMATCHED}
            query = f"sum by ({LABEL_ROUTE}) (rate({HTTP_REQUESTS_TOTAL}[1m]))"

            def all_routes_moving(result: list[dict]) -> bool:
                moving = {r["metric"].get(LABEL_ROUTE) for r in result if float(r["value"][1]) > 0}
                return moving >= expected

            deadline = time.monotonic() + 45
            result: list[dict] = []
            while time.monotonic() < deadline:
                exercise_every_route_quietly(base_url)
                result = prometheus.query(query)
                if all_routes_moving(result):
                    break
                time.sleep(1)
            routes = {r["metric"][LABEL_ROUTE] for r in result}
            assert routes == expected
            assert all(float(r["value"][1]) > 0 for r in result)


def exercise_every_route_quietly(base_url: str) -> None:
    send(base_url, "POST", "/users", {"username": f"u{time.monotonic_ns()}", "password": "correct horse"})
    send(base_url, "POST", "/auth/login", {"username": "nobody", "password": "correct horse"})
    send(base_url, "POST", "/tickets", {"title": "again"})
    send(base_url, "GET", "/tickets")
    send(base_url, "GET", "/tickets/nope")
    send(base_url, "GET", "/nope")


def test_gunicorn_with_four_workers_counts_every_request_exactly(tmp_path):
    total = 10_000
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with serve_app(APP, server="gunicorn", workers=4, config=GUNICORN_CONF, env=env, ready_path="/healthz", timeout=60) as base_url:
        baseline = scrape(base_url)
        load = subprocess.run(
            [sys.executable, "-m", "tests.backend_metrics.loadgen", base_url, str(total), "8"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=540,
        )
        assert load.returncode == 0, load.stderr[-2000:]
        report = json.loads(load.stdout)
        assert report["answered"] == total
        exposition = scrape(base_url)
        workers_seen = len(list(tmp_path.glob("counter_*.db")))
    assert total_requests(exposition) - total_requests(baseline) == total
    created = report["by_request"]["POST /tickets"]
    assert counter_value(exposition, TICKETS_CREATED_TOTAL) == created
    outcomes = {
        s.labels[LABEL_OUTCOME]: s.value
        for f in text_string_to_metric_families(exposition)
        for s in f.samples
        if s.name == AUTH_ATTEMPTS_TOTAL
    }
    assert outcomes == {outcome: 0.0 for outcome in AUTH_OUTCOMES}  # pre-initialised, summed over workers
    assert workers_seen >= 2  # the load really was spread over several processes
    assert "python_info{" in exposition


def test_gunicorn_refuses_to_start_without_a_multiprocess_dir(tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}
    with pytest.raises(LiveProcessError, match="does not exist"):
        with serve_app(APP, server="gunicorn", workers=2, config=GUNICORN_CONF, env=env, ready_path="/healthz", timeout=30):
            pass
