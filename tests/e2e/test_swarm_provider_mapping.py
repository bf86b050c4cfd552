"""The harness' Swarm mapping (tests/e2e/swarm_provider.py), without an engine: the Engine API
ServiceSpec built from what Pulumi.swarm.yaml declares, as the real provider's createServiceSpec does."""

from __future__ import annotations

import yaml

from tests.support.pulumi_program import PROJECT_ROOT, RecordingMocks, run_program

from .swarm_provider import network_drift, read_networks, service_spec

CONFIG = yaml.safe_load((PROJECT_ROOT / "Pulumi.swarm.yaml").read_text())["config"]


def _specs():
    deployment = run_program(CONFIG, secrets={"mongodbUri": "mongodb://u:p-9f@mongo:27017/admin"}, stack="swarm",
                             mocks=RecordingMocks(existing_networks=["helpdesk"]))
    return {r.inputs["name"]: service_spec(r.inputs, "monstack.e2e") for r in deployment.of_type("docker:index/service:Service")}


def test_service_specs_carry_mode_placement_files_and_durations():
    specs = _specs()
    node = specs["monstack-swarm-node-exporter"]
    assert node["Mode"] == {"Global": {}}
    assert node["TaskTemplate"]["ContainerSpec"]["Hostname"] == "{{.Node.Hostname}}"
    assert node["TaskTemplate"]["ContainerSpec"]["Mounts"][0] == {
        "Type": "bind", "Source": "/", "Target": "/host", "ReadOnly": True, "BindOptions": {"Propagation": "rslave"}}
    prom = specs["monstack-swarm-prometheus"]
    assert prom["Mode"] == {"Replicated": {"Replicas": 1}}
    assert prom["TaskTemplate"]["Placement"] == {"Constraints": ["node.labels.monstack.data==true"]}
    assert prom["TaskTemplate"]["ContainerSpec"]["Healthcheck"]["Interval"] == 15 * 10**9
    assert prom["TaskTemplate"]["RestartPolicy"] == {"Condition": "any", "Delay": 5 * 10**9}
    files = {c["File"]["Name"]: c for c in prom["TaskTemplate"]["ContainerSpec"]["Configs"]}
    assert set(files) == {"/etc/prometheus/prometheus.yml", "/etc/prometheus/monstack.rules.yml"}
    assert all(c["ConfigName"].startswith("monstack-swarm-prometheus-") and c["File"]["Mode"] == 0o444 for c in files.values())
    grafana = specs["monstack-swarm-grafana"]["TaskTemplate"]["ContainerSpec"]
    assert [s["File"]["Name"] for s in grafana["Secrets"]] == ["/run/secrets/grafana-admin-password"]
    alertmanager = specs["monstack-swarm-alertmanager"]["TaskTemplate"]["ContainerSpec"]
    assert alertmanager["StopGracePeriod"] == 30 * 10**9
    assert all(spec["Labels"]["monstack.e2e"] == "1" for spec in specs.values())
    assert all(spec["TaskTemplate"]["ContainerSpec"]["CapabilityDrop"] == ["ALL"] for spec in specs.values())


def _read_back(spec: dict, network_ids: dict[str, str]) -> dict:
    """The service as Swarm stores it: every network Target resolved to the network's id."""
    networks = [{**n, "Target": network_ids.get(n["Target"], n["Target"])} for n in spec["TaskTemplate"]["Networks"]]
    return {"Spec": {**spec, "TaskTemplate": {**spec["TaskTemplate"], "Networks": networks}}}


def test_services_join_networks_by_id_so_the_read_back_state_matches():
    deployment = run_program(CONFIG, secrets={"mongodbUri": "mongodb://u:p-9f@mongo:27017/admin"}, stack="swarm",
                             mocks=RecordingMocks(existing_networks=["helpdesk"]))
    for service in deployment.of_type("docker:index/service:Service"):
        spec = service_spec(service.inputs, "monstack.e2e")
        state = {"taskSpec": {"networksAdvanceds": read_networks(_read_back(spec, {}))}}
        assert not network_drift(state, service.inputs), service.inputs["name"]


def test_a_network_declared_by_name_would_replace_the_service_at_every_plan():
    declared = {"taskSpec": {"networksAdvanceds": [{"name": "monitoring", "aliases": ["prometheus"]}]}}
    spec = {"TaskTemplate": {"Networks": [{"Target": "monitoring", "Aliases": ["prometheus"]}]}}
    state = {"taskSpec": {"networksAdvanceds": read_networks(_read_back(spec, {"monitoring": "k3x9"}))}}
    assert state["taskSpec"]["networksAdvanceds"] == [{"id": "k3x9", "aliases": ["prometheus"], "driverOpts": []}]
    assert network_drift(state, declared)
    by_id = {"taskSpec": {"networksAdvanceds": [{"id": "k3x9", "aliases": ["prometheus"]}]}}
    assert not network_drift(state, by_id)
