"""The stack on a real two-node swarm, deployed through the e2e harness (platform: swarm).

Manager: the test engine (also the data node); worker: the Docker-in-Docker engine of
tests/support/swarm_nodes.py, with the local images loaded (docker save | docker load). One swarm
for the whole module; the manager leaves it and everything is removed at the end.

First what the Swarm platform relies on: the worker joins, a global service runs one task on every
node, an attachable overlay lets a plain container reach the tasks, `tasks.<service>` resolves to
every task. Then the stack: the app is a `backend` service with three replicas on an attachable
overlay network; `swarm.nodeNameLabels` is on, so every target carries its node's name (this mounts
the manager's Docker socket in Prometheus; see README "Scaling out"). Prometheus and Alertmanager
require web auth (webPassword, delivered as Swarm secrets), as they must whenever they are published;
nothing is published here (a published Swarm port answers on every address of this machine), so the
tests ask Prometheus and Alertmanager from inside their own tasks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

import catalogue
from backend_metrics.names import HTTP_REQUESTS_TOTAL
from stack.webauth import basic_auth_header_value
from tests.support.swarm_nodes import SwarmError, docker, swarm_nodes

from . import harness
from .conftest import ENGINE_DIR, HELPDESK_IMAGE, REPORT, free_port

PROMETHEUS_IMAGE = "monstack-local/prometheus:2.42.0"
NODE_EXPORTER_IMAGE = "monstack-local/node-exporter:1.5.0"
ALERTMANAGER_IMAGE = "monstack-local/alertmanager:0.25.0"
APP_NETWORK = "monstack-e2e-app"
BACKEND = "backend"
REPLICAS = 3
REQUESTS = 30
NAME = "monstack-sw"
# Remote write to an endpoint that does not exist: enough to deliver its credential as a Swarm
# secret file (Prometheus just retries).
RW_PASSWORD = "swarm-e2e-rw-pw-4b1f"
WEB_PASSWORD = "swarm-e2e-web-" + os.urandom(6).hex()
AUTHORIZATION = basic_auth_header_value("monstack", WEB_PASSWORD)
SECRETS = {"remoteWriteCredentials": {"central": RW_PASSWORD}, "webPassword": WEB_PASSWORD}
PROBE_OVERLAY = "monstack-e2e-overlay"
PROBE_SERVICE = "monstack-e2e-node-exporter"


def _engine_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"


def swarm_config(port: int) -> dict:
    return {
        "monstack:name": NAME,
        "monstack:platform": "swarm",
        "monstack:appNetwork": APP_NETWORK,
        "monstack:backendTargets": [f"{BACKEND}:8000"],
        # The manager's socket: the test engine's (DOCKER_HOST when it names a unix socket).
        "monstack:swarm": {"nodeNameLabels": True, "dockerSocket": _engine_socket()},
        "monstack:alertmanager": {"image": ALERTMANAGER_IMAGE, "memoryMb": 64},
        "monstack:prometheus": {"image": PROMETHEUS_IMAGE, "port": port, "scrapeInterval": "2s",
                                "retentionTime": "1d", "retentionSize": "512MB", "memoryMb": 256},
        "monstack:grafana": {"enabled": False},
        "monstack:mongodbExporter": {"enabled": False},
        "monstack:cadvisor": {"enabled": False},
        "monstack:nodeExporter": {"image": NODE_EXPORTER_IMAGE, "port": 9100, "memoryMb": 64},
        "monstack:externalLabels": {"environment": "e2e", "host": "swarm"},
        "monstack:remoteWrite": [{"name": "central", "url": "http://central.invalid:9090/api/v1/write",
                                  "auth": {"type": "basic", "username": "swarm"}}],
    }


# Nothing is published: the tests ask Prometheus and Alertmanager from inside their own task
# containers, on the manager (this engine), with the web password.
def _task(service: str) -> str:
    found = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={NAME}-{service}",
                   "--filter", "status=running").split()
    if not found:
        raise OSError(f"no running {service} task on the manager")
    return found[0]


def _prometheus_task() -> str:
    return _task(catalogue.prometheus.JOB)


def task_get(service: str, port: int, path: str, *, authorization: str | None = AUTHORIZATION) -> str:
    header = ["--header", f"Authorization: {authorization}"] if authorization else []
    try:
        return docker("exec", _task(service), "wget", "-q", "-O", "-", *header, f"http://127.0.0.1:{port}{path}", timeout=30)
    except SwarmError as err:
        raise OSError(str(err)) from None


def _prometheus_get(path: str) -> str:
    return task_get(catalogue.prometheus.JOB, catalogue.prometheus.PORT, path)


def prometheus_api(url: str, path: str, **params) -> dict:
    """Prometheus' HTTP API (`url` names the stack's Prometheus; reached inside its task)."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    body = json.loads(_prometheus_get(f"/api/v1/{path}{query}"))
    assert body["status"] == "success", body
    return body["data"]


def wait_ready(url: str, timeout: float = 120) -> None:
    wait_for("Prometheus ready", lambda: _prometheus_get("/-/ready") is not None, timeout=timeout)


def up_targets(url: str, job: str) -> list[dict]:
    return [t for t in prometheus_api(url, "targets", state="active")["activeTargets"] if t["labels"]["job"] == job]


def wait_for(what: str, predicate, timeout: float = 120, interval: float = 1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except OSError as err:
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last})")


@pytest.fixture(scope="module")
def swarm(engine, images):
    started = time.monotonic()
    # Alertmanager runs on the data node (the manager): the worker needs only the others.
    with swarm_nodes(images=[PROMETHEUS_IMAGE, NODE_EXPORTER_IMAGE, HELPDESK_IMAGE]) as nodes:
        REPORT["note:swarm-nodes"] = f"two-node swarm (manager + DinD worker, 3 images loaded): {time.monotonic() - started:.0f}s"
        yield nodes


@pytest.fixture(scope="module")
def deployed(swarm, tmp_path_factory):
    nodes = swarm
    docker("node", "update", "--label-add", "monstack.data=true", nodes.manager_id)
    docker("network", "create", "--driver", "overlay", "--attachable", "--label", "monstack.e2e=1", APP_NETWORK)
    # dnsrr: this kernel has no IPVS (ip_vs), which a service's virtual IP needs.
    docker("service", "create", "--detach", "--name", BACKEND, "--label", "monstack.e2e=1", "--replicas", str(REPLICAS),
           "--endpoint-mode", "dnsrr", "--network", APP_NETWORK, HELPDESK_IMAGE)
    state_dir = tmp_path_factory.mktemp("stack-swarm")
    port = free_port("127.0.0.1")
    config = swarm_config(port)
    started = time.monotonic()
    result = harness.deploy(config, secrets=SECRETS, state_dir=state_dir)
    url = f"swarm-service:{NAME}-{catalogue.prometheus.JOB}"
    try:
        wait_ready(url, timeout=180)
        REPORT["note:swarm-deploy"] = f"swarm stack deployed and Prometheus ready: {time.monotonic() - started:.0f}s"
        yield {"nodes": nodes, "url": url, "config": config, "state_dir": state_dir, "result": result}
    finally:
        harness.destroy(state_dir=state_dir)
        docker("service", "rm", BACKEND, check=False)
        # Swarm volumes are made by the engine where a task runs (the stack declares none on
        # Swarm): remove the data node's once its task containers are gone.
        for volume in (f"{NAME}-prometheus-data", f"{NAME}-alertmanager-data"):
            for _ in range(30):
                if subprocess.run(["docker", "volume", "rm", volume], capture_output=True).returncode == 0:
                    break
                if not docker("volume", "ls", "-q", "--filter", f"name={volume}").strip():
                    break
                time.sleep(1)
        docker("network", "rm", APP_NETWORK, check=False)


def running_tasks(service: str) -> list[dict]:
    ids = docker("service", "ps", "-q", "--filter", "desired-state=running", service).split()
    tasks = json.loads(docker("inspect", *ids)) if ids else []
    return [t for t in tasks if t["Status"]["State"] == "running"]


def wait_running(service: str, count: int, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = running_tasks(service)
        if len(tasks) == count:
            return tasks
        time.sleep(1)
    raise AssertionError(f"{service}: {len(tasks)} running tasks, wanted {count}: {docker('service', 'ps', '--no-trunc', service)}")


def test_the_worker_joins_the_managers_swarm(swarm):
    nodes = {n["Description"]["Hostname"]: n for n in swarm.nodes()}
    assert set(nodes) == {swarm.manager_hostname, swarm.worker_hostname}
    assert nodes[swarm.manager_hostname]["Spec"]["Role"] == "manager"
    assert nodes[swarm.worker_hostname]["Spec"]["Role"] == "worker"
    assert all(n["Status"]["State"] == "ready" for n in nodes.values())
    # The worker runs its own engine: a different engine ID from the manager's.
    assert swarm.worker_id != swarm.manager_id


def test_global_service_overlay_and_tasks_dns(swarm):
    try:
        _global_service_overlay_and_tasks_dns(swarm)
    finally:
        docker("service", "rm", PROBE_SERVICE, check=False)
        time.sleep(2)
        docker("network", "rm", PROBE_OVERLAY, check=False)


def _global_service_overlay_and_tasks_dns(swarm):
    docker("network", "create", "--driver", "overlay", "--attachable", "--label", "monstack.e2e=1", PROBE_OVERLAY)
    docker(
        "service", "create", "--detach", "--name", PROBE_SERVICE, "--mode", "global", "--label", "monstack.e2e=1",
        "--network", PROBE_OVERLAY, "--hostname", "{{.Node.Hostname}}",
        NODE_EXPORTER_IMAGE, "--web.listen-address=:9100",
    )
    tasks = wait_running(PROBE_SERVICE, 2)
    assert {t["NodeID"] for t in tasks} == {swarm.manager_id, swarm.worker_id}, "one task on every node"
    task_ips = sorted(
        a["Addresses"][0].split("/")[0] for t in tasks for a in t["NetworksAttachments"] if a["Network"]["Spec"]["Name"] == PROBE_OVERLAY
    )
    # A plain container on the attachable overlay: tasks.<service> is every task, and each
    # answers with its own node's name.
    script = (
        f"nslookup tasks.{PROBE_SERVICE} | sed -n '/^Name/,$p' | grep '^Address' | cut -d' ' -f2 | sort | while read ip; do "
        "printf '%s ' $ip; wget -qO- http://$ip:9100/metrics | grep '^node_uname_info'; done"
    )
    out = docker(
        "run", "--rm", "--label", "monstack.e2e=1", "--network", PROBE_OVERLAY, "--entrypoint", "sh", NODE_EXPORTER_IMAGE, "-c", script
    )
    answers = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert sorted(answers) == task_ips, out
    nodenames = {re.search(r'nodename="([^"]+)"', line)[1] for line in answers.values()}
    assert nodenames == set(swarm.hostnames), out


def test_one_node_exporter_target_per_node_labelled_with_its_node(deployed):
    nodes, url = deployed["nodes"], deployed["url"]
    targets = wait_for(
        "a node-exporter target up on every node",
        lambda: (t := up_targets(url, catalogue.node_exporter.JOB)) and len(t) == 2 and all(x["health"] == "up" for x in t) and t,
        timeout=180,
    )
    assert sorted(t["labels"]["node"] for t in targets) == sorted(nodes.hostnames)
    # Each target really is that node's exporter: its uname says so (hostname {{.Node.Hostname}}).
    result = prometheus_api(url, "query", query=f'node_uname_info{{job="{catalogue.node_exporter.JOB}"}}')["result"]
    assert {(r["metric"]["node"], r["metric"]["nodename"]) for r in result} == {(h, h) for h in nodes.hostnames}


def test_every_backend_replica_is_scraped_and_every_request_counted(deployed):
    url = deployed["url"]
    targets = wait_for(
        "every backend replica scraped",
        lambda: (t := up_targets(url, catalogue.backend.JOB)) and len(t) == REPLICAS and all(x["health"] == "up" for x in t) and t,
        timeout=180,
    )
    assert len({t["labels"]["instance"] for t in targets}) == REPLICAS
    assert all(t["labels"].get("node") for t in targets)
    selector = f'{HTTP_REQUESTS_TOTAL}{{job="{catalogue.backend.JOB}",route="/tickets"}}'
    before = sum(float(r["value"][1]) for r in prometheus_api(url, "query", query=selector)["result"])
    # Requests to every replica in turn (each task's address from tasks.<service>).
    script = (
        f"ips=$(nslookup tasks.{BACKEND} | sed -n '/^Name/,$p' | grep '^Address' | cut -d' ' -f2); set -- $ips; "
        f"[ $# -eq {REPLICAS} ] || {{ echo \"$# replicas: $ips\"; exit 1; }}; "
        f"for i in $(seq {REQUESTS // REPLICAS}); do for ip in $ips; do wget -q -O /dev/null http://$ip:8000/tickets || exit 1; done; done"
    )
    docker("run", "--rm", "--label", "monstack.e2e=1", "--network", APP_NETWORK, "--entrypoint", "sh", NODE_EXPORTER_IMAGE, "-c", script)
    counted = wait_for(
        f"all {REQUESTS} requests counted",
        lambda: (s := sum(float(r["value"][1]) for r in prometheus_api(url, "query", query=selector)["result"])) - before >= REQUESTS and s,
        timeout=60,
    )
    assert counted - before == REQUESTS
    per_replica = prometheus_api(url, "query", query=f"sum by (instance) ({selector})")["result"]
    assert len(per_replica) == REPLICAS, "each replica is scraped on its own and counts its own requests"


def test_an_unchanged_redeploy_changes_nothing(deployed):
    result = harness.deploy(deployed["config"], secrets=SECRETS, state_dir=deployed["state_dir"])
    assert result.changed == [], result.changed


def test_data_survives_a_service_update_and_a_redeploy(deployed):
    url = deployed["url"]
    wait_for("a sample", lambda: prometheus_api(url, "query", query='up{job="prometheus"}')["result"])
    marked = time.time()
    time.sleep(3)
    docker("service", "update", "--detach", "--force", f"{NAME}-prometheus")
    time.sleep(5)
    wait_ready(url, timeout=180)
    old = prometheus_api(url, "query", query='up{job="prometheus"}', time=f"{marked:.3f}")["result"]
    assert old, "a sample from before `docker service update` is still there"
    # A changed setting re-deploys Prometheus (new config, rolled service); the TSDB stays.
    config = swarm_config(deployed["config"]["monstack:prometheus"]["port"])
    config["monstack:prometheus"] = {**config["monstack:prometheus"], "scrapeInterval": "3s"}
    result = harness.deploy(config, secrets=SECRETS, state_dir=deployed["state_dir"])
    assert {a["name"] for a in result.changed} >= {"monstack-prometheus", "monstack-prometheus-prometheus"}, result.changed
    time.sleep(5)
    wait_ready(url, timeout=180)
    assert prometheus_api(url, "query", query='up{job="prometheus"}', time=f"{marked:.3f}")["result"]
    deployed["config"] = config


def test_stopping_the_worker_takes_its_targets_down_and_targetdown_fires(deployed):
    nodes, url = deployed["nodes"], deployed["url"]
    nodes.stop_worker()
    worker = nodes.worker_hostname
    wait_for(
        "the worker's node-exporter target down",
        lambda: any(t["labels"].get("node") == worker and t["health"] == "down" for t in up_targets(url, catalogue.node_exporter.JOB)),
        timeout=120,
    )
    firing = wait_for(
        "TargetDown firing for the worker",
        # Every job with a task on the worker fires on its own schedule: wait for node exporter's.
        lambda: (r := prometheus_api(url, "query", query=f'ALERTS{{alertname="TargetDown",alertstate="firing",node="{worker}"}}')["result"])
        and catalogue.node_exporter.JOB in {x["metric"]["job"] for x in r} and r,
        timeout=240, interval=5,
    )
    assert {r["metric"]["job"] for r in firing} >= {catalogue.node_exporter.JOB}
    nodes.start_worker()
    wait_for(
        "the worker's node-exporter target back up",
        lambda: any(t["labels"].get("node") == worker and t["health"] == "up" for t in up_targets(url, catalogue.node_exporter.JOB)),
        timeout=180,
    )


def test_the_remote_write_credential_is_a_swarm_secret_file(deployed):
    task = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={NAME}-prometheus").split()
    assert len(task) == 1, task
    assert docker("exec", task[0], "cat", "/etc/prometheus/secrets/remote-write-central") == RW_PASSWORD
    assert RW_PASSWORD not in docker("service", "inspect", f"{NAME}-prometheus")
    assert RW_PASSWORD not in docker("inspect", task[0])
    spec = json.loads(docker("service", "inspect", f"{NAME}-prometheus"))[0]["Spec"]["TaskTemplate"]["ContainerSpec"]
    mounted = {ref["File"]["Name"]: ref["SecretName"] for ref in spec["Secrets"]}
    name = mounted["/etc/prometheus/secrets/remote-write-central"]
    assert name in docker("secret", "ls", "--format", "{{.Name}}").split()
    assert name.startswith(f"{NAME}-prometheus-secrets-remote-write-central-") and len(name) <= 64, name


def test_web_auth_guards_prometheus_and_alertmanager(deployed):
    am_port = catalogue.alertmanager.PORT
    for service, port in ((catalogue.prometheus.JOB, catalogue.prometheus.PORT), (catalogue.alertmanager.JOB, am_port)):
        with pytest.raises(OSError, match="401"):
            task_get(service, port, "/api/v1/status/buildinfo" if port != am_port else "/api/v2/status", authorization=None)
        with pytest.raises(OSError, match="401"):
            task_get(service, port, "/-/healthy", authorization=basic_auth_header_value("monstack", "not-the-password"))
        assert task_get(service, port, "/-/healthy") is not None
        # The password is a Swarm secret file: not in the service, not in its task's container.
        assert WEB_PASSWORD not in docker("service", "inspect", f"{NAME}-{service}")
        assert WEB_PASSWORD not in docker("inspect", _task(service))
        health = json.loads(docker("inspect", "--format", "{{json .State.Health}}", _task(service)))
        assert health["Status"] == "healthy", "the healthcheck logs in with the header file"


def test_prometheus_scrapes_itself_and_alertmanager_and_sends_alerts_to_it(deployed):
    url = deployed["url"]
    for job in (catalogue.prometheus.JOB, catalogue.alertmanager.JOB):
        wait_for(f"the {job} target up through web auth",
                 lambda: (t := up_targets(url, job)) and all(x["health"] == "up" for x in t) and t, timeout=120)
    # Watchdog always fires: it reaches Alertmanager through the alerting section (basic auth,
    # the alias on the monitoring overlay).
    watchdog = catalogue.prometheus.WATCHDOG
    alerts = wait_for(
        "Watchdog in Alertmanager",
        lambda: [a for a in json.loads(task_get(catalogue.alertmanager.JOB, catalogue.alertmanager.PORT, "/api/v2/alerts"))
                 if a["labels"]["alertname"] == watchdog],
        timeout=120, interval=2,
    )
    assert alerts[0]["labels"]["monstack"] == NAME, "sent with the stack's external labels"


def _restart_manager_engine() -> None:
    proc = subprocess.run([str(harness.REPO / "scripts" / "docker-engine"), "restart", str(ENGINE_DIR)], capture_output=True, text=True)
    if proc.returncode == 3:
        reason = f"the data node's engine was not started by scripts/docker-engine here: {proc.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert proc.returncode == 0, proc.stderr


def test_data_survives_a_restart_of_the_data_node(deployed):
    """The data node (the manager, this engine) restarts as on a reboot: dockerd stops, every task
    container on it stops (the worker's engine too: it runs in a container here), dockerd starts.
    Swarm starts Prometheus and Alertmanager again on the data node with the same volumes."""
    nodes, url = deployed["nodes"], deployed["url"]
    wait_for("a sample", lambda: prometheus_api(url, "query", query='up{job="prometheus"}')["result"])
    marked = time.time()
    time.sleep(3)
    before = {service: _task(service) for service in (catalogue.prometheus.JOB, catalogue.alertmanager.JOB)}
    _restart_manager_engine()
    nodes.start_worker()
    wait_ready(url, timeout=240)
    assert _task(catalogue.prometheus.JOB) != before[catalogue.prometheus.JOB], "a new task after the restart"
    old = prometheus_api(url, "query", query='up{job="prometheus"}', time=f"{marked:.3f}")["result"]
    assert old, "a sample from before the data node's restart is still there"
    wait_for("Alertmanager back", lambda: task_get(catalogue.alertmanager.JOB, catalogue.alertmanager.PORT, "/-/healthy") is not None,
             timeout=120)
    # What the program declares is unchanged by a restart.
    result = harness.deploy(deployed["config"], secrets=SECRETS, state_dir=deployed["state_dir"])
    assert result.changed == [], result.changed
