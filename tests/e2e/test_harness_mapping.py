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


# --- the provider stand-in's plan, against a fake engine (no Docker needed) ----------------------------


class _FakeEngine:
    """Just enough of docker.APIClient: containers stored as `docker inspect` would show them."""

    def __init__(self):
        self.containers_by_id: dict[str, dict] = {}
        self.calls: list[str] = []

    def create_container_from_config(self, spec, name):
        cid = f"c{len(self.containers_by_id) + 1}"
        host = dict(spec["HostConfig"])
        self.containers_by_id[cid] = {"Id": cid, "Name": "/" + name, "Image": spec["Image"], "Config": spec,
                                      "HostConfig": host, "State": {"Running": False, "Status": "created"},
                                      "NetworkSettings": {"Ports": host.get("PortBindings") or {}}}
        self.calls.append(f"create {name}")
        return {"Id": cid}

    def _get(self, cid):
        if cid not in self.containers_by_id:
            raise harness.NotFound(f"no such container {cid}")
        return self.containers_by_id[cid]

    def inspect_container(self, cid):
        return self._get(cid)

    def containers(self, all=True, filters=None):
        cid = (filters or {}).get("id")
        return [c for c in self.containers_by_id.values() if cid is None or c["Id"] == cid]

    def start(self, cid):
        self._get(cid)["State"] = {"Running": True, "Status": "running"}

    def stop(self, cid, timeout=None):
        self._get(cid)["State"] = {"Running": False, "Status": "exited"}
        self.calls.append(f"stop {cid}")

    def remove_container(self, cid, v=True, force=True):
        self._get(cid)
        del self.containers_by_id[cid]
        self.calls.append(f"remove {cid}")

    def update_container(self, cid, **args):
        self._get(cid)
        self.calls.append(f"update {cid}")


def _provider(tmp_path, engine):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return harness.DockerProvider(engine, harness.State(tmp_path / "state.json"))


def _deploy_container(tmp_path, engine, inputs, *, refresh=False):
    provider = _provider(tmp_path, engine)
    if refresh:
        provider.refresh()
    options = {"replaceOnChanges": ["healthcheck"], "deleteBeforeReplace": True, "ignoreChanges": []}
    provider.register(harness.CONTAINER, "c", "urn:c", dict(inputs), options, True)
    provider.finish()
    provider.state.save()
    return provider


SIMPLE = {"name": "x", "image": "sha256:1", "memory": 64, "memorySwap": 64, "restart": "unless-stopped",
          "healthcheck": {"tests": ["CMD", "true"], "interval": "15s", "timeout": "5s", "startPeriod": "1m0s", "retries": 3}}


def test_a_container_removed_by_hand_is_recreated_only_with_refresh(tmp_path):
    engine = _FakeEngine()
    _deploy_container(tmp_path, engine, SIMPLE)
    (cid,) = engine.containers_by_id
    engine.remove_container(cid)
    plain = _deploy_container(tmp_path, engine, SIMPLE)
    assert [a["op"] for a in plain.actions] == ["same"] and engine.containers_by_id == {}
    assert plain.warnings and "refresh" in plain.warnings[0]
    refreshed = _deploy_container(tmp_path, engine, SIMPLE, refresh=True)
    assert [a["op"] for a in refreshed.actions] == ["refresh", "create"]
    assert len(engine.containers_by_id) == 1


def test_a_60s_healthcheck_is_replaced_on_every_deploy_and_1m0s_never(tmp_path):
    engine = _FakeEngine()
    sixty = {**SIMPLE, "healthcheck": {**SIMPLE["healthcheck"], "startPeriod": "60s"}}
    _deploy_container(tmp_path / "a", engine, sixty)
    again = _deploy_container(tmp_path / "a", engine, sixty)
    assert [(a["op"], a["diff"]) for a in again.actions] == [("replace", ["healthcheck"])]
    _deploy_container(tmp_path / "b", engine, SIMPLE)
    assert [a["op"] for a in _deploy_container(tmp_path / "b", engine, SIMPLE).actions] == ["same"]


def test_memory_is_updated_in_place_and_the_state_then_holds_the_plan(tmp_path):
    engine = _FakeEngine()
    _deploy_container(tmp_path, engine, SIMPLE)
    more = {**SIMPLE, "memory": 128, "memorySwap": 128}
    updated = _deploy_container(tmp_path, engine, more)
    assert [(a["op"], a["diff"]) for a in updated.actions] == [("update", ["memory", "memorySwap"])]
    assert engine.calls[-1].startswith("update")
    assert [a["op"] for a in _deploy_container(tmp_path, engine, more).actions] == ["same"]
