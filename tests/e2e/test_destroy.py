"""Removing the stack from a real engine: containers and its own network go, the kept volume stays."""

from __future__ import annotations

import pytest

from . import harness
from .conftest import APP_NETWORK, BACKEND, deploy_clean, stack_containers

pytestmark = pytest.mark.e2e


def test_removing_the_stack_keeps_the_data_volume_and_leaves_the_app_alone(app, engine, tmp_path_factory):
    deployed = deploy_clean("monstack-ci-gone", tmp_path_factory.mktemp("stack-gone"))
    volume = engine.inspect_volume(f"{deployed.name}-prometheus-data")
    network = f"{deployed.name}-monitoring"
    assert stack_containers(engine, deployed.name)
    app_network_id = engine.inspect_network(APP_NETWORK)["Id"]

    result = harness.destroy(state_dir=deployed.state_dir)

    # Both data volumes (Prometheus' TSDB, Alertmanager's silences) are kept.
    assert sorted((a["name"], a["op"]) for a in result.actions if a["type"] == harness.VOLUME) == [
        ("monstack-alertmanager-data", "retain"),
        ("monstack-prometheus-data", "retain"),
    ]
    kept = engine.inspect_volume(volume["Name"])
    assert (kept["Name"], kept["CreatedAt"]) == (volume["Name"], volume["CreatedAt"])
    assert engine.inspect_volume(f"{deployed.name}-alertmanager-data")["Name"] == f"{deployed.name}-alertmanager-data"
    assert stack_containers(engine, deployed.name) == {}
    assert all(n["Name"] != network for n in engine.networks())
    # The app's network and backend belong to the app: untouched.
    assert engine.inspect_network(APP_NETWORK)["Id"] == app_network_id
    assert engine.inspect_container(BACKEND)["State"]["Running"]
