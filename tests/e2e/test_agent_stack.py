"""A per-host stack in agent mode, deployed through the harness, delivers its host's series to a central Prometheus.

The stack is README's `Pulumi.web-1.yaml` on the ci stack's local images: `prometheus.mode: agent`
(the 2.42 image, so `--enable-feature=agent`), node exporter on, Grafana, Alertmanager, the MongoDB
exporter and cAdvisor off, `externalLabels` {environment, host}, one remote-write endpoint with
basic auth whose password is the secret `monstack:remoteWriteCredentials`, and README's
`writeRelabelConfigs` rule that drops `go_gc_.*`.

The central Prometheus is a container the test runs (not the stack): the same local image with
`--web.enable-remote-write-receiver` and a `--web.config.file` holding a bcrypt hash of that
password, so that every request, remote write included, must carry it. It sits on a network of the
test's own, which the agent stack joins as its `appNetwork` (on real hosts the central server is
reached across the network instead); its port is published on 127.0.0.1 only, for the test.

One deploy for the module. Everything is labelled monstack.e2e=1 and removed at the end.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from docker.errors import NotFound

from catalogue import node_exporter, prometheus
from stack.remote_write import REMOTE_WRITE_SECRETS_DIR
from stack.render import PROMETHEUS_CONFIG_FILE
from stack.webauth import bcrypt_hash
from tests.support.live import http_get
from tests.support.remote_write import Api

from . import harness
from .conftest import free_port, node_exporter_address, stack_config, stack_containers, wait_ready

pytestmark = pytest.mark.e2e

NAME = "monstack-agent-e2e"
IMAGE = "monstack-local/prometheus:2.42.0"
CENTRAL = f"{NAME}-central"  # the central Prometheus' container and its network
CENTRAL_ALIAS = "central"
USER = "web-1"
PASSWORD = "agent-e2e-rw-" + os.urandom(8).hex()
LABELS = {"environment": "e2e", "host": "web-1"}
VOLUME = f"{NAME}-prometheus-data"  # the agent's WAL
DROPPED = "go_gc_.*"  # README's writeRelabelConfigs example


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _read_file(engine, container: str, path: str) -> str:
    stream, _ = engine.get_archive(container, path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmembers()[0]
        return tar.extractfile(member).read().decode()


def _post(url: str, user: str, password: str) -> int:
    """POST an empty body with basic auth; the status (errors returned, not raised)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, data=b"", method="POST", headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _start_central(engine) -> str:
    """The central Prometheus: remote-write receiver behind basic auth; its URL on 127.0.0.1."""
    engine.create_network(CENTRAL, driver="bridge", check_duplicate=True, labels={harness.HARNESS_LABEL: "1"})
    port = free_port("127.0.0.1")
    web = {"basic_auth_users": {USER: bcrypt_hash(PASSWORD, key=CENTRAL)}}
    # No scrape jobs of its own: every series it holds came by remote write.
    config = {"global": {"scrape_interval": "15s"}}
    cid = engine.create_container_from_config(
        {
            "Image": IMAGE,
            "Cmd": [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--web.config.file=/etc/prometheus/web.yml",
                "--web.enable-remote-write-receiver",
            ],
            "Labels": {harness.HARNESS_LABEL: "1"},
            "ExposedPorts": {f"{prometheus.PORT}/tcp": {}},
            "HostConfig": {"PortBindings": {f"{prometheus.PORT}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}},
            "NetworkingConfig": {"EndpointsConfig": {CENTRAL: {"Aliases": [CENTRAL_ALIAS]}}},
        },
        CENTRAL,
    )["Id"]
    engine.put_archive(cid, "/", _tar({"/etc/prometheus/prometheus.yml": yaml.safe_dump(config),
                                       "/etc/prometheus/web.yml": yaml.safe_dump(web)}))
    engine.start(cid)
    return f"http://127.0.0.1:{port}"


def _wait_central_ready(url: str, timeout: float = 60) -> None:
    api = Api(url, (USER, PASSWORD))
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http_get(f"{url}/-/ready", headers=api.headers, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the central Prometheus at {url} is not ready after {timeout}s")
        time.sleep(0.25)


def agent_config() -> dict:
    """README's Pulumi.web-1.yaml on the ci stack's images and free ports."""
    listen = node_exporter_address()
    config = stack_config(
        NAME, prometheus_port=free_port("127.0.0.1"), node_exporter_port=free_port(listen), mode="agent", image=IMAGE
    )
    config["monstack:appNetwork"] = CENTRAL
    config["monstack:externalLabels"] = LABELS
    for service in ("grafana", "alertmanager", "mongodbExporter", "cadvisor"):
        config[f"monstack:{service}"] = {**config.get(f"monstack:{service}", {}), "enabled": False}
    config.pop("monstack:alertRules", None)  # an agent evaluates no rules
    config["monstack:remoteWrite"] = [
        {
            "name": "central",
            "url": f"http://{CENTRAL_ALIAS}:{prometheus.PORT}/api/v1/write",
            "auth": {"type": "basic", "username": USER},
            "queue": {"maxBackoff": "1s"},
            "writeRelabelConfigs": [{"sourceLabels": ["__name__"], "regex": DROPPED, "action": "drop"}],
        }
    ]
    return config


@pytest.fixture(scope="module")
def agent(engine, images, tmp_path_factory):
    """The central Prometheus and the agent stack, deployed once; all removed at the end."""
    state_dir = tmp_path_factory.mktemp("stack-agent")
    config = agent_config()
    try:
        central_url = _start_central(engine)
        _wait_central_ready(central_url)
        result = harness.deploy(config, secrets={"remoteWriteCredentials": {"central": PASSWORD}}, state_dir=state_dir)
        yield {"config": config, "state_dir": state_dir, "result": result,
               "central": Api(central_url, (USER, PASSWORD)), "central_url": central_url}
    finally:
        if (state_dir / "state.json").exists():
            harness.destroy(state_dir=state_dir)  # nothing left to do when the last test destroyed it
        for remove in (lambda: engine.remove_container(CENTRAL, v=True, force=True),
                       lambda: engine.remove_network(CENTRAL),
                       lambda: engine.remove_volume(VOLUME)):
            try:
                remove()
            except NotFound:
                pass

def test_the_central_prometheus_holds_node_exporters_series_with_the_agents_external_labels(agent):
    central = agent["central"]
    node_port = agent["config"]["monstack:nodeExporter"]["port"]
    expected = {**LABELS, "monstack": NAME, "job": node_exporter.JOB, "instance": f"{node_exporter.HOST_ALIAS}:{node_port}"}
    uname = central.wait_for(f'{node_exporter.UNAME_INFO}{{job="{node_exporter.JOB}"}}', timeout=60)
    assert len(uname) == 1, uname
    assert {label: uname[0]["metric"].get(label) for label in expected} == expected, uname
    up = central.wait_for(f'up{{job="{node_exporter.JOB}"}} == 1', timeout=30)
    assert [{label: series["metric"].get(label) for label in expected} for series in up] == [expected], up
    # The agent's own series arrive too, but not those README's write relabel rule drops.
    assert central.wait_for(f'up{{job="{prometheus.JOB}"}} == 1', timeout=30)[0]["metric"]["host"] == LABELS["host"]
    assert central.query(f'count({{__name__=~"{DROPPED}"}})') == []


def test_the_central_receiver_refuses_a_wrong_credential(agent):
    write = f"{agent['central_url']}/api/v1/write"
    assert _post(write, USER, PASSWORD + "-wrong") == 401
    # The right credential gets past auth (an empty body is then a bad request, not 401).
    assert _post(write, USER, PASSWORD) != 401


def test_the_agent_runs_in_agent_mode_and_answers_no_queries(agent, engine):
    url = agent["result"].outputs["prometheus_url"]
    wait_ready(url)  # up and serving ...
    status, _, body = http_get(f"{url}/api/v1/query?query=up")
    assert 400 <= status < 600, (status, body[:300])  # ... yet no queries
    assert json.loads(body)["status"] == "error", body[:300]
    args = engine.inspect_container(f"{NAME}-{prometheus.SERVICE.name}")["Args"]
    assert "--enable-feature=agent" in args, args  # how 2.42 spells agent mode


def test_the_remote_write_credential_is_a_file_and_not_in_docker_inspect(agent, engine):
    containers = stack_containers(engine, NAME)
    assert sorted(containers) == [f"{NAME}-{node_exporter.SERVICE.name}", f"{NAME}-{prometheus.SERVICE.name}"]
    for name, inspect in containers.items():
        assert PASSWORD not in json.dumps(inspect), name
    agent_container = f"{NAME}-{prometheus.SERVICE.name}"
    config = yaml.safe_load(_read_file(engine, agent_container, PROMETHEUS_CONFIG_FILE))
    assert PASSWORD not in json.dumps(config)
    [endpoint] = config["remote_write"]
    password_file = endpoint["basic_auth"]["password_file"]
    assert Path(password_file).parent == Path(REMOTE_WRITE_SECRETS_DIR)
    assert _read_file(engine, agent_container, password_file) == PASSWORD


def test_an_unchanged_redeploy_changes_nothing(agent, engine):
    before = {name: c["Id"] for name, c in stack_containers(engine, NAME).items()}
    result = harness.deploy(
        agent["config"], secrets={"remoteWriteCredentials": {"central": PASSWORD}}, state_dir=agent["state_dir"]
    )
    assert result.changed == []
    assert {name: c["Id"] for name, c in stack_containers(engine, NAME).items()} == before


def test_destroy_removes_the_agent_stack(agent, engine):
    result = harness.destroy(state_dir=agent["state_dir"])
    assert stack_containers(engine, NAME) == {}
    assert all(n["Name"] != f"{NAME}-monitoring" for n in engine.networks())
    # The agent's WAL volume is kept like every data volume; the central server is not the stack's.
    assert [(a["name"], a["op"]) for a in result.actions if a["type"] == harness.VOLUME] == [
        (f"monstack-{prometheus.SERVICE.name}-data", "retain")
    ]
    assert engine.inspect_volume(VOLUME)["Name"] == VOLUME
    assert engine.inspect_container(CENTRAL)["State"]["Running"]
