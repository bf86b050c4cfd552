"""Real processes for live tests: an app server, Prometheus, node exporter.

Every helper binds 127.0.0.1 on a free port, waits until the process answers,
and stops what it started (the whole process group) when the ``with`` block
ends.  When a process fails to start, the error carries the tail of its log.
Nothing here knows about a particular backend: dashboards, alerts and the
backend tests all use the same helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.tools import require_binary

__all__ = [
    "REPO_ROOT",
    "LiveProcessError",
    "Prometheus",
    "free_port",
    "http_get",
    "run_node_exporter",
    "run_prometheus",
    "serve_app",
    "start_process",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
_LOG_TAIL_CHARS = 4000


class LiveProcessError(RuntimeError):
    """A live process did not start or did not answer; the message holds its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """GET `url` and return (status, headers, body); HTTP error statuses are returned, not raised."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def _log_tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "<no log>"
    return text[-_LOG_TAIL_CHARS:]


def _answers(url: str) -> bool:
    try:
        http_get(url, timeout=1.0)
    except (OSError, urllib.error.URLError):
        return False
    return True


def _stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


@contextlib.contextmanager
def start_process(
    argv: Sequence[str],
    *,
    ready_url: str,
    ready: Any = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float = 30.0,
    name: str | None = None,
) -> Iterator[tuple[subprocess.Popen, Path]]:
    """Run `argv` in its own process group until `ready_url` answers; stop the group at exit.

    `ready` is an optional predicate on (status, body) deciding readiness; by default any
    HTTP answer counts.  Yields (process, log_path).
    """
    name = name or Path(argv[0]).name
    with tempfile.TemporaryDirectory(prefix=f"live-{name}-") as tmp:
        log_path = Path(tmp) / "process.log"
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise LiveProcessError(
                        f"{name} exited with code {process.returncode} before answering {ready_url}:\n{_log_tail(log_path)}"
                    )
                if ready is None:
                    if _answers(ready_url):
                        break
                else:
                    try:
                        status, _, body = http_get(ready_url, timeout=1.0)
                    except (OSError, urllib.error.URLError):
                        status, body = None, b""
                    if status is not None and ready(status, body):
                        break
                if time.monotonic() > deadline:
                    raise LiveProcessError(f"{name} did not answer {ready_url} within {timeout}s:\n{_log_tail(log_path)}")
                time.sleep(0.1)
            yield process, log_path
        finally:
            _stop(process)


@contextlib.contextmanager
def serve_app(
    app_import: str,
    *,
    env: Mapping[str, str] | None = None,
    workers: int | None = None,
    server: str = "uvicorn",
    interface: str = "asgi",
    config: str | os.PathLike | None = None,
    ready_path: str = "/",
    timeout: float = 30.0,
) -> Iterator[str]:
    """Serve `app_import` ("package.module:attr") on 127.0.0.1 and yield its base URL.

    server="uvicorn" runs uvicorn (ASGI); server="gunicorn" runs gunicorn with uvicorn
    workers for interface="asgi" and sync workers for interface="wsgi".  `config` is
    passed to gunicorn as ``-c FILE`` (its ``bind`` and ``workers`` are overridden here).
    The process runs from the repository root, so import strings resolve as in tests.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    if server == "uvicorn":
        if interface != "asgi":
            raise ValueError("uvicorn serves ASGI apps only here; use server='gunicorn' for WSGI")
        argv = [sys.executable, "-m", "uvicorn", app_import, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        if workers:
            argv += ["--workers", str(workers)]
    elif server == "gunicorn":
        worker_class = {"asgi": "uvicorn.workers.UvicornWorker", "wsgi": "sync"}[interface]
        argv = [sys.executable, "-m", "gunicorn"]
        if config is not None:
            argv += ["-c", str(config)]
        argv += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers or 1), "--worker-class", worker_class, app_import]
    else:
        raise ValueError(f"unknown server {server!r}; use 'uvicorn' or 'gunicorn'")
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    full_env = {"PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1", **dict(env or {})}
    with start_process(argv, ready_url=base_url + ready_path, env=full_env, cwd=REPO_ROOT, timeout=timeout, name=server):
        yield base_url


class Prometheus:
    """A running Prometheus: its URL and a few API calls tests need."""

    def __init__(self, url: str, config_path: Path, tsdb_dir: Path) -> None:
        self.url = url
        self.config_path = config_path
        self.tsdb_dir = tsdb_dir

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path> and return its ``data``; raise when the status is not success."""
        query = urllib.parse.urlencode(params)
        status, _, body = http_get(f"{self.url}/api/v1/{path}" + (f"?{query}" if query else ""), timeout=10.0)
        doc = json.loads(body or b"{}")
        if status != 200 or doc.get("status") != "success":
            raise LiveProcessError(f"Prometheus /api/v1/{path} {params} answered {status}: {doc.get('error', body[:500])}")
        return doc["data"]

    def query(self, expr: str) -> list[dict]:
        """The instant-query result vector of `expr` (a list of {"metric": ..., "value": [ts, "v"]})."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise LiveProcessError(f"{expr!r} gave a {data['resultType']}, not a vector")
        return data["result"]

    def targets(self) -> list[dict]:
        return self.api("targets")["activeTargets"]

    def wait_for_targets_up(self, timeout: float = 30.0) -> list[dict]:
        """Wait until there is at least one active target and every one is up; return them."""
        deadline = time.monotonic() + timeout
        targets: list[dict] = []
        while time.monotonic() < deadline:
            targets = self.targets()
            if targets and all(t["health"] == "up" for t in targets):
                return targets
            time.sleep(0.25)
        summary = [(t.get("scrapeUrl"), t.get("health"), t.get("lastError")) for t in targets]
        raise LiveProcessError(f"targets not all up after {timeout}s: {summary}")

    def wait_for_query(self, expr: str, predicate=bool, timeout: float = 30.0) -> list[dict]:
        """Poll `expr` until `predicate(result)` holds; return that result or raise with the last one."""
        deadline = time.monotonic() + timeout
        result: list[dict] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if predicate(result):
                return result
            time.sleep(0.25)
        raise LiveProcessError(f"{expr!r} never satisfied the condition within {timeout}s; last result: {result}")


@contextlib.contextmanager
def run_prometheus(
    scrape_configs: list[dict],
    *,
    scrape_interval: str = "1s",
    tsdb_dir: str | os.PathLike | None = None,
    extra_args: Sequence[str] = (),
    rule_files: Sequence[str | os.PathLike] = (),
    timeout: float = 30.0,
) -> Iterator[Prometheus]:
    """Run Debian's Prometheus with `scrape_configs` on 127.0.0.1 and yield a `Prometheus`."""
    binary = require_binary("prometheus")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="live-prometheus-") as tmp:
        config_path = Path(tmp) / "prometheus.yml"
        doc: dict[str, Any] = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": scrape_configs,
        }
        if rule_files:
            doc["rule_files"] = [str(p) for p in rule_files]
        config_path.write_text(yaml.safe_dump(doc, sort_keys=True))
        data_dir = Path(tsdb_dir) if tsdb_dir is not None else Path(tmp) / "data"
        url = f"http://127.0.0.1:{port}"
        argv = [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra_args,
        ]
        with start_process(argv, ready_url=url + "/-/ready", ready=lambda status, _: status == 200, timeout=timeout, name="prometheus"):
            yield Prometheus(url, config_path, data_dir)


@contextlib.contextmanager
def run_node_exporter(extra_args: Sequence[str] = (), timeout: float = 30.0) -> Iterator[str]:
    """Run Debian's node exporter on 127.0.0.1 and yield its "127.0.0.1:PORT" target."""
    binary = require_binary("prometheus-node-exporter")
    port = free_port()
    target = f"127.0.0.1:{port}"
    argv = [binary, f"--web.listen-address={target}", *extra_args]
    with start_process(
        argv, ready_url=f"http://{target}/metrics", ready=lambda status, _: status == 200, timeout=timeout, name="node-exporter"
    ):
        yield target
