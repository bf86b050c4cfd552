"""Properties that hold for every valid configuration."""

import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from stack.config import settings_from_mapping
from stack.render import render_alert_rules
from stack.render import PROMETHEUS_RULES_NAME, render_prometheus_config, to_yaml
from tests.property.strategies import stack_config
from tests.support.pulumi_program import PROJECT_ROOT, RecordingMocks, run_program
from tests.support.scrape import job_targets
from tests.support.tools import require_binary

MONGODB_URI = {"mongodbUri": "mongodb://mongo:27017"}
PROGRAM_RUNS = hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_RENDER_IN_A_FRESH_INTERPRETER = """
import json, sys
from stack.config import settings_from_mapping
from stack.render import render_alert_rules, render_grafana_datasources, render_prometheus_config, to_yaml
from dashboards import render_dashboards
out = []
for config in json.load(sys.stdin):
    settings = settings_from_mapping(config)
    out.append([to_yaml(render_prometheus_config(settings)), to_yaml(render_alert_rules(settings)),
                to_yaml(render_grafana_datasources(settings))])
out.append(sorted(render_dashboards().items()))
json.dump(out, sys.stdout)
"""


def render_in_fresh_interpreter(configs, hash_seed: int):
    """What the renderers write for these configs, in a new interpreter with this str-hash seed."""
    result = subprocess.run(
        [sys.executable, "-c", _RENDER_IN_A_FRESH_INTERPRETER],
        input=json.dumps(configs), capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": str(hash_seed)}, cwd=PROJECT_ROOT,
    )
    return json.loads(result.stdout)


@given(st.lists(stack_config, min_size=4, max_size=4))
@hsettings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_rendered_files_are_the_same_bytes_in_every_run(configs):
    """Set and dict order varies with the hash seed between processes; the files must not."""
    assert render_in_fresh_interpreter(configs, 1) == render_in_fresh_interpreter(configs, 2)


@given(stack_config)
@hsettings(max_examples=25, deadline=None)
def test_rendered_prometheus_config_and_rules_pass_promtool(tmp_path_factory, config):
    promtool = require_binary("promtool")
    settings = settings_from_mapping(config)
    directory = tmp_path_factory.mktemp("prom")
    path = directory / "prometheus.yml"
    path.write_text(to_yaml(render_prometheus_config(settings)))
    (directory / PROMETHEUS_RULES_NAME).write_text(to_yaml(render_alert_rules(settings)))
    result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def volume_inputs(deployment):
    return {v.urn: (v.inputs, v.retain_on_delete) for v in deployment.volumes}


@given(before=stack_config, after=stack_config)
@PROGRAM_RUNS
def test_no_settings_change_touches_a_volumes_inputs(before, after):
    # Only a volume's own name (here: the stack name prefix, fixed) may change its inputs.
    first = run_program(before, secrets=MONGODB_URI, mocks=RecordingMocks())
    second = run_program(after, secrets=MONGODB_URI, mocks=RecordingMocks())
    shared = volume_inputs(first).keys() & volume_inputs(second).keys()
    assert any("prometheus" in urn for urn in shared)
    for urn in shared:
        assert volume_inputs(first)[urn] == volume_inputs(second)[urn], urn


@given(stack_config)
@PROGRAM_RUNS
def test_every_scrape_target_is_a_declared_service_or_the_backend(config):
    deployment = run_program(config, secrets=MONGODB_URI, mocks=RecordingMocks())
    settings = settings_from_mapping(config, default_name="monstack-dev")
    prometheus = deployment.containers["monstack-dev-prometheus"]
    declared = {"localhost"} | {h["host"] for h in prometheus.inputs.get("hosts", [])}
    for container in deployment.containers.values():
        for network in container.inputs.get("networksAdvanced", []):
            declared.update(network.get("aliases", []))
    for targets in job_targets(render_prometheus_config(settings)).values():
        for target in targets:
            assert target in settings.backend_targets or target.rsplit(":", 1)[0] in declared, target
