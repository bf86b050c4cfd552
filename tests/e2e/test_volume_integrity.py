"""Volume integrity on a real engine: settings changes re-deployed one after another keep the volume and its data."""

from __future__ import annotations

import copy
import time

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from . import harness
from .conftest import (
    deploy_clean,
    docker_exec,
    free_port,
    raw_samples,
    wait_all_targets_up,
)

pytestmark = pytest.mark.e2e

IMAGES = ("monstack-local/prometheus:2.42.0", "monstack-local/prometheus:2.42.0-b")
MARKER = "/prometheus/monstack-e2e-marker"


@pytest.fixture(scope="module")
def prop_stack(app, images, engine, tmp_path_factory):
    """A second ci stack of its own (name monstack-ci-prop), with two free ports to move between."""
    assert set(IMAGES) <= set(images)
    deployed = deploy_clean("monstack-ci-prop", tmp_path_factory.mktemp("stack-prop"))
    prometheus = f"{deployed.name}-prometheus"
    token = f"written-{time.time_ns()}"
    docker_exec(prometheus, "sh", "-c", f"echo {token} > {MARKER}")
    volume_name = f"{deployed.name}-prometheus-data"
    deployed.extras.update(
        token=token,
        volume=engine.inspect_volume(volume_name),
        ports=(deployed.config["monstack:prometheus"]["port"], free_port("127.0.0.1")),
        samples_at=time.time() - 1,
    )
    deployed.extras["samples"] = raw_samples(deployed.url, 'up{job="prometheus"}', "10m", deployed.extras["samples_at"])
    assert deployed.extras["samples"]
    yield deployed
    harness.destroy(state_dir=deployed.state_dir)


changes = st.fixed_dictionaries(
    {},
    optional={
        "retentionTime": st.sampled_from(["1d", "36h", "2d"]),
        "scrapeInterval": st.sampled_from(["5s", "4s"]),
        "port": st.sampled_from([0, 1]),  # index into the two reserved ports
        "image": st.sampled_from(IMAGES),
    },
)


@hsettings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(changes, min_size=1, max_size=2))
# Always one sequence that changes every kind of setting, whatever the random examples draw.
@example(steps=[{"image": IMAGES[1], "port": 1, "retentionTime": "2d"}, {"image": IMAGES[0], "scrapeInterval": "4s", "port": 0}])
def test_settings_changes_keep_the_volume_its_identity_and_its_data(prop_stack, engine, steps):
    extras = prop_stack.extras
    volume = extras["volume"]
    others = f"{prop_stack.name}-node-exporter", f"{prop_stack.name}-mongodb-exporter"
    for step in steps:
        config = copy.deepcopy(prop_stack.config)
        prometheus = config["monstack:prometheus"]
        for key, value in step.items():
            prometheus[key] = extras["ports"][value] if key == "port" else value
        declared_change = prometheus != prop_stack.config["monstack:prometheus"]
        before = {name: engine.inspect_container(name)["Id"] for name in others}

        result = prop_stack.deploy(config)

        # Exactly the Prometheus container is replaced, and only when its settings changed.
        replaced = {a["name"] for a in result.changed if a["type"] == harness.CONTAINER}
        assert replaced == ({"monstack-prometheus-container"} if declared_change else set())
        assert {name: engine.inspect_container(name)["Id"] for name in others} == before
        # The volume resource is untouched, and on the engine it is the same volume.
        assert [a["op"] for a in result.actions if a["type"] == harness.VOLUME and a["name"] == "monstack-prometheus-data"] == ["same"]
        now = engine.inspect_volume(volume["Name"])
        assert (now["Name"], now["CreatedAt"], now["Labels"]) == (volume["Name"], volume["CreatedAt"], volume["Labels"])
        mounted = [m for m in engine.inspect_container(f"{prop_stack.name}-prometheus")["Mounts"] if m["Destination"] == "/prometheus"]
        assert [(m["Type"], m["Name"]) for m in mounted] == [("volume", volume["Name"])]
        # Its data: the marker file and the samples written before the first change.
        assert docker_exec(f"{prop_stack.name}-prometheus", "cat", MARKER).strip() == extras["token"]
        wait_all_targets_up(prop_stack.url)
        assert raw_samples(prop_stack.url, 'up{job="prometheus"}', "10m", extras["samples_at"]) == extras["samples"]
