"""For all valid alerting settings: alertmanager.yml passes Debian's amtool, and every receiver
with a credential names a file, never the credential."""

import subprocess

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from stack.alertmanager_config import receiver_secret_file, render_alertmanager_config
from stack.config import settings_from_mapping
from stack.render import to_yaml
from tests.property.strategies import durations
from tests.support.tools import require_binary

names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True).filter(lambda n: n != "discard")
receiver = st.one_of(
    st.fixed_dictionaries({"type": st.just("webhook"), "url": st.just("https://hooks.example.com/a"),
                           "credential": st.sampled_from(["none", "bearer"])}),
    st.fixed_dictionaries({"type": st.just("slack")}, optional={"channel": st.just("#alerts")}),
    st.fixed_dictionaries({"type": st.just("email"), "to": st.just(["a@example.com"]), "from": st.just("b@example.com"),
                           "smarthost": st.just("smtp.example.com:587")},
                          optional={"authUsername": st.just("am"), "requireTls": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("pagerduty")}),
)


@st.composite
def alerting(draw):
    receiver_names = draw(st.lists(names, max_size=4, unique=True))
    receivers = [{"name": name, **draw(receiver)} for name in receiver_names]
    route = {severity: draw(st.lists(st.sampled_from(receiver_names), unique=True)) if receiver_names else []
             for severity in ("critical", "warning", "info")}
    if receiver_names:
        route["default"] = draw(st.sampled_from(receiver_names))
        route["watchdog"] = draw(st.sampled_from(receiver_names))
    route["groupWait"] = draw(durations)
    return {"alertmanager": {"receivers": receivers, "route": route}}


@given(alerting())
@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_valid_alerting_config_passes_amtool(tmp_path_factory, config):
    settings = settings_from_mapping(config)
    text = to_yaml(render_alertmanager_config(settings.alertmanager))
    assert text == to_yaml(render_alertmanager_config(settings_from_mapping(config).alertmanager))
    directory = tmp_path_factory.mktemp("am")
    (directory / "alertmanager.yml").write_text(text)
    result = subprocess.run([require_binary("amtool"), "check-config", "alertmanager.yml"], cwd=directory,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for r in settings.alertmanager.receivers:
        if r.credential():
            assert receiver_secret_file(r.name) in text
