"""Remote write and agent mode: settings, rendering (checked by the real promtool), flags, secrets."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from stack.config import ConfigError, remote_write_credentials, settings_from_mapping
from stack.prometheus_flags import agent_flag, prometheus_command
from stack.render import render_prometheus_config, to_yaml
from tests.support.tools import require_binary

from .conftest import MONGODB_URI

ENDPOINTS = [
    {
        "name": "central",
        "url": "https://central.example.com/api/v1/write",
        "auth": {"type": "basic", "username": "dc1"},
        "queue": {"capacity": 20000, "maxShards": 10, "maxSamplesPerSend": 2000, "batchSendDeadline": "5s",
                  "minBackoff": "100ms", "maxBackoff": "10s"},
        "writeRelabelConfigs": [{"sourceLabels": ["__name__"], "regex": "go_gc_.*", "action": "drop"}],
    },
    {"name": "mimir", "url": "https://mimir.example.com/api/v1/push", "auth": {"type": "bearer"}, "remoteTimeout": "30s"},
    {"name": "plain", "url": "http://vm:8428/api/v1/write"},
]
LABELS = {"environment": "prod", "host": "web-1"}
CREDENTIALS = {"central": "rw-basic-pw-7f3a", "mimir": "rw-bearer-tok-9c1e"}


def _settings(**extra):
    return settings_from_mapping({"remoteWrite": ENDPOINTS, "externalLabels": LABELS, **extra})


def _promtool_check(tmp_path, document, *flags):
    path = tmp_path / "prometheus.yml"
    path.write_text(to_yaml(document))
    result = subprocess.run(
        [require_binary("promtool"), "check", "config", "--syntax-only", *flags, str(path)],
        capture_output=True, text=True,
    )
    return result


def test_remote_write_renders_every_endpoint_with_credentials_only_as_files():
    document = render_prometheus_config(_settings())
    central, mimir, plain = document["remote_write"]
    assert central["basic_auth"] == {"username": "dc1", "password_file": "/etc/prometheus/secrets/remote-write-central"}
    assert mimir["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/secrets/remote-write-mimir"}
    assert "basic_auth" not in plain and "authorization" not in plain
    assert central["queue_config"] == {"capacity": 20000, "max_shards": 10, "max_samples_per_send": 2000,
                                       "batch_send_deadline": "5s", "min_backoff": "100ms", "max_backoff": "10s"}
    assert central["write_relabel_configs"] == [{"source_labels": ["__name__"], "regex": "go_gc_.*", "action": "drop"}]
    assert mimir["remote_timeout"] == "30s"
    text = to_yaml(document)
    assert not any(secret in text for secret in CREDENTIALS.values())


def test_external_labels_identify_the_stack_environment_and_host():
    labels = render_prometheus_config(_settings())["global"]["external_labels"]
    assert labels == {"monstack": "monstack", "environment": "prod", "host": "web-1"}


def test_server_config_with_remote_write_passes_promtool(tmp_path):
    result = _promtool_check(tmp_path, render_prometheus_config(_settings()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_agent_config_passes_promtool_in_agent_mode_and_has_no_rules(tmp_path):
    settings = _settings(prometheus={"mode": "agent"}, grafana={"enabled": False})
    document = render_prometheus_config(settings)
    assert "rule_files" not in document and "evaluation_interval" not in document["global"]
    result = _promtool_check(tmp_path, document, "--agent")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_the_server_config_in_agent_mode(tmp_path):
    """The check above can fail: a server's alerting and rule_files are refused in agent mode."""
    result = _promtool_check(tmp_path, render_prometheus_config(_settings()), "--agent")
    assert result.returncode != 0 and "not allowed in agent mode" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "image, flag",
    [("prom/prometheus:v3.5.0", "--agent"), ("monstack-local/prometheus:2.42.0", "--enable-feature=agent"),
     ("prom/prometheus:v2.53.4@sha256:" + "a" * 64, "--enable-feature=agent")],
)
def test_agent_flag_follows_the_image_version(image, flag):
    assert agent_flag(image) == flag
    command = prometheus_command(image=image, mode="agent", config_file="/c.yml", data_path="/prometheus",
                                 listen_address=":9090", retention_time="15d", retention_size="10GB")
    assert flag in command and "--storage.agent.path=/prometheus" in command
    assert not any(arg.startswith("--storage.tsdb") for arg in command)


def test_server_command_keeps_the_tsdb_and_retention():
    command = prometheus_command(image="prom/prometheus:v3.5.0", mode="server", config_file="/c.yml",
                                 data_path="/prometheus", listen_address=":9090", retention_time="15d", retention_size="10GB")
    assert "--storage.tsdb.retention.time=15d" in command and "--storage.tsdb.retention.size=10GB" in command
    assert "--agent" not in command


@pytest.mark.parametrize(
    "extra, key, words",
    [
        ({"remoteWrite": ENDPOINTS}, "monstack:(root)", "externalLabels must set environment and host"),
        ({"remoteWrite": ENDPOINTS, "externalLabels": {"environment": "prod"}}, "monstack:(root)", "host"),
        ({"prometheus": {"mode": "agent"}, "grafana": {"enabled": False}, "externalLabels": LABELS},
         "monstack:(root)", "at least one remoteWrite endpoint"),
        ({"prometheus": {"mode": "agent"}, "remoteWrite": ENDPOINTS, "externalLabels": LABELS},
         "monstack:(root)", "grafana.enabled must be false"),
        ({"prometheus": {"mode": "agent", "image": "prom/prometheus@sha256:" + "a" * 64}, "grafana": {"enabled": False},
          "remoteWrite": ENDPOINTS, "externalLabels": LABELS}, "monstack:(root)", "prometheus.image"),
        ({"remoteWrite": [ENDPOINTS[2], ENDPOINTS[2]], "externalLabels": LABELS}, "monstack:(root)", "twice"),
        ({"remoteWrite": [{"name": "x", "url": "https://u:p@h/api"}], "externalLabels": LABELS},
         "monstack:remoteWrite[0].url", "must not carry credentials"),
        ({"remoteWrite": [{"name": "x", "url": "https://h/api", "auth": {"type": "basic"}}], "externalLabels": LABELS},
         "monstack:remoteWrite[0].auth", "needs a username"),
        ({"remoteWrite": [{"name": "x", "url": "ftp://h/api"}], "externalLabels": LABELS},
         "monstack:remoteWrite[0].url", "http(s) URL"),
        ({"remoteWrite": [{"name": "x", "url": "https://h/", "queue": {"maxBackof": "1s"}}], "externalLabels": LABELS},
         "monstack:remoteWrite[0].queue.maxBackof", "unknown setting"),
        ({"remoteWrite": [{"name": "x", "url": "https://h/", "writeRelabelConfigs": [{"action": "dorp"}]}],
          "externalLabels": LABELS}, "monstack:remoteWrite[0].writeRelabelConfigs[0].action", ""),
        ({"externalLabels": {"__x": "y"}}, "monstack:externalLabels", "reserved"),
    ],
)
def test_bad_remote_write_settings_name_the_key(extra, key, words):
    with pytest.raises(ConfigError) as err:
        settings_from_mapping(extra)
    assert key in str(err.value) and words in str(err.value)


def test_credentials_must_match_the_endpoints_and_are_never_echoed():
    settings = _settings()
    assert remote_write_credentials(settings, CREDENTIALS) == CREDENTIALS
    with pytest.raises(ConfigError) as err:
        remote_write_credentials(settings, {"central": "rw-basic-pw-7f3a", "typo": "leaked?"})
    message = str(err.value)
    assert "monstack:remoteWriteCredentials" in message and "'mimir'" in message and "'typo'" in message
    assert "rw-basic-pw-7f3a" not in message and "leaked?" not in message
    with pytest.raises(ConfigError, match="JSON object"):
        remote_write_credentials(settings, "not json")


def test_credentials_reach_prometheus_as_secret_files_under_mocks(deploy):
    config = {"remoteWrite": ENDPOINTS, "externalLabels": LABELS}
    deployment = deploy(config, secrets={"mongodbUri": MONGODB_URI, "remoteWriteCredentials": CREDENTIALS})
    prometheus = deployment.containers["monstack-dev-prometheus"]
    uploads = {u["file"]: u["content"] for u in prometheus.inputs["uploads"]}
    assert uploads["/etc/prometheus/secrets/remote-write-central"] == "rw-basic-pw-7f3a"
    assert uploads["/etc/prometheus/secrets/remote-write-mimir"] == "rw-bearer-tok-9c1e"
    assert "/etc/prometheus/secrets/remote-write-plain" not in uploads
    assert "uploads" in prometheus.secret_inputs
    config_text = uploads["/etc/prometheus/prometheus.yml"]
    assert yaml.safe_load(config_text)["remote_write"][0]["name"] == "central"
    assert "rw-basic-pw" not in config_text and "rw-bearer-tok" not in config_text
    everywhere = repr([(c.inputs.get("envs"), c.inputs.get("command"), c.inputs.get("labels")) for c in deployment.containers.values()])
    assert "rw-basic-pw" not in everywhere and "rw-bearer-tok" not in everywhere


def test_credentials_must_be_a_pulumi_secret(deploy):
    from tests.support.pulumi_program import run_program

    with pytest.raises(Exception) as err:
        run_program({"remoteWrite": ENDPOINTS, "externalLabels": LABELS, "remoteWriteCredentials": CREDENTIALS},
                    secrets={"mongodbUri": MONGODB_URI})
    assert "monstack:remoteWriteCredentials: must be stored as a secret" in str(err.value)


def test_agent_stack_under_mocks_runs_prometheus_as_agent(deploy):
    config = {"remoteWrite": ENDPOINTS, "externalLabels": LABELS, "prometheus": {"mode": "agent"},
              "grafana": {"enabled": False}}
    deployment = deploy(config, secrets={"mongodbUri": MONGODB_URI, "remoteWriteCredentials": CREDENTIALS})
    prometheus = deployment.containers["monstack-dev-prometheus"]
    assert "--agent" in prometheus.inputs["command"]
    files = {u["file"] for u in prometheus.inputs["uploads"]}
    assert "/etc/prometheus/monstack.rules.yml" not in files
