"""docs/architecture.md's "add a service" recipe, proved: a service registered in a catalogue built
for this test reaches the scrape config, the alert rules, the dashboards list and the containers."""

from __future__ import annotations

import sys
import textwrap
import types

import yaml

import catalogue
import dashboards
from stack.config import settings_from_mapping
from stack.render import PROMETHEUS_CONFIG_FILE, PROMETHEUS_RULES_FILE, render_alert_rules, render_prometheus_config
from tests.support.pulumi_program import PROJECT_ROOT, RecordingMocks, run_program

PROGRAM = textwrap.dedent(
    '''
    """A stack program whose catalogue has one more service: a Redis exporter."""
    import pulumi_docker as docker

    import catalogue
    from catalogue import AlertRule, ScrapeJob, Service
    from dashboards import render_dashboards
    from stack import config
    from stack.containers import service_container
    from stack.monstack import COMPONENTS, MonitoringStack

    import pulumi


    class RedisExporter(pulumi.ComponentResource):
        def __init__(self, name, ctx, opts=None):
            super().__init__("test:index:RedisExporter", name, None, opts)
            self.container = service_container(
                name, settings=ctx.settings, service="redis-exporter", image="oliver006/redis_exporter:v1.74.0",
                memory_mb=64, parent=self,
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=ctx.monitoring_network, aliases=["redis-exporter"])],
            )
            self.register_outputs({})


    REDIS = Service(
        "redis-exporter",
        port=9121,
        scrape=lambda settings: ScrapeJob("redis-exporter", ("redis-exporter:9121",)),
        alert_rules=lambda: [AlertRule("RedisDown", 'redis_up{job="redis-exporter"} == 0', "2m", "critical", "Redis is down", "redis_up is 0")],
        dashboard="redis",
    )
    SERVICES = (*catalogue.SERVICES, REDIS)

    settings, secrets = config.load()
    enabled = catalogue.enabled_services(settings, SERVICES)
    MonitoringStack(
        "monstack", settings, secrets, dashboards=render_dashboards(enabled), services=SERVICES,
        components={**COMPONENTS, "redis-exporter": lambda name, ctx, opts: RedisExporter(name, ctx, opts)},
    )
    '''
)


def redis_dashboard_module() -> types.ModuleType:
    """What `dashboards/redis.py` would be: grafanalib panels built from the service's names."""
    from dashboards.panels import Query, Row, dashboard, stat

    module = types.ModuleType("dashboards.redis")
    module.UID, module.TITLE, module.FILENAME = "monstack-redis", "Redis", "redis.json"
    module.build = lambda: dashboard(
        title="Redis", uid="monstack-redis", description="Redis exporter", tags=["redis"], variables=[],
        rows=[Row("Overview", [stat("Redis up", Query('min(redis_up{job="redis-exporter"})'), unit="none",
                                  description="1 while the exporter reaches Redis", thresholds=(("red", None), ("green", 1)))])],
    )
    return module


def test_a_registered_service_reaches_scrape_config_rules_dashboards_and_containers(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dashboards.redis", redis_dashboard_module())
    monkeypatch.setattr(dashboards, "redis", sys.modules["dashboards.redis"], raising=False)
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM)
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))

    deployment = run_program({}, secrets={"mongodbUri": "mongodb://mongo:27017"}, mocks=RecordingMocks(), program=program)

    containers = deployment.containers
    assert "monstack-dev-redis-exporter" in containers
    prometheus = containers["monstack-dev-prometheus"]
    uploads = {u["file"]: u["content"] for u in prometheus.inputs["uploads"]}
    jobs = {job["job_name"]: job for job in yaml.safe_load(uploads[PROMETHEUS_CONFIG_FILE])["scrape_configs"]}
    assert jobs["redis-exporter"]["static_configs"] == [{"targets": ["redis-exporter:9121"]}]
    rules = [r["alert"] for g in yaml.safe_load(uploads[PROMETHEUS_RULES_FILE])["groups"] for r in g["rules"]]
    assert "RedisDown" in rules
    grafana = containers["monstack-dev-grafana"]
    assert any(u["file"].endswith("/redis.json") for u in grafana.inputs["uploads"])


def test_the_default_catalogue_knows_nothing_of_the_test_service():
    """The extra service lives only in the test's catalogue: the product's renders stay as they were."""
    settings = settings_from_mapping({})
    assert "redis-exporter" not in {job["job_name"] for job in render_prometheus_config(settings)["scrape_configs"]}
    assert "RedisDown" not in {r["alert"] for g in render_alert_rules(settings)["groups"] for r in g["rules"]}
    assert all(service.name != "redis-exporter" for service in catalogue.SERVICES)
