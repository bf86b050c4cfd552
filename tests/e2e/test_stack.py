"""The ci stack deployed on a real Docker engine: targets up, data kept, nothing exposed, idempotent."""

from __future__ import annotations

import ipaddress
import time

import pytest
from docker.errors import NotFound

from backend_metrics.names import HTTP_REQUESTS_TOTAL
from catalogue import mongodb_exporter as mongodb
from catalogue import node_exporter as node
import catalogue
from catalogue import alert_rules
from stack.config import settings_from_mapping

from . import harness
from .conftest import (
    BACKEND,
    NOT_RUN_HERE,
    REPORT,
    docker_exec,
    prometheus_api,
    raw_samples,
    stack_containers,
    targets,
    wait_all_targets_up,
    wait_ready,
)

pytestmark = pytest.mark.e2e


def _settings(config: dict):
    plain = {key.split(":", 1)[1]: value for key, value in config.items()}
    return settings_from_mapping(plain)


def _listening(port: int) -> set[str]:
    """Host addresses with a TCP socket listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for path, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = open(path).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, _, state = line.split()[1:4]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(addr_hex)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(raw)))
    return found


def test_every_target_is_up_by_its_second_scrape_and_the_time_to_up_is_printed(stack):
    settings = _settings(stack.config)
    current = targets(stack.url)
    expected_jobs = {
        catalogue.prometheus.JOB,
        catalogue.backend.JOB,
        catalogue.mongodb_exporter.JOB,
        catalogue.node_exporter.JOB,
        catalogue.alertmanager.JOB,
    }
    assert {t["labels"]["job"] for t in current} == expected_jobs
    assert all(t["health"] == "up" for t in current), [(t["scrapeUrl"], t["lastError"]) for t in current]
    # Prometheus' own record of every scrape since the deploy: each target's first successful
    # scrape is its first or second one (two scrape intervals after Prometheus started scraping it).
    series = raw_samples(stack.url, "up", "1h", time.time())
    assert len(series) == len(current)
    for labels, values in series.items():
        first_up = next(i for i, (_, value) in enumerate(values) if value == "1")
        assert first_up <= 1, f"{labels} was down for {first_up} scrapes first: {values[:4]}"
    elapsed = stack.all_up_at - stack.deploy_started
    print(f"clean deploy to all targets up: {elapsed:.1f}s (scrape interval {settings.prometheus.scrape_interval})")
    assert elapsed > 0


def test_prometheus_ingests_samples_from_the_backend_and_node_exporter(stack, engine):
    prometheus = f"{stack.name}-prometheus"
    for _ in range(3):  # requests the backend counts, sent from inside the app's network
        docker_exec(prometheus, "wget", "-q", "-O", "/dev/null", f"http://{BACKEND}:8000/tickets")
    wanted = {
        catalogue.backend.JOB: f'{HTTP_REQUESTS_TOTAL}{{job="{catalogue.backend.JOB}",route="/tickets"}}',
        catalogue.node_exporter.JOB: f'{node.CPU_SECONDS_TOTAL}{{job="{catalogue.node_exporter.JOB}"}}',
    }
    interval = _settings(stack.config).prometheus.scrape_interval
    deadline = time.monotonic() + 120
    found: dict[str, list] = {}
    while time.monotonic() < deadline:
        found = {job: prometheus_api(stack.url, "query", query=query)["result"] for job, query in wanted.items()}
        if all(found.values()):
            break
        time.sleep(1)
    assert found[catalogue.backend.JOB], f"no {HTTP_REQUESTS_TOTAL} from the backend (scrape interval {interval})"
    assert sum(float(r["value"][1]) for r in found[catalogue.backend.JOB]) >= 3
    assert found[catalogue.node_exporter.JOB], f"no {node.CPU_SECONDS_TOTAL} from node exporter"
    # The MongoDB exporter is up although its MongoDB does not exist: it says so in mongodb_up.
    mongodb_up = prometheus_api(stack.url, "query", query=f'{mongodb.UP}{{job="{catalogue.mongodb_exporter.JOB}"}}')["result"]
    assert [r["value"][1] for r in mongodb_up] == ["0"]


def test_prometheus_loads_every_alert_rule_the_stack_declares(stack):
    loaded = {
        rule["name"]
        for group in prometheus_api(stack.url, "rules")["groups"]
        for rule in group["rules"]
        if rule["type"] == "alerting"
    }
    assert loaded == {rule.name for rule in alert_rules(_settings(stack.config))}


def test_nothing_is_published_on_another_address_than_the_configured_one(stack, engine):
    settings = _settings(stack.config)
    containers = stack_containers(engine, stack.name)
    assert containers, "the stack has no containers on the engine"
    published = set()
    for name, info in containers.items():
        for port, bindings in (info["HostConfig"].get("PortBindings") or {}).items():
            for binding in bindings or []:
                published.add((name, port, binding["HostIp"], binding["HostPort"]))
        for port, bindings in (info["NetworkSettings"].get("Ports") or {}).items():
            for binding in bindings or []:
                published.add((name, port, binding["HostIp"], binding["HostPort"]))
        assert not info["HostConfig"].get("PublishAllPorts"), name
    assert published == {
        (f"{stack.name}-prometheus", "9090/tcp", settings.bind_address, str(settings.prometheus.port)),
        (f"{stack.name}-alertmanager", "9093/tcp", settings.bind_address, str(settings.alertmanager.port)),
    }
    # What listens on the host: the published port only on bindAddress, node exporter (in the
    # host's network namespace) only on its listen address.
    assert _listening(settings.prometheus.port) == {settings.bind_address}
    assert _listening(settings.alertmanager.port) == {settings.bind_address}
    assert _listening(settings.node_exporter.port) == {settings.node_exporter.listen_address}
    host_networked = {n for n, info in containers.items() if info["HostConfig"]["NetworkMode"] == "host"}
    assert host_networked == {f"{stack.name}-node-exporter"}


def test_a_removed_container_is_recreated_only_by_a_deploy_with_refresh_and_keeps_its_samples(stack, engine):
    prometheus = f"{stack.name}-prometheus"
    volume = engine.inspect_volume(_settings(stack.config).prometheus_volume)
    at = time.time() - 1
    before = raw_samples(stack.url, 'up{job="prometheus"}', "10m", at)
    assert before and all(before.values())

    engine.restart(prometheus)
    wait_ready(stack.url)
    assert raw_samples(stack.url, 'up{job="prometheus"}', "10m", at) == before

    # Removed behind the tool's back (killed, as `docker rm -f` does).  A deploy without refresh
    # plans from the state alone, as the provider does: it leaves it alone (the harness reports it).
    old_id = engine.inspect_container(prometheus)["Id"]
    engine.remove_container(prometheus, force=True)
    plain = stack.deploy()
    assert plain.changed == []
    assert [w.split(":")[0] for w in plain.warnings] == ["monstack-prometheus-container"]
    with pytest.raises(NotFound):
        engine.inspect_container(prometheus)
    # `pulumi up --refresh`: Read finds it gone, so it is created again from the same declaration;
    # the TSDB lives on the named volume.
    result = stack.deploy(refresh=True)
    recreated = [(a["name"], a["op"]) for a in result.changed if a["type"] == harness.CONTAINER]
    assert recreated == [("monstack-prometheus-container", "create")]
    assert [a["name"] for a in result.changed if a["type"] != harness.CONTAINER] == []
    assert engine.inspect_container(prometheus)["Id"] != old_id
    wait_ready(stack.url)
    assert raw_samples(stack.url, 'up{job="prometheus"}', "10m", at) == before
    after = engine.inspect_volume(volume["Name"])
    assert (after["Name"], after["CreatedAt"]) == (volume["Name"], volume["CreatedAt"])
    wait_all_targets_up(stack.url)


def _engine_snapshot(engine, stack_name: str, settings) -> dict:
    containers = {
        name: (info["Id"], info["Created"], info["State"]["StartedAt"])
        for name, info in stack_containers(engine, stack_name).items()
    }
    volume = engine.inspect_volume(settings.prometheus_volume)
    network = engine.inspect_network(settings.monitoring_network)
    return {"containers": containers, "volume": (volume["Name"], volume["CreatedAt"]), "network": network["Id"]}


def test_redeploying_unchanged_settings_changes_nothing_on_the_engine(stack, engine):
    settings = _settings(stack.config)
    before = _engine_snapshot(engine, stack.name, settings)
    result = stack.deploy()
    assert result.changed == []
    assert _engine_snapshot(engine, stack.name, settings) == before


def test_ci_stack_runs_without_grafana_and_cadvisor_because_no_image_can_be_built(stack, engine):
    settings = _settings(stack.config)
    assert not settings.grafana.enabled and not settings.cadvisor.enabled
    services = {info["Config"]["Labels"].get("monstack.service") for info in stack_containers(engine, stack.name).values()}
    assert services == {
        catalogue.prometheus.JOB,
        catalogue.mongodb_exporter.JOB,
        catalogue.node_exporter.JOB,
        catalogue.alertmanager.JOB,
    }
    for service, reason in NOT_RUN_HERE.items():
        REPORT[f"note:{service}"] = f"checked: {service} is off in the ci stack and absent from the engine"
        print(f"not deployed: {reason}")


def test_a_memory_change_updates_an_exporter_in_place(stack, engine):
    """memory is one of the few inputs the provider updates without a new container.

    (Prometheus' own memoryMb also reaches its rule file, PrometheusNearMemoryLimit, so there a
    change replaces the container, keeping its volume; the exporters show the in-place path.)
    """
    exporter = f"{stack.name}-node-exporter"
    before = engine.inspect_container(exporter)
    original = stack.config
    changed = {**original, "monstack:nodeExporter": {**original["monstack:nodeExporter"], "memoryMb": 96}}
    try:
        result = stack.deploy(changed)
        updates = [(a["name"], a["op"], a["diff"]) for a in result.changed]
        assert updates == [("monstack-node-exporter-container", "update", ["memory", "memorySwap"])]
        after = engine.inspect_container(exporter)
        assert after["Id"] == before["Id"] and after["State"]["StartedAt"] == before["State"]["StartedAt"]
        assert after["HostConfig"]["Memory"] == 96 * 1024 * 1024
    finally:
        stack.deploy(original)
    assert engine.inspect_container(exporter)["HostConfig"]["Memory"] == before["HostConfig"]["Memory"]
