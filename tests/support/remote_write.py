"""Live remote write with Debian's Prometheus: a receiver behind basic auth, senders rendered by the stack.

- `run_receiver`: Prometheus with `--web.enable-remote-write-receiver` on a fixed port (so that it
  can be stopped and started again at the same address) and a TSDB directory the caller keeps;
  with `users`, its web config asks for basic auth (bcrypt hashes), so a sender's
  `password_file` is really checked.
- `run_stack_prometheus`: the stack's own rendered config and command line (server or agent
  mode), with the scrape targets and credential files moved to this machine.
- `sample_timestamps` and `compare_samples`: what the sender scraped against what the receiver
  holds, sample by sample.
"""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from stack.prometheus_flags import prometheus_command
from stack.render import render_prometheus_config
from stack.settings import Settings
from tests.support.live import LiveProcessError, free_port, http_get, start_process
from tests.support.tools import require_binary

__all__ = [
    "Api",
    "Gap",
    "compare_samples",
    "measure_outage",
    "run_receiver",
    "run_stack_prometheus",
    "sample_timestamps",
]


class Api:
    """The HTTP API of a Prometheus, optionally behind basic auth."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None) -> None:
        self.url = url
        self.headers = {}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params)
        status, _, body = http_get(f"{self.url}/api/v1/{path}" + (f"?{query}" if query else ""), headers=self.headers, timeout=10)
        doc = json.loads(body or b"{}")
        if status != 200 or doc.get("status") != "success":
            raise LiveProcessError(f"{self.url} /api/v1/{path} {params}: {status} {doc.get('error', body[:300])}")
        return doc["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.get("query", **params)["result"]

    def wait_for(self, expr: str, predicate=bool, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        result: list[dict] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, LiveProcessError):
                result = self.query(expr)
                if predicate(result):
                    return result
            time.sleep(0.25)
        raise LiveProcessError(f"{expr!r} at {self.url} never held within {timeout}s; last: {result}")


def _wait_ready(api: Api, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if http_get(f"{api.url}/-/ready", headers=api.headers, timeout=1)[0] == 200:
                return
        time.sleep(0.1)
    raise LiveProcessError(f"{api.url} not ready within {timeout}s")


@contextlib.contextmanager
def run_receiver(port: int, tsdb_dir: Path, *, users: Mapping[str, str] | None = None) -> Iterator[Api]:
    """A Prometheus that accepts remote write on 127.0.0.1:`port`, storing into `tsdb_dir`."""
    binary = require_binary("prometheus")
    with tempfile.TemporaryDirectory(prefix="live-receiver-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(yaml.safe_dump({"global": {"scrape_interval": "15s"}}))
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ]
        auth = None
        if users:
            web = Path(tmp) / "web.yml"
            hashed = {user: bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode() for user, password in users.items()}
            web.write_text(yaml.safe_dump({"basic_auth_users": hashed}))
            argv.append(f"--web.config.file={web}")
            auth = next(iter(users.items()))
        url = f"http://127.0.0.1:{port}"
        # Behind basic auth /-/ready answers 401 until asked with the password: any answer means
        # the server listens; readiness is then asked with the credentials.
        with start_process(argv, ready_url=url + "/-/ready", ready=lambda status, _: status in (200, 401), name="receiver"):
            api = Api(url, auth)
            _wait_ready(api)
            yield api


def _localise(document: dict, targets: Mapping[str, Sequence[str]], secrets_dir: Path) -> dict:
    """The rendered config with each job's static targets replaced (jobs not named are dropped)
    and credential files moved from the container's path to `secrets_dir`."""
    document = json.loads(json.dumps(document))
    document["scrape_configs"] = [
        {**job, "static_configs": [{"targets": list(targets[job["job_name"]])}]}
        for job in document["scrape_configs"]
        if job["job_name"] in targets
    ]
    document.pop("rule_files", None)
    for entry in document.get("remote_write", []):
        if "basic_auth" in entry:
            entry["basic_auth"]["password_file"] = str(secrets_dir / Path(entry["basic_auth"]["password_file"]).name)
        if "authorization" in entry:
            entry["authorization"]["credentials_file"] = str(secrets_dir / Path(entry["authorization"]["credentials_file"]).name)
    return document


@dataclass
class StackPrometheus:
    api: Api
    config: dict
    argv: list[str]


@contextlib.contextmanager
def run_stack_prometheus(
    settings: Settings,
    *,
    targets: Mapping[str, Sequence[str]],
    credentials: Mapping[str, str] = {},
    port: int | None = None,
) -> Iterator[StackPrometheus]:
    """Debian's Prometheus run with the stack's rendered config and command line.

    `targets` maps job name -> host:port on this machine; the job named by the stack's
    Prometheus job scrapes this process itself when given as "self".
    """
    binary = require_binary("prometheus")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="live-stack-prometheus-") as tmp:
        secrets_dir = Path(tmp) / "secrets"
        secrets_dir.mkdir()
        for endpoint in settings.remote_write:
            if endpoint.auth:
                (secrets_dir / f"remote-write-{endpoint.name}").write_text(credentials[endpoint.name])
        local_targets = {job: [f"127.0.0.1:{port}" if t == "self" else t for t in ts] for job, ts in targets.items()}
        document = _localise(render_prometheus_config(settings), local_targets, secrets_dir)
        config = Path(tmp) / "prometheus.yml"
        config.write_text(yaml.safe_dump(document, sort_keys=True))
        prom = settings.prometheus
        command = prometheus_command(
            image=prom.image,
            mode=prom.mode,
            config_file=str(config),
            data_path=str(Path(tmp) / "data"),
            listen_address=f"127.0.0.1:{port}",
            retention_time=prom.retention_time,
            retention_size=prom.retention_size,
        )
        argv = [binary, *command]
        url = f"http://127.0.0.1:{port}"
        with start_process(argv, ready_url=url + "/-/ready", ready=lambda status, _: status == 200, name=f"prometheus-{prom.mode}"):
            yield StackPrometheus(Api(url), document, argv)


def sample_timestamps(api: Api, selector: str, start: float, end: float) -> dict[str, list[float]]:
    """Timestamps of the raw samples of every series of `selector` in (start, end], by series."""
    window = max(1, int(end - start + 0.999))
    result = api.query(f"{selector}[{window}s]", at=end)
    return {
        json.dumps(series["metric"], sort_keys=True): [float(t) for t, _ in series["values"] if float(t) > start]
        for series in result
    }


@dataclass
class Gap:
    """How a receiver's copy of a series compares with the sender's own samples."""

    sent: int
    received: int
    missing: int
    longest_gap_s: float

    def __str__(self) -> str:
        return f"sent {self.sent}, received {self.received}, missing {self.missing}, longest gap {self.longest_gap_s:.2f}s"


def compare_samples(sent: Sequence[float], received: Sequence[float]) -> Gap:
    received_set = set(round(t, 3) for t in received)
    missing = [t for t in sent if round(t, 3) not in received_set]
    ordered = sorted(received)
    longest = max((b - a for a, b in zip(ordered, ordered[1:])), default=0.0)
    return Gap(sent=len(sent), received=len(received), missing=len(missing), longest_gap_s=longest)


@dataclass
class OutageResult:
    outage_s: float
    scraped_during_outage: int
    gap: Gap
    receiver_labels: dict


def measure_outage(settings: Settings, *, port: int, workdir: Path, outage_s: float, user: str, password: str,
                   job: str) -> OutageResult:
    """Send `job`'s `up` to a receiver, stop the receiver for `outage_s`, start it again at the
    same address with the same TSDB, wait until it caught up, and compare sample by sample."""
    selector = f'up{{job="{job}"}}'
    tsdb = workdir / "receiver"
    with run_stack_prometheus(settings, targets={job: ["self"]}, credentials={"central": password}) as sender:
        with run_receiver(port, tsdb, users={user: password}) as receiver:
            labels = receiver.wait_for(selector, timeout=30)[0]["metric"]
            start = time.time()
            time.sleep(3)
        stopped = time.time()
        time.sleep(outage_s)
        with run_receiver(port, tsdb, users={user: password}) as receiver:
            restarted = time.time()
            # Caught up: the receiver holds a sample newer than the restart.
            receiver.wait_for(f"timestamp({selector}) > {restarted + 2}", timeout=60 + outage_s)
            end = time.time() - 1
            sent = sample_timestamps(sender.api, selector, start, end)
            received = sample_timestamps(receiver, selector, start, end)
    if len(sent) != 1 or len(received) != 1:
        raise LiveProcessError(f"expected one series on each side: sent {list(sent)}, received {list(received)}")
    sent_ts, received_ts = next(iter(sent.values())), next(iter(received.values()))
    return OutageResult(
        outage_s=outage_s,
        scraped_during_outage=len([t for t in sent_ts if stopped < t < restarted]),
        gap=compare_samples(sent_ts, received_ts),
        receiver_labels=labels,
    )
