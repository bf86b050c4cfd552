"""Pulumi.swarm.yaml under mocks: what the Swarm platform declares (stack/swarm)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from catalogue import alertmanager, cadvisor, grafana, mongodb_exporter, node_exporter, prometheus
from stack.config import ConfigError, settings_from_mapping
from stack.render import to_yaml
from stack.swarm.render import render_swarm_prometheus_config
from tests.support.provider_state import go_duration, parse_go_duration
from tests.support.pulumi_program import PROJECT_ROOT, RecordingMocks, run_program
from tests.support.tools import require_binary

SWARM_CONFIG = yaml.safe_load((PROJECT_ROOT / "Pulumi.swarm.yaml").read_text())["config"]
MONGODB_URI = "mongodb://exporter:swarm-uri-pw-51c2@mongo:27017/admin"
ADMIN_PASSWORD = "swarm-grafana-pw-8e0d"
RW_SECRET = "swarm-rw-token-77aa"
WEB_PASSWORD = "swarm-web-pw-3c9e1f"


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
    assert set(services(swarm)) == {
        prometheus.JOB, grafana.SERVICE.name, alertmanager.JOB, mongodb_exporter.JOB, node_exporter.JOB, cadvisor.JOB,
    }
    assert swarm.containers == {}, "the swarm platform declares services, not containers"


@pytest.mark.parametrize("name", [node_exporter.JOB, cadvisor.JOB])
def test_exporters_run_in_global_mode_on_every_node(swarm, name):
    service = services(swarm)[name]
    assert service.inputs["mode"] == {"global": True}
    assert "placement" not in service.inputs["taskSpec"], "a global exporter must not be restricted to some nodes"
    assert service.inputs["taskSpec"]["containerSpec"]["hostname"] == "{{.Node.Hostname}}"


@pytest.mark.parametrize("name", [prometheus.JOB, grafana.SERVICE.name, alertmanager.JOB])
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
    assert swarm.outputs["prometheus_url"].startswith("(not published")


def test_publishing_requires_web_auth_naming_the_key():
    # A published Swarm port answers on every address of the node: not without a password.
    with pytest.raises(ConfigError, match="monstack:webPassword: required because monstack:swarm.publish is true"):
        deploy({"swarm": {"publish": True}, "bindAddress": "0.0.0.0"})


def published(overrides=None):
    secrets = {"mongodbUri": MONGODB_URI, "grafanaAdminPassword": ADMIN_PASSWORD, "webPassword": WEB_PASSWORD}
    return deploy({"swarm": {"publish": True}, "bindAddress": "0.0.0.0", **(overrides or {})}, secrets=secrets)


def test_published_services_are_prometheus_grafana_and_alertmanager_in_host_mode():
    deployment = published()
    ports = {
        name: [(p["targetPort"], p["publishedPort"], p["publishMode"]) for p in s.inputs["endpointSpec"].get("ports", [])]
        for name, s in services(deployment).items()
    }
    assert ports == {
        prometheus.JOB: [(prometheus.PORT, 9090, "host")],
        grafana.SERVICE.name: [(grafana.PORT, 3000, "host")],
        alertmanager.JOB: [(alertmanager.PORT, 9093, "host")],
        mongodb_exporter.JOB: [], node_exporter.JOB: [], cadvisor.JOB: [],
    }
    assert deployment.outputs["prometheus_url"] == "http://0.0.0.0:9090"
    assert deployment.outputs["alertmanager_url"] == "http://0.0.0.0:9093"


def _files(deployment, service):
    """path -> (kind, resource) of every config and secret a service mounts."""
    spec = services(deployment)[service].inputs["taskSpec"]["containerSpec"]
    by_id = {r.inputs["name"]: r for r in deployment.resources if r.typ in (CONFIG, SECRET)}
    files = {}
    for kind, refs in (("config", spec.get("configs", [])), ("secret", spec.get("secrets", []))):
        for ref in refs:
            files[ref["fileName"]] = (kind, ref, by_id[ref[f"{kind}Name"]])
    return files


CONFIG, SECRET = "docker:index/serviceConfig:ServiceConfig", "docker:index/secret:Secret"


def test_web_auth_reaches_swarm_services_as_secret_files():
    deployment = published()
    prom, am = _files(deployment, prometheus.JOB), _files(deployment, alertmanager.JOB)
    for files, config_dir in ((prom, "/etc/prometheus"), (am, "/etc/alertmanager")):
        kind, ref, resource = files[f"{config_dir}/web.yml"]
        assert kind == "secret" and ref["fileMode"] == 0o400 and ref["fileUid"] == "65534"
        web_config = yaml.safe_load(base64.b64decode(resource.inputs["data"]))
        assert web_config["basic_auth_users"]["monstack"].startswith("$2b$"), "a bcrypt hash, never the password"
        assert files[f"{config_dir}/secrets/web-authorization"][0] == "secret"
    # Prometheus logs in to itself and to Alertmanager with the password file.
    assert prom["/etc/prometheus/secrets/web-password"][0] == "secret"
    assert base64.b64decode(prom["/etc/prometheus/secrets/web-password"][2].inputs["data"]).decode() == WEB_PASSWORD
    config = yaml.safe_load(base64.b64decode(prom["/etc/prometheus/prometheus.yml"][2].inputs["data"]))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for job in (prometheus.JOB, alertmanager.JOB):
        assert jobs[job]["basic_auth"] == {"username": "monstack", "password_file": "/etc/prometheus/secrets/web-password"}
    assert config["alerting"]["alertmanagers"][0]["basic_auth"]["password_file"] == "/etc/prometheus/secrets/web-password"
    # Grafana's datasources log in too, with its own copy of the password.
    graf = _files(deployment, grafana.SERVICE.name)
    assert graf["/etc/grafana/monstack/secrets/web-password"][0] == "secret"
    # Both servers are started with the web config and check their health with the credentials.
    for name, config_dir in ((prometheus.JOB, "/etc/prometheus"), (alertmanager.JOB, "/etc/alertmanager")):
        spec = services(deployment)[name].inputs["taskSpec"]["containerSpec"]
        assert f"--web.config.file={config_dir}/web.yml" in spec["args"]
        assert f"{config_dir}/secrets/web-authorization" in " ".join(spec["healthcheck"]["tests"])
    plain = repr([(r.inputs, r.typ) for r in deployment.resources if r.typ != SECRET])
    assert WEB_PASSWORD not in plain


def test_alertmanager_on_swarm_reads_the_same_files_as_on_one_engine():
    receivers = [{"name": "team", "type": "webhook", "url": "https://hooks.example/alerts", "credential": "bearer"}]
    deployment = deploy(
        {"alertmanager": {"enabled": True, "receivers": receivers, "route": {"critical": ["team"]}}},
        secrets={"mongodbUri": MONGODB_URI, "alertmanagerSecrets": {"team": "receiver-token-9d2a"}},
    )
    files = _files(deployment, alertmanager.JOB)
    assert files["/etc/alertmanager/alertmanager.yml"][0] == "config"
    kind, ref, secret = files["/etc/alertmanager/secrets/receiver-team"]
    assert kind == "secret" and base64.b64decode(secret.inputs["data"]).decode() == "receiver-token-9d2a"
    spec = services(deployment)[alertmanager.JOB].inputs["taskSpec"]["containerSpec"]
    assert spec["stopGracePeriod"] == "30s", "silences are written when it stops"
    assert "--cluster.listen-address=" in spec["args"]
    assert "receiver-token-9d2a" not in repr([(r.inputs, r.typ) for r in deployment.resources if r.typ != SECRET])


def test_publishing_needs_an_explicit_bind_address():
    with pytest.raises(ConfigError, match="swarm.publish: Swarm publishes a port on every address"):
        settings_from_mapping({"platform": "swarm", "swarm": {"publish": True}})


def test_secrets_are_never_plain_text(swarm):
    secrets = swarm.of_type("docker:index/secret:Secret")
    assert [s.name for s in secrets] == ["monstack-grafana-grafana-admin-password"]
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
    assert before["monstack-prometheus-prometheus"] != after["monstack-prometheus-prometheus"]
    assert before["monstack-prometheus-monstack-rules"] == after["monstack-prometheus-monstack-rules"]


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
        if c.name == "monstack-prometheus-prometheus"
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
    # By id (the getNetwork mock answers "<name>-id"): Swarm stores a service's networks as ids and
    # the provider reads them back into `id`; a `name` would replace every service at every up.
    monitoring_id = next(n for n in swarm.networks if n.inputs["name"] == "monstack-swarm-monitoring").name + "-id"
    for job, service in services(swarm).items():
        for network in service.inputs["taskSpec"]["networksAdvanceds"]:
            assert set(network) <= {"id", "aliases"}, (job, network)
    attached = [n["id"] for n in services(swarm)[prometheus.JOB].inputs["taskSpec"]["networksAdvanceds"]]
    assert attached == [monitoring_id, "helpdesk-id"]


def test_overlay_networks_ignore_the_ipam_fields_swarm_fills_in_after_creation(swarm):
    # Read back before the managers allocated it, an overlay network has no IPAM driver (seen
    # here in 5 of 15 immediate inspects on a loaded manager); the next plan must not replace it.
    networks = {n.inputs["name"]: n for n in swarm.networks}
    assert set(networks["monstack-swarm-monitoring"].ignore_changes) == {"ipamDriver", "ipamOptions"}
    without_app_network = {k: v for k, v in SWARM_CONFIG.items() if k != "monstack:appNetwork"}
    created = run_program(without_app_network, secrets={"mongodbUri": MONGODB_URI}, stack="swarm", mocks=RecordingMocks())
    assert {n.inputs["name"]: set(n.ignore_changes) for n in created.networks} == {
        "monstack-swarm-monitoring": {"ipamDriver", "ipamOptions"}, "monstack-swarm-app": {"ipamDriver", "ipamOptions"},
    }


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
        {"platform": "swarm", "swarm": {"nodeNameLabels": node_name_labels}}
    )
    path = tmp_path / "prometheus.yml"
    path.write_text(to_yaml(render_swarm_prometheus_config(settings, ["monstack-monitoring", "monstack-app"])))
    result = subprocess.run([require_binary("promtool"), "check", "config", "--syntax-only", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_swarm_object_names_stay_within_dockers_64_characters_and_distinct():
    from stack.swarm.resources import config_name, secret_name

    long_a = "monstack-a-very-long-stack-name-prometheus-secrets-remote-write-central-eu"
    long_b = long_a[:-2] + "us"
    names = {config_name(long_a, "same text"), config_name(long_b, "same text"),
             secret_name(long_a, "00" * 16, "same value"), secret_name(long_b, "00" * 16, "same value")}
    assert len(names) == 4, "two long prefixes that share their head must not share a name"
    assert all(len(n) <= 64 for n in names), names
    assert config_name("short", "x").startswith("short-")


# The provider reads a service's durations back as shortDur(d) (resource_docker_service_structures.go:
# Go's Duration.String() with a trailing "0s" after minutes and "0m" after hours cut: 60s -> "1m").
# A duration declared in another spelling differs from the state at every plan.
_SERVICE_DURATIONS = {"interval", "timeout", "startPeriod", "delay", "stopGracePeriod", "monitor", "window"}


def short_dur(text: str) -> str:
    spelled = go_duration(parse_go_duration(text))
    if spelled.endswith("m0s"):
        spelled = spelled[:-2]
    if spelled.endswith("h0m"):
        spelled = spelled[:-2]
    return spelled


def _durations(value, path=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in _SERVICE_DURATIONS and isinstance(inner, str):
                yield f"{path}.{key}", inner
            yield from _durations(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _durations(inner, f"{path}[{i}]")


def test_every_service_duration_is_spelled_as_the_provider_reads_it_back(swarm):
    found = [(job, path, text) for job, service in services(swarm).items() for path, text in _durations(service.inputs)]
    assert any(path.endswith(".healthcheck.interval") for _, path, _ in found)
    assert [(job, path, text) for job, path, text in found if text != short_dur(text)] == []


def test_a_duration_the_provider_would_respell_is_caught():
    assert short_dur("60s") == "1m" and short_dur("90s") == "1m30s" and short_dur("2h") == "2h"
    assert short_dur("15s") == "15s"
