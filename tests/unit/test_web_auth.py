"""Nothing unauthenticated beyond loopback: Prometheus' and Alertmanager's web config, checked by
the real tools and live on real processes (refused without credentials, answering with them),
and declared so that the password appears nowhere but in secret uploads."""

import base64
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import bcrypt
import pytest
import yaml

from stack.alertmanager_config import ALERTMANAGER_CONFIG_DIR
from stack.alerting_render import GRAFANA_SECRETS_DIR, PROMETHEUS_CONFIG_DIR
from stack.render import GRAFANA_DATASOURCE_FILE, PROMETHEUS_CONFIG_FILE, to_yaml
from stack.webauth import (
    AUTH_HEADER_NAME,
    PASSWORD_NAME,
    TLS_CERT_NAME,
    TLS_KEY_NAME,
    WEB_CONFIG_NAME,
    WebSecurity,
    bcrypt_hash,
    render_web_config,
)
from tests.support.tools import require_binary
from tests.unit.conftest import MONGODB_URI

PASSWORD = "correct horse battery staple"
WEB = WebSecurity(basic_auth=True, tls=False, username="monstack")


def free_port():
    from tests.e2e.conftest import free_port as _free_port

    return _free_port("127.0.0.1")


# --- the hash ---------------------------------------------------------------------------------------


def test_the_bcrypt_hash_is_deterministic_for_a_password_and_verifies():
    first = bcrypt_hash(PASSWORD, key="monstack-web:monstack-dev")
    assert first == bcrypt_hash(PASSWORD, key="monstack-web:monstack-dev")
    assert bcrypt.checkpw(PASSWORD.encode(), first.encode())
    assert not bcrypt.checkpw(b"another password", first.encode())
    # Another password, or the same password in another stack: another salt.
    assert first[:29] != bcrypt_hash("another password!", key="monstack-web:monstack-dev")[:29]
    assert first[:29] != bcrypt_hash(PASSWORD, key="monstack-web:monstack-prod")[:29]


@pytest.mark.parametrize("web", [WEB, WebSecurity(basic_auth=True, tls=True)], ids=["basic-auth", "basic-auth+tls"])
def test_the_web_config_passes_promtool_check_web_config(tmp_path, web):
    document = render_web_config(web, config_dir=str(tmp_path), password_hash=bcrypt_hash(PASSWORD, key="k"))
    if web.tls:
        _self_signed(tmp_path / "secrets", "prometheus")
    (tmp_path / "web.yml").write_text(to_yaml(document))
    result = subprocess.run([require_binary("promtool"), "check", "web-config", "web.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert PASSWORD not in (tmp_path / "web.yml").read_text()


# --- live: real Prometheus and Alertmanager processes with the rendered web config -------------------------


def _self_signed(directory, name):
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True,
    )
    return directory / "tls.crt"


def _request(url, *, auth=None, ca=None, server_name=None):
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    context = None
    if ca:
        context = ssl.create_default_context(cafile=str(ca))
        context.check_hostname = False  # 127.0.0.1 is not the certificate's name; the CA still is verified
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _wait(url, **kwargs):
    deadline = time.monotonic() + 30
    while True:
        try:
            status = _request(url, **kwargs)
            if status in (200, 401):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer")
        time.sleep(0.2)


def _start(command, cwd):
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SERVERS = {
    "prometheus": lambda tmp, port: [
        require_binary("prometheus"), f"--config.file={_minimal_prometheus(tmp)}", f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={tmp / WEB_CONFIG_NAME}",
    ],
    "alertmanager": lambda tmp, port: [
        require_binary("prometheus-alertmanager"), f"--config.file={_minimal_alertmanager(tmp)}",
        f"--storage.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        f"--web.config.file={tmp / WEB_CONFIG_NAME}",
    ],
}


def _minimal_prometheus(tmp):
    (tmp / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    return tmp / "prometheus.yml"


def _minimal_alertmanager(tmp):
    from stack.alertmanager_config import render_alertmanager_config
    from stack.config import settings_from_mapping

    (tmp / "alertmanager.yml").write_text(to_yaml(render_alertmanager_config(settings_from_mapping({}).alertmanager)))
    return tmp / "alertmanager.yml"


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_live_unauthenticated_requests_are_refused_and_authenticated_ones_answer(tmp_path, server, tls):
    web = WebSecurity(basic_auth=True, tls=tls, username="monstack")
    ca = _self_signed(tmp_path / "secrets", server) if tls else None
    document = render_web_config(web, config_dir=str(tmp_path), password_hash=bcrypt_hash(PASSWORD, key="k"))
    (tmp_path / WEB_CONFIG_NAME).write_text(to_yaml(document))
    port = free_port()
    proc = _start(SERVERS[server](tmp_path, port), tmp_path)
    try:
        base = f"{web.scheme}://127.0.0.1:{port}"
        _wait(f"{base}/-/healthy", ca=ca)
        for path in ("/-/healthy", "/api/v1/status/buildinfo" if server == "prometheus" else "/api/v2/status"):
            assert _request(f"{base}{path}", ca=ca) == 401, path
            assert _request(f"{base}{path}", auth=("monstack", "wrong password"), ca=ca) == 401, path
            assert _request(f"{base}{path}", auth=("monstack", PASSWORD), ca=ca) == 200, path
        if tls:  # plain HTTP gets no answer from the TLS port
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=5).read()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


# --- declared under mocks -----------------------------------------------------------------------------


def _upload(container, path):
    return next(u["content"] for u in container.inputs["uploads"] if u["file"] == path)


def _everything_but_uploads(container):
    return json.dumps({k: v for k, v in container.inputs.items() if k != "uploads"})


def test_with_a_password_every_client_and_server_uses_it_and_it_is_only_in_secret_uploads(deploy):
    deployment = deploy({"bindAddress": "0.0.0.0"}, secrets={"mongodbUri": MONGODB_URI, "webPassword": PASSWORD})
    containers = deployment.containers
    prometheus, alertmanager, grafana = (containers[f"monstack-dev-{s}"] for s in ("prometheus", "alertmanager", "grafana"))
    for container, config_dir in ((prometheus, PROMETHEUS_CONFIG_DIR), (alertmanager, ALERTMANAGER_CONFIG_DIR)):
        assert f"--web.config.file={config_dir}/{WEB_CONFIG_NAME}" in container.inputs["command"]
        web_config = yaml.safe_load(_upload(container, f"{config_dir}/{WEB_CONFIG_NAME}"))
        assert bcrypt.checkpw(PASSWORD.encode(), web_config["basic_auth_users"]["monstack"].encode())
        assert "uploads" in container.secret_inputs
        # The healthcheck reads the header from a file: docker inspect shows the path only.
        assert f"{config_dir}/{AUTH_HEADER_NAME}" in " ".join(container.inputs["healthcheck"]["tests"])
    prometheus_config = yaml.safe_load(_upload(prometheus, PROMETHEUS_CONFIG_FILE))
    password_file = f"{PROMETHEUS_CONFIG_DIR}/{PASSWORD_NAME}"
    assert prometheus_config["alerting"]["alertmanagers"][0]["basic_auth"] == {"username": "monstack", "password_file": password_file}
    jobs = {job["job_name"]: job for job in prometheus_config["scrape_configs"]}
    assert jobs["prometheus"]["basic_auth"]["password_file"] == password_file
    assert jobs["alertmanager"]["basic_auth"]["password_file"] == password_file
    assert _upload(prometheus, password_file) == PASSWORD
    datasources = yaml.safe_load(_upload(grafana, GRAFANA_DATASOURCE_FILE))["datasources"]
    for source in datasources:
        assert source["basicAuth"] is True and source["basicAuthUser"] == "monstack"
        assert source["secureJsonData"]["basicAuthPassword"] == f"$__file{{{GRAFANA_SECRETS_DIR}/{PASSWORD_NAME}}}"
    assert _upload(grafana, f"{GRAFANA_SECRETS_DIR}/{PASSWORD_NAME}") == PASSWORD
    for name, container in containers.items():
        assert PASSWORD not in _everything_but_uploads(container), name
        for upload in container.inputs.get("uploads", []):
            if PASSWORD in upload["content"]:
                assert "uploads" in container.secret_inputs, name
    assert PASSWORD not in json.dumps(deployment.outputs)


def test_an_unchanged_password_redeploys_without_any_change(deploy):
    secrets = {"mongodbUri": MONGODB_URI, "webPassword": PASSWORD}
    first, second = (deploy({"bindAddress": "0.0.0.0"}, secrets=secrets) for _ in range(2))
    for name in first.containers:
        assert first.containers[name].inputs == second.containers[name].inputs, name


def test_a_changed_password_changes_the_web_configs(deploy):
    before = deploy(secrets={"mongodbUri": MONGODB_URI, "webPassword": PASSWORD})
    after = deploy(secrets={"mongodbUri": MONGODB_URI, "webPassword": PASSWORD + "!"})
    path = f"{ALERTMANAGER_CONFIG_DIR}/{WEB_CONFIG_NAME}"
    assert _upload(before.containers["monstack-dev-alertmanager"], path) != _upload(after.containers["monstack-dev-alertmanager"], path)


def test_tls_serves_https_and_clients_verify_the_ca(deploy):
    cert, key = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    deployment = deploy(secrets={"mongodbUri": MONGODB_URI, "webPassword": PASSWORD, "webTlsCert": cert, "webTlsKey": key})
    alertmanager = deployment.containers["monstack-dev-alertmanager"]
    web_config = yaml.safe_load(_upload(alertmanager, f"{ALERTMANAGER_CONFIG_DIR}/{WEB_CONFIG_NAME}"))
    assert web_config["tls_server_config"]["cert_file"] == f"{ALERTMANAGER_CONFIG_DIR}/{TLS_CERT_NAME}"
    assert _upload(alertmanager, f"{ALERTMANAGER_CONFIG_DIR}/{TLS_KEY_NAME}") == key
    prometheus_config = yaml.safe_load(_upload(deployment.containers["monstack-dev-prometheus"], PROMETHEUS_CONFIG_FILE))
    client = prometheus_config["alerting"]["alertmanagers"][0]
    assert client["scheme"] == "https" and client["tls_config"]["server_name"] == "alertmanager"
    assert deployment.outputs["alertmanager_url"].startswith("https://")
    assert deployment.outputs["prometheus_url"].startswith("https://"), "the URL people open says https"
    assert deployment.outputs["grafana_url"].startswith("http://"), "Grafana serves plain HTTP (TLS is Prometheus' and Alertmanager's)"
    assert key not in _everything_but_uploads(alertmanager)


def test_on_loopback_without_a_password_nothing_asks_for_auth(deploy):
    deployment = deploy()
    prometheus = deployment.containers["monstack-dev-prometheus"]
    assert not any(arg.startswith("--web.config.file") for arg in prometheus.inputs["command"])
    assert "alerting" in yaml.safe_load(_upload(prometheus, PROMETHEUS_CONFIG_FILE))
    assert "basic_auth" not in _upload(prometheus, PROMETHEUS_CONFIG_FILE)
