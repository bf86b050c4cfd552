"""A wrong setting fails before any resource is registered, with a message naming the full key."""

import pytest

import catalogue

from stack.config import ConfigError, settings_from_mapping
from tests.support.pulumi_program import RecordingMocks, run_program
from tests.unit.conftest import MONGODB_URI

BAD_CONFIGS = [
    # (config, the key the message must name, a word of what is wrong)
    ({"prometheus": {"imagee": "prom/prometheus:v3.5.0"}}, "monstack:prometheus.imagee", "unknown setting"),
    ({"bindAdress": "127.0.0.1"}, "monstack:bindAdress", "unknown setting"),
    ({"prometheus": {"port": 70000}}, "monstack:prometheus.port", "less than or equal to 65535"),
    ({"grafana": {"port": 0}}, "monstack:grafana.port", "greater than or equal to 1"),
    ({"prometheus": {"image": "prom/prometheus"}}, "monstack:prometheus.image", "not pinned"),
    ({"grafana": {"image": "grafana/grafana:latest"}}, "monstack:grafana.image", "not pinned"),
    ({"cadvisor": {"image": "gcr.io/cadvisor/cAdvisor:v0.52.1"}}, "monstack:cadvisor.image", "not a valid image"),
    ({"nodeExporter": {"image": "prom/node-exporter:v1.9.1 --privileged"}}, "monstack:nodeExporter.image", "not a valid image"),
    ({"prometheus": {"retentionTime": "-5d"}}, "monstack:prometheus.retentionTime", "not a Prometheus duration"),
    ({"prometheus": {"retentionSize": "-1GB"}}, "monstack:prometheus.retentionSize", "not a positive size"),
    ({"prometheus": {"scrapeInterval": "fast"}}, "monstack:prometheus.scrapeInterval", "not a Prometheus duration"),
    ({"prometheus": {"scrapeInterval": "15s", "scrapeTimeout": "20s"}}, "monstack:prometheus", "scrapeTimeout must not be longer"),
    ({"bindAddress": "localhost"}, "monstack:bindAddress", "not an IP address"),
    ({"backendTargets": ["backend"]}, "monstack:backendTargets[0]", "service:port"),
    ({"backendTargets": ["backend:8000", "http://evil/"]}, "monstack:backendTargets[1]", "service:port"),
    ({"backendTargets": []}, "monstack:backendTargets", "at least 1"),
    ({"appNetwork": "my network"}, "monstack:appNetwork", "not a valid Docker name"),
    ({"grafana": {"memoryMb": -1}}, "monstack:grafana.memoryMb", "greater than or equal to 32"),
    ({"protectData": "sometimes"}, "monstack:protectData", "boolean"),
    ({"grafana": "on"}, "monstack:grafana", "valid dictionary"),
    ({"nodeExporter": {"listenAddress": "0.0.0.0.0"}}, "monstack:nodeExporter.listenAddress", "not an IP address"),
]


def run(config, secrets=None):
    return run_program(config, secrets={"mongodbUri": MONGODB_URI} if secrets is None else secrets, mocks=RecordingMocks())


@pytest.mark.parametrize(("config", "key", "problem"), BAD_CONFIGS, ids=[case[1] for case in BAD_CONFIGS])
def test_bad_setting_fails_naming_the_key(config, key, problem):
    with pytest.raises(ConfigError) as raised:
        run(config)
    message = str(raised.value)
    line = next((line for line in message.splitlines() if f"{key}:" in line), None)
    assert line is not None, message
    assert problem in line, message


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        run({"prometheus": {"port": 0, "retentionTime": "soon"}, "bogus": 1})
    message = str(raised.value)
    for key in ("monstack:prometheus.port", "monstack:prometheus.retentionTime", "monstack:bogus"):
        assert key in message


def test_malformed_json_object_names_the_key():
    with pytest.raises(ConfigError, match=r"monstack:prometheus: not valid JSON"):
        run({"prometheus": '{"port": 9090,'})


def test_a_secret_set_in_plain_text_is_refused():
    # Set without --secret: the value would sit unencrypted in Pulumi.<stack>.yaml.
    with pytest.raises(ConfigError, match=r"monstack:grafanaAdminPassword: must be stored as a secret"):
        run({"grafanaAdminPassword": "hunter2"})


def test_the_mongodb_exporter_needs_a_uri():
    with pytest.raises(ConfigError, match=r"monstack:mongodbUri: required"):
        run({}, secrets={})


def test_a_missing_app_network_fails_the_lookup():
    with pytest.raises(Exception, match="helpdesk_default"):
        run({"appNetwork": "helpdesk_default"})


def test_bad_config_registers_nothing():
    mocks = RecordingMocks()
    created = []
    original = mocks.new_resource
    mocks.new_resource = lambda args: created.append(args.typ) or original(args)
    with pytest.raises(ConfigError):
        run_program({"prometheus": {"port": -1}}, secrets={"mongodbUri": MONGODB_URI}, mocks=mocks)
    assert created == []


def test_same_port_for_prometheus_and_grafana_is_refused():
    with pytest.raises(ConfigError, match="prometheus.port and grafana.port must differ"):
        settings_from_mapping({"prometheus": {"port": 3000}})


@pytest.mark.parametrize(
    "image",
    [
        "prom/prometheus:v3.5.0",
        "localhost:5000/monstack/prometheus:2.42",
        "gcr.io/cadvisor/cadvisor:v0.52.1",
        "prom/prometheus@sha256:" + "a" * 64,
        "prom/prometheus:v3.5.0@sha256:" + "b" * 64,
    ],
)
def test_pinned_references_are_accepted(image):
    assert settings_from_mapping({"prometheus": {"image": image}}).prometheus.image == image


def test_bad_config_fails_at_preview():
    with pytest.raises(ConfigError, match=r"monstack:prometheus.port"):
        run_program({"prometheus": {"port": 99999}}, secrets={"mongodbUri": MONGODB_URI}, mocks=RecordingMocks(), preview=True)


def test_the_dev_stack_previews():
    deployment = run_program({}, secrets={"mongodbUri": MONGODB_URI}, mocks=RecordingMocks(), preview=True)
    deployed = {f"monstack-dev-{s.name}" for s in catalogue.SERVICES if s.deployed}
    assert set(deployment.containers) == deployed
