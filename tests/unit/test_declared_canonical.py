"""Every declared value is the one pulumi-docker reads back, so an unchanged `pulumi up` is a no-op.

The real program runs under mocks with every service on; each container's inputs become the
Engine API request the provider sends (the e2e harness' `container_spec`), Docker stores it as
its daemon would (moby: durations in nanoseconds, the daemon's default log-opts merged in when
the driver matches, `label=disable` added for the host's PID namespace, MemorySwap -1 without swap
accounting), and the provider's Read turns that
into the state the next `pulumi up` diffs the inputs against (tests/support/provider_state.py).
"""

from __future__ import annotations

import copy

import pytest

from tests.e2e.harness import HARNESS_LABEL, container_spec
from tests.support import provider_state as ps
from tests.unit.test_stack_declares import dev_stack_config

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"


def stored_by_docker(inputs: dict, *, daemon_log: dict | None = None, swap_limit: bool = True) -> dict:
    """`docker inspect` of a container created from the provider's request, as moby stores it."""
    spec = copy.deepcopy(container_spec(inputs))
    host = spec.pop("HostConfig")
    spec["Labels"].pop(HARNESS_LABEL)
    log = host["LogConfig"]
    default = daemon_log or {"Type": "json-file", "Config": {}}
    # daemon/logs.go mergeAndVerifyLogConfig: the default driver when none is given, and the
    # daemon's log-opts added for every key the container does not set, when the driver matches.
    if not log["Type"]:
        log["Type"] = default["Type"]
    if log["Type"] == default["Type"]:
        log["Config"] = {**default["Config"], **log["Config"]}
    # daemon/create.go generateSecurityOpt: the host's PID or IPC namespace (or privileged)
    # without a label option of the caller's gets `label=disable`.
    opts = host.get("SecurityOpt") or []
    if not any(o.startswith("label") for o in opts) and (
        host.get("PidMode") == "host" or host.get("IpcMode") == "host" or host.get("Privileged")
    ):
        host["SecurityOpt"] = [*opts, "label=disable"]
    # daemon/daemon_unix.go verifyPlatformContainerResources: without swap accounting.
    if not swap_limit and host.get("Memory", 0) > 0 and host.get("MemorySwap", 0) != -1:
        host["MemorySwap"] = -1
    ports = {key: [dict(b) for b in bindings] for key, bindings in (host.get("PortBindings") or {}).items()}
    return {
        "Name": "/" + inputs["name"],
        "Image": inputs["image"],
        "State": {"Running": True},
        "Config": spec,
        "HostConfig": host,
        "NetworkSettings": {"Ports": ports},
    }


@pytest.fixture(scope="module")
def declared():
    from tests.support.pulumi_program import RecordingMocks, run_program

    deployment = run_program(
        dev_stack_config(), secrets={"mongodbUri": "mongodb://mongo:27017"}, mocks=RecordingMocks()
    )
    for resource in deployment.resources:
        resource.inputs = _ints(resource.inputs)
    containers = deployment.of_type(CONTAINER)
    import catalogue

    assert {c.inputs["name"] for c in containers} == {f"monstack-dev-{s.name}" for s in catalogue.SERVICES if s.deployed}
    return deployment


def _ints(value):
    """Numbers as the provider's schema types them (Pulumi's wire format carries every number as a float)."""
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _plan(container, inspect) -> ps.Diff:
    state = ps.read_container(inspect, {**ps.CONTAINER_DEFAULTS, **container.inputs})
    return ps.diff_container(state, container.inputs, ignore_changes=container.ignore_changes)


def _replaced(container, diff: ps.Diff) -> set[str]:
    return diff.replace | (diff.keys & set(container.replace_on_changes))


DAEMONS = {
    "default daemon": None,
    # /etc/docker/daemon.json {"log-driver": "json-file", "log-opts": {...}}, a common hardening.
    "daemon.json json-file log-opts": {"Type": "json-file", "Config": {"max-size": "50m", "max-file": "5", "labels": "x"}},
    "daemon.json local log-opts": {"Type": "local", "Config": {"max-size": "5m"}},
}


@pytest.mark.parametrize("daemon", DAEMONS.values(), ids=DAEMONS.keys())
def test_an_unchanged_redeploy_plans_nothing_for_any_container(declared, daemon):
    for container in declared.of_type(CONTAINER):
        diff = _plan(container, stored_by_docker(container.inputs, daemon_log=daemon))
        assert not diff, f"{container.inputs['name']}: {diff}"


def test_every_healthcheck_duration_is_written_as_go_prints_it(declared):
    checked = 0
    for container in declared.of_type(CONTAINER):
        check = container.inputs.get("healthcheck")
        if not check:
            continue
        assert "healthcheck" in container.replace_on_changes
        for key in ("interval", "timeout", "startPeriod", "startInterval"):
            if key in check:
                canonical = ps.go_duration(ps.parse_go_duration(check[key]))
                assert check[key] == canonical, f"{container.inputs['name']}.healthcheck.{key}: declare {canonical!r}"
                checked += 1
    with_check = [c for c in declared.of_type(CONTAINER) if c.inputs.get("healthcheck")]
    assert with_check and checked >= 3 * len(with_check)  # interval, timeout, start period each


def test_a_60s_start_period_would_replace_the_container_on_every_up(declared):
    """The failure this guards against: `60s` is read back as `1m0s`."""
    grafana = next(c for c in declared.of_type(CONTAINER) if c.inputs["name"] == "monstack-dev-grafana")
    inputs = copy.deepcopy(grafana.inputs)
    inputs["healthcheck"]["startPeriod"] = "60s"
    state = ps.read_container(stored_by_docker(inputs), {**ps.CONTAINER_DEFAULTS, **inputs})
    assert state["healthcheck"]["startPeriod"] == "1m0s"
    diff = ps.diff_container(state, inputs)
    assert _replaced(grafana, diff) == {"healthcheck"}


def test_declared_log_options_would_pick_up_the_daemons_and_replace_every_container():
    """Why the stack declares no log_opts: declared ones come back merged with daemon.json's."""
    inputs = {"name": "x", "image": "sha256:1", "logDriver": "json-file", "logOpts": {"max-size": "10m"}}
    daemon = DAEMONS["daemon.json json-file log-opts"]
    state = ps.read_container(stored_by_docker(inputs, daemon_log=daemon), {**ps.CONTAINER_DEFAULTS, **inputs})
    assert state["logOpts"] == {"max-size": "10m", "max-file": "5", "labels": "x"}
    assert ps.diff_container(state, inputs).replace == {"logOpts"}


def test_without_swap_accounting_memory_swap_is_updated_in_place_once_never_replaced(declared):
    """Chosen behaviour: keep memory_swap = memory (no swap where the kernel can enforce it).

    Without swap accounting Docker stores -1; the next `pulumi up` shows an in-place update of
    memorySwap (ContainerUpdate, no restart), after which the state holds the plan, so a further
    `up` is a no-op until a refresh reads -1 again.
    """
    for container in declared.of_type(CONTAINER):
        inputs = container.inputs
        state = ps.read_container(stored_by_docker(inputs, swap_limit=False), {**ps.CONTAINER_DEFAULTS, **inputs})
        assert state["memorySwap"] == -1
        diff = ps.diff_container(state, inputs, ignore_changes=container.ignore_changes)
        assert diff.keys == {"memorySwap"} and diff.update == {"memorySwap"}, f"{inputs['name']}: {diff}"
        assert not _replaced(container, diff)
        after = ps.planned_container_state(state, inputs, diff)
        assert not ps.diff_container(after, inputs)


def test_extra_hosts_are_ipv4_so_they_read_back_whole(declared):
    for container in declared.of_type(CONTAINER):
        for host in container.inputs.get("hosts", []):
            read = ps._flatten_extra_hosts([f"{host['host']}:{host['ip']}"])
            assert read == [host], container.inputs["name"]
    # What an IPv6 address would do (why nodeExporter.listenAddress must be IPv4).
    assert ps._flatten_extra_hosts(["node-exporter.host:fd00::1"]) == [{"host": "node-exporter.host", "ip": "fd00"}]


def test_a_data_volume_that_already_exists_with_other_labels_is_adopted_without_a_replacement(declared):
    volumes = declared.of_type(VOLUME)
    assert {v.inputs["name"] for v in volumes} >= {"monstack-dev-prometheus-data", "monstack-dev-grafana-data"}
    for volume in volumes:
        found = {"Name": volume.inputs["name"], "Driver": "local", "Labels": {"owner": "someone-else"},
                 "Options": None, "Mountpoint": "/var/lib/docker/volumes/x/_data"}
        state = ps.read_volume(found, volume.inputs)
        assert state["labels"] == [{"label": "owner", "value": "someone-else"}]
        assert ps.diff_volume(state, volume.inputs).replace == {"labels"}  # what ignore_changes is for
        assert not ps.diff_volume(state, volume.inputs, ignore_changes=volume.ignore_changes), volume.name
        # A volume the stack created reads back with its own label: nothing to ignore.
        own = {**found, "Labels": {l["label"]: l["value"] for l in volume.inputs["labels"]}}
        assert not ps.diff_volume(ps.read_volume(own, volume.inputs), volume.inputs)


@pytest.mark.parametrize(
    ("ns", "text"),
    [  # outputs of Go's time.Duration.String()
        (0, "0s"), (1, "1ns"), (1_500, "1.5µs"), (2_000_000, "2ms"), (10**9, "1s"), (1_500_000_000, "1.5s"),
        (60 * 10**9, "1m0s"), (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"),
        (3600 * 10**9 + 15 * 60 * 10**9 + 30 * 10**9 + 918273645, "1h15m30.918273645s"),
    ],
)
def test_go_duration_prints_like_go(ns, text):
    assert ps.go_duration(ns) == text
    assert ps.parse_go_duration(text) == ns
