"""The stack on an engine of the tests' own: a daemon.json with default log options, a data volume
that existed before with someone else's labels, and a restart of the engine itself.

The shared engine may not get a daemon.json or a restart, so this module starts a second dockerd
(tests/e2e/own_engine.py) with its own roots, socket and config, in a network namespace of its own,
loads the local images into it, and deploys the ci stack there through the harness (DOCKER_HOST).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from . import harness
from .conftest import (
    HELPDESK_IMAGE,
    REPORT,
    deploy_clean,
    raw_samples,
    stack_containers,
    start_app,
    wait_all_targets_up,
    wait_ready,
)
from .own_engine import OwnEngine

pytestmark = pytest.mark.e2e

STACK = "monstack-ci-own"
# Default log options in daemon.json for the driver the stack uses: Docker merges them into every
# container's LogConfig (moby daemon/logs.go mergeAndVerifyLogConfig).
DAEMON_CONFIG = {"log-driver": "local", "log-opts": {"max-size": "5m", "max-file": "2"}}
FOREIGN_LABELS = {"owner": "ops-team", "backup": "nightly"}


@pytest.fixture(scope="module")
def own(images):
    """A second dockerd with DAEMON_CONFIG, holding copies of the images the ci stack runs."""
    config = harness.ci_config()
    wanted = sorted({value["image"] for value in config.values()
                     if isinstance(value, dict) and "image" in value and value.get("enabled", True)} | {HELPDESK_IMAGE})
    assert set(wanted) <= set(images)
    engine = OwnEngine(Path(tempfile.mkdtemp(prefix="mse", dir="/tmp")), daemon_config=DAEMON_CONFIG)
    started = time.monotonic()
    try:
        engine.start()
        engine.load_images(wanted)
        REPORT["note:own-engine"] = (
            f"own dockerd ({engine.host}, network namespace {engine.netns}): started and loaded "
            f"{len(wanted)} images in {time.monotonic() - started:.1f}s"
        )
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="module")
def own_stack(own, tmp_path_factory):
    api = own.client()
    start_app(api)
    # The Prometheus data volume exists before the first deploy, made by someone else.
    volume = api.create_volume(f"{STACK}-prometheus-data", labels={**FOREIGN_LABELS, harness.HARNESS_LABEL: "1"})
    # In the engine's network namespace every port is free; Prometheus is published on the
    # namespace's loopback (as the ci stack says), which this process reaches through a relay.
    deployed = deploy_clean(STACK, tmp_path_factory.mktemp("stack-own"), docker_host=own.host,
                            node_exporter_listen=own.gateway, ports=(19090, 19100), reach=own.relay(19090))
    deployed.extras.update(volume_before=api.inspect_volume(volume["Name"]), first=deployed.result)
    yield deployed
    harness.destroy(state_dir=deployed.state_dir, docker_host=own.host)


def _snapshot(api, stack) -> dict:
    containers = {
        name: (info["Id"], info["Created"], info["State"]["StartedAt"])
        for name, info in stack_containers(api, stack.name).items()
    }
    volume = api.inspect_volume(f"{stack.name}-prometheus-data")
    network = api.inspect_network(f"{stack.name}-monitoring")
    return {"containers": containers, "volume": (volume["Name"], volume["CreatedAt"], volume["Labels"]),
            "network": network["Id"]}


def test_the_daemons_default_log_options_are_merged_into_every_container(own_stack, own):
    """The precondition of the next test: daemon.json's log-opts are really in effect."""
    containers = stack_containers(own.client(), own_stack.name)
    assert containers
    for name, info in containers.items():
        assert info["HostConfig"]["LogConfig"] == {"Type": "local", "Config": DAEMON_CONFIG["log-opts"]}, name


@pytest.mark.parametrize("refresh", [False, True], ids=["up", "up --refresh"])
def test_with_daemon_log_options_an_unchanged_redeploy_changes_nothing(own_stack, own, refresh):
    api = own.client()
    before = _snapshot(api, own_stack)
    result = own_stack.deploy(refresh=refresh)
    # With refresh every resource is read back from the engine first: nothing differs from the
    # declaration, so the declared values are the canonical ones the provider reads back.
    assert result.changed == [], result.changed
    assert result.warnings == []
    assert _snapshot(api, own_stack) == before


def test_a_data_volume_that_existed_with_other_labels_is_adopted_as_it_is_and_kept(own_stack, own):
    api = own.client()
    before = own_stack.extras["volume_before"]
    first = own_stack.extras["first"]
    # VolumeCreate hands the existing volume back.
    assert [a["op"] for a in first.actions if a["type"] == harness.VOLUME and "prometheus" in a["name"]] == ["create"]
    now = api.inspect_volume(before["Name"])
    assert (now["CreatedAt"], now["Labels"]) == (before["CreatedAt"], before["Labels"])
    assert {k: now["Labels"][k] for k in FOREIGN_LABELS} == FOREIGN_LABELS and "monstack.volume" not in now["Labels"]
    result = own_stack.deploy(refresh=True)
    assert [a["op"] for a in result.actions
            if a["type"] == harness.VOLUME and "prometheus" in a["name"]] == ["refresh", "same"]
    mounted = [m for m in api.inspect_container(f"{own_stack.name}-prometheus")["Mounts"] if m["Destination"] == "/prometheus"]
    assert [(m["Type"], m["Name"]) for m in mounted] == [("volume", before["Name"])]


def test_after_an_engine_restart_every_service_is_back_with_its_data_and_targets_up_without_a_deploy(own_stack, own):
    api = own.client()
    state_before = (own_stack.state_dir / "state.json").read_text()
    ids = {name: info["Id"] for name, info in stack_containers(api, own_stack.name).items()}
    at = time.time() - 1
    samples = raw_samples(own_stack.url, "up", "15m", at)
    assert samples and all(samples.values())

    took = own.restart()
    restarted = time.monotonic()
    wait_ready(own_stack.url)
    wait_all_targets_up(own_stack.url)
    back = time.monotonic() - restarted

    api = own.client()
    after = stack_containers(api, own_stack.name)
    assert {name: info["Id"] for name, info in after.items()} == ids  # the same containers, restarted by policy
    assert all(info["State"]["Running"] for info in after.values())
    assert raw_samples(own_stack.url, "up", "15m", at) == samples
    assert (own_stack.state_dir / "state.json").read_text() == state_before  # no deploy ran
    REPORT["note:engine-restart"] = (
        f"engine restart: dockerd stopped and started in {took:.1f}s; all targets up {back:.1f}s later, "
        f"{len(samples)} series with every sample kept"
    )
