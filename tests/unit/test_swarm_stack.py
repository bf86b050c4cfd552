"""Pulumi.swarm.yaml under mocks: what the Swarm platform declares (stack/swarm)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from catalogue import cadvisor, grafana, mongodb_exporter, node_exporter, prometheus
from stack.config import ConfigError, settings_from_mapping
from stack.render import to_yaml
from stack.swarm.render import render_swarm_prometheus_config
from tests.support.pulumi_program import PROJECT_ROOT, RecordingMocks, run_program
from tests.support.tools import require_binary

SWARM_CONFIG = yaml.safe_load((PROJECT_ROOT / "Pulumi.swarm.yaml").read_text())["config"]
MONGODB_URI = "mongodb://exporter:swarm-uri-pw-51c2@mongo:27017/admin"
ADMIN_PASSWORD = "swarm-grafana-pw-8e0d"
RW_SECRET = "swarm-rw-token-77aa"


def deploy(overrides=None, secrets=None):
    config = {**SWARM_CONFIG, **{f"monstack:{k}": v for k, v in (overrides or {}).items()}}
    secrets = secrets or {"mongodbUri": MONGODB_URI, "grafanaAdminPassword": ADMIN_PASSWORD}
    return run_program(config, secrets=secrets, stack="swarm", mocks=RecordingMocks(existing_networks=["helpdesk"]))


@pytest.fixture(scope="module")
def swarm():
    return deploy()


def services(deployment):
    return {r.inputs["name"].removeprefix("monstack-swarm-"): r for r in deployment.of_type("docker:index/service:Service")}


def test_pulumi_swarm_yaml_declares_every_service_and_no_container(swarm):
    assert set(services(swarm)) == {prometheus.JOB, grafana.SERVICE.name, mongodb_exporter.JOB, node_exporter.JOB, cadvisor.JOB}
    assert swarm.containers == {}, "the swarm platform declares services, not containers"


@pytest.mark.parametrize("name", [node_exporter.JOB, cadvisor.JOB])
def test_exporters_run_in_global_mode_on_every_node(swarm, name):
    service = services(swarm)[name]
    assert service.inputs["mode"] == {"global": True}
    assert "placement" not in service.inputs["taskSpec"], "a global exporter must not be restricted to some nodes"
    assert service.inputs["taskSpec"]["containerSpec"]["hostname"] == "{{.Node.Hostname}}"


@pytest.mark.parametrize("name", [prometheus.JOB, grafana.SERVICE.name])
def test_stateful_services_run_once_on_the_data_node_with_their_volume(swarm, name):
    service = services(swarm)[name]
    assert service.inputs["mode"] == {"replicated": {"replicas": 1}}
    assert service.inputs["taskSpec"]["placement"]["constraints"] == ["node.labels.monstack.data==true"]
    volumes = [m for m in service.inputs["taskSpec"]["containerSpec"]["mounts"] if m["type"] == "volume"]
    assert [v["source"] for v in volumes] == [f"monstack-swarm-{name}-data"]
    assert service.inputs["updateConfig"]["order"] == "stop-first", "two tasks must never share the data volume"


def test_nothing_is_published_by_default_and_exporters_never(swarm):
    for name, service in services(swarm).items():
        assert service.inputs["endpointSpec"] == {"mode": "dnsrr"}, name
    # Publishing would answer on every address of the node without web auth, which Swarm
    # services do not get yet: refused at preview, naming the setting.
    with pytest.raises(ConfigError, match="monstack:swarm.publish: not available yet"):
        deploy({"swarm": {"publish": True}, "bindAddress": "0.0.0.0"})


def test_alertmanager_is_refused_on_swarm_until_it_is_deployed_there():
    with pytest.raises(ConfigError, match="monstack:alertmanager.enabled: Alertmanager is not deployed on platform swarm"):
        settings_from_mapping({"platform": "swarm"})


def test_publishing_needs_an_explicit_bind_address():
    with pytest.raises(ConfigError, match="swarm.publish: Swarm publishes a port on every address"):
        settings_from_mapping({"platform": "swarm", "swarm": {"publish": True}, "alertmanager": {"enabled": False}})


def test_secrets_are_never_plain_text(swarm):
    secrets = swarm.of_type("docker:index/secret:Secret")
    assert [s.name for s in secrets] == ["monstack-grafana-admin-password-secret"]
    assert "data" in secrets[0].secret_inputs
    assert base64.b64decode(secrets[0].inputs["data"]).decode() == ADMIN_PASSWORD
    assert ADMIN_PASSWORD not in secrets[0].inputs["name"]
    plain = repr([(r.inputs, r.typ) for r in swarm.resources if r.typ != "docker:index/secret:Secret"])
    assert ADMIN_PASSWORD not in plain
    configs = " ".join(base64.b64decode(c.inputs["data"]).decode() for c in swarm.of_type("docker:index/serviceConfig:ServiceConfig"))
    assert ADMIN_PASSWORD not in configs and "swarm-uri-pw" not in configs
    assert "taskSpec" in services(swarm)[mongodb_exporter.JOB].secret_inputs
    grafana_spec = services(swarm)[grafana.SERVICE.name].inputs["taskSpec"]["containerSpec"]
    assert grafana_spec["secrets"][0]["fileName"] == "/run/secrets/grafana-admin-password"
    assert grafana_spec["secrets"][0]["fileMode"] == 0o400


def test_configs_are_named_by_content_so_a_change_rolls_the_service(swarm):
    configs = swarm.of_type("docker:index/serviceConfig:ServiceConfig")
    for config in configs:
        text = base64.b64decode(config.inputs["data"]).decode()
        assert config.inputs["name"].endswith("-" + hashlib.sha256(text.encode()).hexdigest()[:12]), config.name
    assert len({c.inputs["name"] for c in configs}) == len(configs)
    before = {c.name: c.inputs["name"] for c in configs}
    after = {c.name: c.inputs["name"] for c in deploy({"prometheus": {**SWARM_CONFIG["monstack:prometheus"], "scrapeInterval": "30s"}}).of_type("docker:index/serviceConfig:ServiceConfig")}
    assert before["monstack-prometheus-config"] != after["monstack-prometheus-config"]
    assert before["monstack-prometheus-rules"] == after["monstack-prometheus-rules"]


def test_every_service_drops_capabilities_and_has_a_memory_limit(swarm):
    for name, service in services(swarm).items():
        spec = service.inputs["taskSpec"]
        assert spec["containerSpec"]["capDrops"] == ["ALL"], name
        assert spec["resources"]["limits"]["memoryBytes"] > 0, name


def test_prometheus_finds_tasks_by_dns_without_the_docker_socket(swarm):
    spec = services(swarm)[prometheus.JOB].inputs["taskSpec"]["containerSpec"]
    assert all("docker.sock" not in m["source"] for m in spec["mounts"])
    assert "user" not in spec
    config = yaml.safe_load(next(
        base64.b64decode(c.inputs["data"]).decode() for c in swarm.of_type("docker:index/serviceConfig:ServiceConfig")
        if c.name == "monstack-prometheus-config"
    ))
    names = {job["job_name"]: [n for sd in job.get("dns_sd_configs", []) for n in sd["names"]] for job in config["scrape_configs"]}
    assert names[node_exporter.JOB] == ["tasks.monstack-swarm-node-exporter"]
    assert names[cadvisor.JOB] == ["tasks.monstack-swarm-cadvisor"]
    assert names["backend"] == ["tasks.backend"]


def test_node_name_labels_mount_the_socket_on_a_manager_as_root():
    deployment = deploy({"swarm": {"nodeNameLabels": True}})
    service = services(deployment)[prometheus.JOB]
    spec = service.inputs["taskSpec"]
    assert {"source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "type": "bind", "readOnly": True} in spec["containerSpec"]["mounts"]
    assert "node.role==manager" in spec["placement"]["constraints"]
    assert spec["containerSpec"]["user"] == "root"
    assert spec["containerSpec"]["capAdds"] == ["DAC_OVERRIDE"] and spec["containerSpec"]["capDrops"] == ["ALL"]


def test_the_overlay_network_is_attachable_and_the_apps_network_joined(swarm):
    networks = {n.inputs["name"]: n for n in swarm.networks}
    assert networks["monstack-swarm-monitoring"].inputs["driver"] == "overlay"
    assert networks["monstack-swarm-monitoring"].inputs["attachable"] is True
    assert "helpdesk" not in networks, "the app's network is looked up, never created"
    attached = [n["name"] for n in services(swarm)[prometheus.JOB].inputs["taskSpec"]["networksAdvanceds"]]
    assert attached == ["monstack-swarm-monitoring", "helpdesk"]


def test_remote_write_credentials_are_swarm_secrets_on_swarm():
    overrides = {
        "remoteWrite": [{"name": "central", "url": "https://central.example/api/v1/write", "auth": {"type": "bearer"}}],
        "externalLabels": {"environment": "production", "host": "swarm"},
    }
    deployment = deploy(overrides, secrets={"mongodbUri": MONGODB_URI, "remoteWriteCredentials": {"central": RW_SECRET}})
    secret = next(s for s in deployment.of_type("docker:index/secret:Secret") if "remote-write" in s.name)
    assert "data" in secret.secret_inputs and RW_SECRET not in secret.inputs["name"]
    spec = services(deployment)[prometheus.JOB].inputs["taskSpec"]["containerSpec"]
    assert [s["fileName"] for s in spec["secrets"]] == ["/etc/prometheus/secrets/remote-write-central"]
    assert RW_SECRET not in repr(spec)


@pytest.mark.parametrize("node_name_labels", [False, True])
def test_swarm_prometheus_config_passes_promtool(tmp_path, node_name_labels):
    settings = settings_from_mapping(
        {"platform": "swarm", "swarm": {"nodeNameLabels": node_name_labels}, "alertmanager": {"enabled": False}}
    )
    path = tmp_path / "prometheus.yml"
    path.write_text(to_yaml(render_swarm_prometheus_config(settings, ["monstack-monitoring", "monstack-app"])))
    result = subprocess.run([require_binary("promtool"), "check", "config", "--syntax-only", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
