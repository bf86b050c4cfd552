"""The harness' translation of pulumi-docker inputs into Engine API requests (no engine needed)."""

from __future__ import annotations

import io
import tarfile

import pytest

from . import harness

PROMETHEUS_INPUTS = {
    "name": "monstack-ci-prometheus",
    "image": "sha256:abc",
    "command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
    "envs": ["A=1"],
    "ports": [{"internal": 9090, "external": 19090, "ip": "127.0.0.1"}],
    "volumes": [{"volumeName": "monstack-ci-prometheus-data", "containerPath": "/prometheus"}],
    "mounts": [{"type": "bind", "source": "/", "target": "/host", "readOnly": True, "bindOptions": {"propagation": "rslave"}}],
    "hosts": [{"host": "node-exporter.host", "ip": "172.17.0.1"}],
    "healthcheck": {"tests": ["CMD", "wget", "-q", "http://127.0.0.1:9090/-/healthy"], "interval": "15s",
                    "timeout": "5s", "startPeriod": "1m30s", "retries": 4},
    "labels": [{"label": "monstack.service", "value": "prometheus"}],
    "restart": "unless-stopped",
    "memory": 256,
    "memorySwap": 256,
    "capabilities": {"drops": ["ALL"]},
    "securityOpts": ["no-new-privileges:true"],
    "logDriver": "json-file",
    "logOpts": {"max-size": "10m"},
    "wait": True,
    "waitTimeout": 120,
}


def test_ports_bind_only_the_declared_address_and_port():
    spec = harness.container_spec(PROMETHEUS_INPUTS)
    assert spec["ExposedPorts"] == {"9090/tcp": {}}
    assert spec["HostConfig"]["PortBindings"] == {"9090/tcp": [{"HostIp": "127.0.0.1", "HostPort": "19090"}]}


def test_volumes_mounts_hosts_and_limits_map_like_the_provider():
    host = harness.container_spec(PROMETHEUS_INPUTS)["HostConfig"]
    assert host["Binds"] == ["monstack-ci-prometheus-data:/prometheus"]
    assert host["Mounts"] == [
        {"Type": "bind", "Source": "/", "Target": "/host", "ReadOnly": True, "BindOptions": {"Propagation": "rslave"}}
    ]
    assert host["ExtraHosts"] == ["node-exporter.host:172.17.0.1"]
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
    assert host["CapDrop"] == ["ALL"] and "CapAdd" not in host
    assert host["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m"}}


def test_healthcheck_durations_become_nanoseconds():
    check = harness.container_spec(PROMETHEUS_INPUTS)["Healthcheck"]
    assert (check["Interval"], check["Timeout"], check["StartPeriod"]) == (15 * 10**9, 5 * 10**9, 90 * 10**9)
    assert check["Retries"] == 4


def test_declared_labels_are_kept_and_the_harness_adds_only_its_cleanup_label():
    labels = harness.container_spec(PROMETHEUS_INPUTS)["Labels"]
    assert labels == {"monstack.service": "prometheus", harness.HARNESS_LABEL: "1"}


def test_an_input_the_harness_does_not_map_stops_the_deploy_by_name():
    with pytest.raises(harness.DeployError, match="gpus"):
        harness.container_spec({**PROMETHEUS_INPUTS, "gpus": "all"})


def test_an_upload_is_a_tar_of_the_file_at_its_absolute_path_with_the_declared_mode():
    for upload, mode in (
        ({"file": "/etc/prometheus/prometheus.yml", "content": "global: {}\n"}, 0o644),
        ({"file": "/entry.sh", "content": "#!/bin/sh\n", "executable": True}, 0o744),
        ({"file": "/x", "contentBase64": "aGk=", "permissions": "0600"}, 0o600),
    ):
        with tarfile.open(fileobj=io.BytesIO(harness.upload_tar(upload))) as tar:
            (member,) = tar.getmembers()
            assert "/" + member.name == upload["file"]
            assert member.mode == mode
            content = tar.extractfile(member).read()
        assert content == (b"hi" if "contentBase64" in upload else upload["content"].encode())
