"""What the whole program declares, run under Pulumi mocks exactly as `pulumi up` runs it."""

import pytest
import yaml

import catalogue
from stack.grafana import ADMIN_PASSWORD_FILE
from stack.render import PROMETHEUS_CONFIG_FILE
from stack.settings import _pinned_image
from tests.support.pulumi_program import PROJECT_ROOT
from tests.support.scrape import job_targets
from tests.unit.conftest import MONGODB_URI

# Every service of the catalogue that the stack runs a container for (the backend is the app's own).
SERVICES = tuple(service.name for service in catalogue.SERVICES if service.deployed)


def dev_stack_config():
    """The committed Pulumi.dev.yaml, as the CLI would hand it to the program."""
    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    return document["config"]


def upload(container, path):
    return next(u["content"] for u in container.inputs["uploads"] if u["file"] == path)


def env(container):
    return dict(item.split("=", 1) for item in container.inputs.get("envs", []))


def test_dev_stack_declares_every_deployed_service_of_the_catalogue(deploy):
    deployment = deploy(dev_stack_config())
    assert sorted(deployment.containers) == sorted(f"monstack-dev-{s}" for s in SERVICES)


def test_every_image_is_pinned(deploy):
    deployment = deploy(dev_stack_config())
    images = deployment.of_type("docker:index/remoteImage:RemoteImage")
    assert len(images) == len(SERVICES)
    for image in images:
        assert _pinned_image(image.inputs["name"]) == image.inputs["name"]
        assert image.inputs["keepLocally"] is True


@pytest.mark.parametrize("bind_address", ["127.0.0.1", "10.1.2.3", "::1"])
def test_every_published_port_is_bound_to_the_configured_address(deploy, bind_address):
    deployment = deploy({"bindAddress": bind_address})
    published = [(name, port) for name, c in deployment.containers.items() for port in c.inputs.get("ports", [])]
    assert {name for name, _ in published} == {"monstack-dev-prometheus", "monstack-dev-grafana"}
    for name, port in published:
        assert port["ip"] == bind_address, name


def test_ports_default_to_loopback(deploy):
    deployment = deploy()
    for container in deployment.containers.values():
        for port in container.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1"


def scrape_targets(deployment):
    return job_targets(yaml.safe_load(upload(deployment.containers["monstack-dev-prometheus"], PROMETHEUS_CONFIG_FILE)))


def reachable_names(deployment, prometheus):
    """Names Prometheus resolves: aliases and container names on networks it shares, /etc/hosts entries."""
    networks = {n["name"] for n in prometheus.inputs["networksAdvanced"]}
    reachable = {"localhost"}
    for name, container in deployment.containers.items():
        for net in container.inputs.get("networksAdvanced", []):
            if net["name"] in networks:
                reachable.add(name)
                reachable.update(net.get("aliases", []))
    reachable.update(h["host"] for h in prometheus.inputs.get("hosts", []))
    return reachable


def test_every_scraped_service_is_reachable_from_prometheus(deploy):
    deployment = deploy({"appNetwork": "helpdesk_default"}, existing_networks=["helpdesk_default"])
    prometheus = deployment.containers["monstack-dev-prometheus"]
    reachable = reachable_names(deployment, prometheus)
    targets = scrape_targets(deployment)
    assert set(targets) == {service.job for service in catalogue.SERVICES if service.scrape}
    for job, job_targets in targets.items():
        if job == catalogue.backend.JOB:
            continue  # the app's own containers; Prometheus joins their network, checked below
        for target in job_targets:
            assert target.rsplit(":", 1)[0] in reachable, (job, target)
    # The backend is found by its service name on the app's network, which Prometheus joins.
    assert "helpdesk_default" in {n["name"] for n in prometheus.inputs["networksAdvanced"]}


def test_node_exporter_is_reached_through_the_host_gateway_where_it_listens(deploy):
    deployment = deploy({"nodeExporter": {"listenAddress": "172.18.0.1", "port": 9101}})
    node = deployment.containers["monstack-dev-node-exporter"]
    prometheus = deployment.containers["monstack-dev-prometheus"]
    assert node.inputs["networkMode"] == "host" and node.inputs["pidMode"] == "host"
    assert "--web.listen-address=172.18.0.1:9101" in node.inputs["command"]
    (target,) = scrape_targets(deployment)[catalogue.node_exporter.JOB]
    host, port = target.rsplit(":", 1)
    assert port == "9101"
    assert {"host": host, "ip": "172.18.0.1"} in prometheus.inputs["hosts"]


def test_node_exporter_never_listens_on_every_host_address(deploy):
    node = deploy().containers["monstack-dev-node-exporter"]
    listen = next(a for a in node.inputs["command"] if a.startswith("--web.listen-address="))
    assert not listen.split("=", 1)[1].startswith((":", "0.0.0.0", "[::]"))


def test_the_apps_network_is_joined_never_created(deploy):
    deployment = deploy({"appNetwork": "helpdesk_default"}, existing_networks=["helpdesk_default"])
    assert [n.inputs["name"] for n in deployment.networks] == ["monstack-dev-monitoring"]
    assert ("docker:index/getNetwork:getNetwork", {"name": "helpdesk_default"}) in deployment.invokes
    assert deployment.outputs["app_network_name"] == "helpdesk_default"


def test_an_app_network_is_created_when_none_is_configured(deploy):
    deployment = deploy()
    created = {n.inputs["name"]: n.inputs for n in deployment.networks}
    assert set(created) == {"monstack-dev-monitoring", "monstack-dev-app"}
    assert not any(n.get("internal") for n in created.values())


def test_volumes_are_named_and_kept_on_delete(deploy):
    deployment = deploy()
    volumes = {v.inputs["name"]: v for v in deployment.volumes}
    assert set(volumes) == {"monstack-dev-prometheus-data", "monstack-dev-grafana-data"}
    for volume in volumes.values():
        assert volume.retain_on_delete
        assert not volume.protect


def test_volumes_are_protected_when_asked(deploy):
    deployment = deploy({"protectData": True})
    assert all(v.protect and v.retain_on_delete for v in deployment.volumes)


def test_data_lives_on_the_named_volumes(deploy):
    containers = deploy().containers
    assert containers["monstack-dev-prometheus"].inputs["volumes"] == [
        {"containerPath": "/prometheus", "volumeName": "monstack-dev-prometheus-data"}
    ]
    assert containers["monstack-dev-grafana"].inputs["volumes"] == [
        {"containerPath": "/var/lib/grafana", "volumeName": "monstack-dev-grafana-data"}
    ]


def test_containers_with_fixed_names_and_ports_are_deleted_before_replacement(deploy):
    for container in deploy().containers.values():
        assert container.delete_before_replace, container.name


def test_a_changed_healthcheck_replaces_the_container(deploy):
    for container in deploy().containers.values():
        if "healthcheck" in container.inputs:
            assert "healthcheck" in container.replace_on_changes


def test_grafana_has_no_default_or_plain_text_password(deploy):
    deployment = deploy()
    grafana = deployment.containers["monstack-dev-grafana"]
    environment = env(grafana)
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    assert environment["GF_SECURITY_ADMIN_PASSWORD__FILE"] == ADMIN_PASSWORD_FILE
    (generated,) = deployment.of_type("random:index/randomPassword:RandomPassword")
    assert generated.inputs["length"] >= 20
    assert upload(grafana, ADMIN_PASSWORD_FILE) == deployment.outputs["grafana_admin_password"]
    assert deployment.outputs["grafana_admin_password"] not in ("admin", "")


def test_grafana_uses_the_configured_secret_password(deploy):
    deployment = deploy(secrets={"mongodbUri": MONGODB_URI, "grafanaAdminPassword": "correct horse battery"})
    grafana = deployment.containers["monstack-dev-grafana"]
    assert not deployment.of_type("random:index/randomPassword:RandomPassword")
    assert upload(grafana, ADMIN_PASSWORD_FILE) == "correct horse battery"
    assert "correct horse battery" not in " ".join(grafana.inputs["envs"])


def test_grafana_disables_anonymous_access_and_sign_up(deploy):
    environment = env(deploy().containers["monstack-dev-grafana"])
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert environment["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_grafana_provisions_the_prometheus_datasource_by_uid(deploy):
    grafana = deploy().containers["monstack-dev-grafana"]
    datasources = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/datasources/monstack.yaml"))
    (source,) = datasources["datasources"]
    assert source["uid"] == catalogue.grafana.PROMETHEUS_DATASOURCE_UID
    assert source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load(upload(grafana, "/etc/grafana/provisioning/dashboards/monstack.yaml"))
    assert provider["providers"][0]["options"]["path"] == catalogue.grafana.DASHBOARDS_DIR


def test_mongodb_uri_reaches_the_exporter_only_as_a_secret_env(deploy):
    exporter = deploy().containers["monstack-dev-mongodb-exporter"]
    assert env(exporter)["MONGODB_URI"] == MONGODB_URI


@pytest.mark.parametrize("service", ["node-exporter", "cadvisor"])
def test_host_mounts_are_read_only(deploy, service):
    container = deploy().containers[f"monstack-dev-{service}"]
    assert container.inputs["mounts"]
    for mount in container.inputs["mounts"]:
        assert mount["readOnly"] is True, mount


def test_node_exporter_sees_the_host_filesystem(deploy):
    node = deploy().containers["monstack-dev-node-exporter"]
    (mount,) = node.inputs["mounts"]
    assert (mount["source"], mount["target"], mount["bindOptions"]["propagation"]) == ("/", "/host", "rslave")
    assert "--path.rootfs=/host" in node.inputs["command"]


def test_no_container_is_privileged_and_all_drop_capabilities(deploy):
    for name, container in deploy().containers.items():
        assert not container.inputs.get("privileged"), name
        assert container.inputs["capabilities"] == {"drops": ["ALL"]}, name
        assert "no-new-privileges:true" in container.inputs["securityOpts"], name
        assert container.inputs["memory"] > 0, name


def test_switched_off_services_are_not_declared(deploy):
    deployment = deploy(
        {
            "grafana": {"enabled": False},
            "cadvisor": {"enabled": False},
            "mongodbExporter": {"enabled": False},
            "nodeExporter": {"enabled": False},
        },
        secrets={},
    )
    assert list(deployment.containers) == ["monstack-dev-prometheus"]
    always_on = [s.job for s in catalogue.SERVICES if s.scrape and s.settings_key is None]
    assert always_on == [catalogue.prometheus.JOB, catalogue.backend.JOB]
    assert list(scrape_targets(deployment)) == always_on
    assert "grafana_url" not in deployment.outputs


def test_stack_outputs(deploy):
    outputs = deploy({"prometheus": {"port": 19090}, "grafana": {"port": 13000}}).outputs
    assert outputs["prometheus_url"] == "http://127.0.0.1:19090"
    assert outputs["grafana_url"] == "http://127.0.0.1:13000"
    assert outputs["network_name"] == "monstack-dev-monitoring"
    assert outputs["grafana_admin_password"]


def test_components_own_their_children(deploy):
    deployment = deploy()
    (top,) = deployment.of_type("monstack:index:Stack")
    for resource in deployment.resources:
        if resource is not top:
            assert resource.parent.endswith(("::monstack", *(f"::monstack-{s}" for s in SERVICES))), resource.urn


def test_secrets_stay_secret_in_the_declared_inputs(deploy):
    containers = deploy().containers
    assert "envs" in containers["monstack-dev-mongodb-exporter"].secret_inputs
    assert "uploads" in containers["monstack-dev-grafana"].secret_inputs
    assert not containers["monstack-dev-prometheus"].secret_inputs


def test_grafana_receives_every_built_dashboard(deploy):
    from dashboards import render_dashboards

    grafana = deploy().containers["monstack-dev-grafana"]
    built = render_dashboards()
    assert built
    for filename, text in built.items():
        assert upload(grafana, f"{catalogue.grafana.DASHBOARDS_DIR}/{filename}") == text


def test_a_dashboard_change_replaces_grafana_but_not_its_volume(monkeypatch, deploy):
    import dashboards

    before = deploy()
    built = dashboards.render_dashboards()
    changed = {name: text.replace('"title"', '"title" ', 1) for name, text in built.items()}
    monkeypatch.setattr(dashboards, "render_dashboards", lambda services=(): changed)
    after = deploy()
    grafana = "monstack-dev-grafana"
    assert before.containers[grafana].inputs["uploads"] != after.containers[grafana].inputs["uploads"]
    assert before.containers[grafana].inputs["labels"] != after.containers[grafana].inputs["labels"]
    # Registration order varies between runs (Pulumi registers from several threads).
    assert {v.urn: v.inputs for v in before.volumes} == {v.urn: v.inputs for v in after.volumes}
    prometheus = "monstack-dev-prometheus"
    assert before.containers[prometheus].inputs == after.containers[prometheus].inputs


def test_prometheus_receives_its_alert_rules(deploy):
    from stack.render import render_alert_rules
    from stack.config import settings_from_mapping
    from stack.render import PROMETHEUS_RULES_FILE, to_yaml

    prometheus = deploy().containers["monstack-dev-prometheus"]
    expected = to_yaml(render_alert_rules(settings_from_mapping({}, default_name="monstack-dev")))
    assert upload(prometheus, PROMETHEUS_RULES_FILE) == expected


def test_every_urn_of_an_existing_dev_stack_is_still_declared(deploy):
    """An upgrade must not rename (= delete and re-create) anything a user's dev stack already has.

    tests/fixtures/dev-stack-urns.txt lists the URNs the dev stack declared before the service
    catalogue (issue 8); new services may add URNs, none may go.
    """
    before = set((PROJECT_ROOT / "tests" / "fixtures" / "dev-stack-urns.txt").read_text().split())
    now = {resource.urn for resource in deploy(dev_stack_config()).resources}
    assert before - now == set()


def prometheus_config(deployment):
    return yaml.safe_load(upload(deployment.containers["monstack-dev-prometheus"], PROMETHEUS_CONFIG_FILE))


def test_every_backend_replica_is_discovered_by_dns(deploy):
    """`backend:8000` is looked up (A records) at every refresh: each replica behind the alias is a target."""
    config = prometheus_config(deploy({"backendTargets": ["backend:8000", "api:8000", "worker:9000"]}))
    (backend,) = [job for job in config["scrape_configs"] if job["job_name"] == catalogue.backend.JOB]
    assert "static_configs" not in backend
    assert backend["dns_sd_configs"] == [
        {"names": ["backend", "api"], "type": "A", "port": 8000, "refresh_interval": "15s"},
        {"names": ["worker"], "type": "A", "port": 9000, "refresh_interval": "15s"},
    ]


def test_a_backend_given_by_address_is_scraped_as_written(deploy):
    config = prometheus_config(deploy({"backendTargets": ["10.0.0.7:8000", "backend:8000"]}))
    (backend,) = [job for job in config["scrape_configs"] if job["job_name"] == catalogue.backend.JOB]
    assert backend["static_configs"] == [{"targets": ["10.0.0.7:8000"]}]
    assert backend["dns_sd_configs"][0]["names"] == ["backend"]


@pytest.mark.parametrize("interval", ["5s", "15s", "1m"])
def test_cadvisor_samples_every_container_at_the_scrape_interval(deploy, interval):
    """No dynamic housekeeping: an idle container still has a sample per scrape, so rate() finds two."""
    command = deploy({"prometheus": {"scrapeInterval": interval}}).containers["monstack-dev-cadvisor"].inputs["command"]
    assert f"--housekeeping_interval={interval}" in command
    assert "--allow_dynamic_housekeeping=false" in command


def test_cadvisor_reaches_containerd_for_the_containerd_image_store(deploy):
    """cAdvisor >= 0.54 reads containers' root filesystems through containerd's socket (Docker 29+)."""
    cadvisor = deploy().containers["monstack-dev-cadvisor"]
    version = tuple(int(part) for part in catalogue.cadvisor.VERSION.split("."))
    assert version >= (0, 54, 0)
    run = next(m for m in cadvisor.inputs["mounts"] if m["target"] == "/var/run")
    assert run["source"] == "/var/run" and run["readOnly"] is True
    assert f"--containerd={catalogue.cadvisor.CONTAINERD_SOCKET}" in cadvisor.inputs["command"]
    assert catalogue.cadvisor.CONTAINERD_SOCKET.startswith("/run/")  # inside /var/run (-> /run) as bound


def test_the_default_cadvisor_image_is_the_catalogues_version(deploy):
    images = {i.inputs["name"] for i in deploy().of_type("docker:index/remoteImage:RemoteImage")}
    assert f"ghcr.io/google/cadvisor:v{catalogue.cadvisor.VERSION}" in images
