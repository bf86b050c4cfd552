"""Session setup of the end-to-end tests: a Docker engine, the local images, the app beside the stack.

- `engine`: a running Docker engine; started with scripts/docker-engine when none answers, and
  stopped at the end only when this session started it.
- `images`: images/build.sh (cached by an inputs-hash label; a cold build is about two minutes).
- `app`: what the app team runs: the network `monstack-ci-app` and the helpdesk backend on it as
  a container named `backend` (the ci stack joins that network and scrapes backend:8000).
- `stack`: the ci stack (Pulumi.ci.yaml) deployed once through tests/e2e/harness.py, with the
  time from the clean deploy to all targets up.

Every Docker object these tests or the harness create carries the label monstack.e2e=1; leftovers
of an interrupted run are removed at the start and everything is removed at the end.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.support.tools import require_binary
from tests.support.webhook_sink import WebhookSink

from . import harness
import docker
from docker.errors import APIError, NotFound

REPO = harness.REPO
ENGINE_DIR = Path(os.environ.get("MONSTACK_E2E_ENGINE_DIR", "/tmp/monstack-e2e-engine"))
APP_NETWORK = "monstack-ci-app"
BACKEND = "backend"
HELPDESK_IMAGE = "monstack-local/helpdesk:0.1.0"
# A host that does not exist. connectTimeoutMS is a standard MongoDB URI option that keeps the
# pinned percona exporter's scrape short; Debian's older exporter rejects the option at once
# (mongodb_up 0 without waiting out its fixed 10 s dial timeout): see docs/e2e.md.
MONGODB_URI = "mongodb://mongodb.invalid:27017/?connectTimeoutMS=2000"
# The bearer token of the ci stack's `team` webhook receiver (Pulumi.ci.yaml): a receiver credential
# the tests look for everywhere it must not be.
RECEIVER_TOKEN = "e2e-receiver-token-" + os.urandom(8).hex()
SECRETS = {"mongodbUri": MONGODB_URI, "alertmanagerSecrets": json.dumps({"team": RECEIVER_TOKEN})}
NOT_RUN_HERE = {
    "grafana": "Grafana (grafana/grafana:12.1.1): Debian packages no Grafana, no registry is reachable",
    "cadvisor": "cAdvisor (ghcr.io/google/cadvisor:v0.60.5): Debian packages no cAdvisor, no registry is reachable",
}

REPORT: dict[str, Any] = {}


# --- small helpers used by the tests ------------------------------------------------------------


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def stack_config(
    name: str,
    *,
    prometheus_port: int,
    node_exporter_port: int,
    alertmanager_port: Optional[int] = None,
    sink_url: Optional[str] = None,
    **prometheus: Any,
) -> dict:
    """Pulumi.ci.yaml's config with this stack name, these ports, the webhook sink's URL and Prometheus overrides."""
    config = copy.deepcopy(harness.ci_config())
    config["monstack:name"] = name
    config["monstack:prometheus"] = {**config["monstack:prometheus"], "port": prometheus_port, **prometheus}
    config["monstack:nodeExporter"] = {**config["monstack:nodeExporter"], "port": node_exporter_port}
    alertmanager = config["monstack:alertmanager"]
    if alertmanager_port is not None:
        alertmanager["port"] = alertmanager_port
    if sink_url is not None:
        for receiver in alertmanager["receivers"]:
            receiver["url"] = sink_url.rstrip("/") + urllib.parse.urlsplit(receiver["url"]).path
    return config


def prometheus_api(base: str, path: str, **params: Any) -> Any:
    url = f"{base}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def wait_ready(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus at {base} not ready after {timeout}s")
        time.sleep(0.25)


def targets(base: str) -> list[dict]:
    return prometheus_api(base, "targets", state="active")["activeTargets"]


def wait_all_targets_up(base: str, timeout: float = 180) -> float:
    """Poll until every active target is up; return when (time.time()). A guard, not a timing assert."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            current = targets(base)
        except OSError:
            current = []
        if current and all(t["health"] == "up" for t in current):
            return time.time()
        if time.monotonic() > deadline:
            state = [(t["labels"]["job"], t["health"], t["lastError"]) for t in current]
            raise AssertionError(f"targets not all up after {timeout}s: {state}")
        time.sleep(0.25)


def raw_samples(base: str, selector: str, window: str, at: float) -> dict[str, list]:
    """Raw samples of `selector` over `window` ending at `at`, by series (labels as JSON)."""
    data = prometheus_api(base, "query", query=f"{selector}[{window}]", time=f"{at:.3f}")
    return {json.dumps(r["metric"], sort_keys=True): r["values"] for r in data["result"]}


def docker_exec(container: str, *command: str) -> str:
    return subprocess.run(
        ["docker", "exec", container, *command], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def stack_containers(engine: docker.APIClient, stack_name: str) -> dict[str, dict]:
    """Containers of one stack on the engine (label monstack.stack), inspected, by name."""
    found = engine.containers(all=True, filters={"label": f"monstack.stack={stack_name}"})
    return {c["Names"][0].lstrip("/"): engine.inspect_container(c["Id"]) for c in found}


def remove_e2e_objects(engine: docker.APIClient) -> None:
    """Remove every container, network and volume labelled monstack.e2e=1."""
    label = {"label": f"{harness.HARNESS_LABEL}=1"}
    for container in engine.containers(all=True, filters=label):
        engine.remove_container(container["Id"], v=True, force=True)
    for net in engine.networks(filters=label):
        try:
            engine.remove_network(net["Id"])
        except APIError:
            pass  # gone meanwhile, or not removable here (a swarm network while the node is a manager)
    for volume in engine.volumes(filters=label)["Volumes"] or []:
        engine.remove_volume(volume["Name"])


def start_app(engine: docker.APIClient) -> str:
    """The app's network (created unless it exists) and its backend container, started; the container id."""
    try:
        engine.inspect_network(APP_NETWORK)
    except NotFound:
        engine.create_network(APP_NETWORK, driver="bridge", check_duplicate=True, labels={harness.HARNESS_LABEL: "1"})
    cid = engine.create_container_from_config(
        {
            "Image": HELPDESK_IMAGE,
            "Labels": {harness.HARNESS_LABEL: "1"},
            "HostConfig": {"NetworkMode": APP_NETWORK, "RestartPolicy": {"Name": "unless-stopped"}},
        },
        BACKEND,
    )["Id"]
    engine.start(cid)
    return cid


@dataclass
class DeployedStack:
    name: str
    config: dict
    state_dir: Path
    url: str
    result: harness.Result
    deploy_started: float
    all_up_at: float
    extras: dict = field(default_factory=dict)
    docker_host: Optional[str] = None  # None: the shared engine
    reach: Optional[str] = None  # base URL the tests reach Prometheus at, when not its published URL

    def deploy(self, config: Optional[dict] = None, *, refresh: bool = False) -> harness.Result:
        if config is not None:
            self.config = config
        self.result = harness.deploy(
            self.config, secrets=SECRETS, state_dir=self.state_dir, refresh=refresh, docker_host=self.docker_host
        )
        self.url = self.reach or self.result.outputs["prometheus_url"]
        return self.result


def deploy_clean(
    name: str, state_dir: Path, *, docker_host: Optional[str] = None, bind_address: Optional[str] = None,
    node_exporter_listen: Optional[str] = None, ports: Optional[tuple[int, int]] = None,
    sink_url: Optional[str] = None, reach: Optional[str] = None, **prometheus: Any,
) -> DeployedStack:
    """Deploy a new stack `name` on free ports (or `ports`: Prometheus, node exporter) and wait until all its targets are up."""
    listen = node_exporter_listen or node_exporter_address()
    prometheus_port, node_exporter_port = ports or (free_port("127.0.0.1"), free_port(listen))
    config = stack_config(
        name,
        prometheus_port=prometheus_port,
        node_exporter_port=node_exporter_port,
        alertmanager_port=free_port("127.0.0.1"),
        sink_url=sink_url,
        **prometheus,
    )
    config["monstack:nodeExporter"]["listenAddress"] = listen
    if bind_address:
        config["monstack:bindAddress"] = bind_address
    started = time.time()
    result = harness.deploy(config, secrets=SECRETS, state_dir=state_dir, docker_host=docker_host)
    url = reach or result.outputs["prometheus_url"]
    wait_ready(url)
    all_up = wait_all_targets_up(url)
    return DeployedStack(name, config, state_dir, url, result, started, all_up, docker_host=docker_host, reach=reach)


def node_exporter_address() -> str:
    return harness.ci_config()["monstack:nodeExporter"]["listenAddress"]


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine() -> docker.APIClient:
    require_binary("dockerd")
    require_binary("docker")
    started = time.monotonic()
    proc = subprocess.run(
        [str(REPO / "scripts" / "docker-engine"), "start", str(ENGINE_DIR)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.fail(f"could not start a Docker engine: {proc.stderr}")
    we_started = proc.stdout.strip().splitlines()[-1] == "started"
    REPORT["engine"] = f"{'started' if we_started else 'already running'} ({time.monotonic() - started:.1f}s)"
    client = harness.client()
    remove_e2e_objects(client)
    yield client
    remove_e2e_objects(client)
    if we_started:
        subprocess.run([str(REPO / "scripts" / "docker-engine"), "stop", str(ENGINE_DIR)], check=False)


@pytest.fixture(scope="session")
def images(engine: docker.APIClient) -> list[str]:
    require_binary("debootstrap")
    started = time.monotonic()
    proc = subprocess.run(
        [str(REPO / "images" / "build.sh")], capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}
    )
    if proc.returncode != 0:
        pytest.fail(f"images/build.sh failed:\n{proc.stderr[-4000:]}")
    REPORT["images"] = f"{time.monotonic() - started:.1f}s ({'; '.join(l.split('] ', 1)[-1] for l in proc.stderr.splitlines() if ': ' in l and l.rstrip().endswith('s'))})"
    return subprocess.run([str(REPO / "images" / "build.sh"), "--list"], capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture(scope="session")
def app(engine: docker.APIClient, images: list[str]) -> str:
    """The app team's side: their network and the helpdesk backend on it, named `backend`."""
    cid = start_app(engine)
    deadline = time.monotonic() + 60
    while True:
        probe = subprocess.run(
            ["docker", "exec", BACKEND, "python3", "-c",
             "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"],
            capture_output=True, text=True,
        )
        if probe.returncode == 0:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the helpdesk backend did not answer:\n{engine.logs(cid, tail=40).decode()}\n{probe.stderr}")
        time.sleep(0.5)
    yield APP_NETWORK
    engine.remove_container(cid, v=True, force=True)


@pytest.fixture(scope="session")
def sink(app: str, engine: docker.APIClient) -> WebhookSink:
    """The webhook sink the ci stack's Alertmanager notifies: on the app network's gateway, an
    address of this machine that its containers reach and other machines do not."""
    gateway = engine.inspect_network(APP_NETWORK)["IPAM"]["Config"][0]["Gateway"]
    sink = WebhookSink(gateway).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def stack(app: str, sink: WebhookSink, tmp_path_factory: pytest.TempPathFactory) -> DeployedStack:
    """The ci stack, deployed once from nothing; destroyed at the end."""
    deployed = deploy_clean("monstack-ci", tmp_path_factory.mktemp("stack-ci"), sink_url=sink.url("/"))
    REPORT["time_to_up"] = deployed.all_up_at - deployed.deploy_started
    yield deployed
    harness.destroy(state_dir=deployed.state_dir)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not REPORT:
        return
    write = terminalreporter.write_line
    terminalreporter.section("monstack e2e")
    if "engine" in REPORT:
        write(f"Docker engine: {REPORT['engine']}")
    if "images" in REPORT:
        write(f"images/build.sh: {REPORT['images']}")
    if "time_to_up" in REPORT:
        write(f"clean deploy of the ci stack to all Prometheus targets up: {REPORT['time_to_up']:.1f}s")
    for service, reason in NOT_RUN_HERE.items():
        write(f"not run on the engine: {reason}; Pulumi.ci.yaml sets {service}.enabled=false (unit tests cover it under mocks)")
    for key in sorted(k for k in REPORT if k.startswith("note:")):
        write(REPORT[key])
