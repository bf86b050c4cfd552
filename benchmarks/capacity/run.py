"""One capacity step on the Docker engine: the stack's Prometheus, synthetic targets, history, measurements.

The Prometheus container is built from what the stack declares: `stack.render`'s
`prometheus_command`, `render_prometheus_config`, `render_alert_rules` for a `Settings`
whose backend targets are the synthetic replicas, the memory limit (no extra swap), dropped
capabilities and `no-new-privileges` of `stack.containers.service_container`.  The synthetic
targets are containers of the same image running busybox httpd: one per backend replica, all
under the network alias `backend` (the stack discovers each replica by DNS, as with Compose
`--scale`), and one serving node exporter, cAdvisor and the MongoDB exporter on their ports
under the aliases the stack's scrape jobs name.  Every object carries the label
``monstack.capacity=1``; the caller holds the engine lock.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import catalogue
from catalogue import backend, cadvisor, mongodb_exporter, node_exporter, prometheus
from stack.render import (
    PROMETHEUS_CONFIG_FILE,
    PROMETHEUS_RULES_FILE,
    PROMETHEUS_TSDB_PATH,
    prometheus_command,
    render_alert_rules,
    render_prometheus_config,
    to_yaml,
)
from stack.settings import PrometheusSettings, Settings, parse_duration_seconds

from . import grafana, synthetic
from .engine import Engine, EngineError

__all__ = ["LABEL", "Options", "cleanup", "run_step"]

LABEL = "monstack.capacity"
BACKEND_PORT = 8000
BACKEND_TARGET = f"{backend.JOB}:{BACKEND_PORT}"
NOBODY = 65534
_BLOCK_S = 7200  # the TSDB's 2 h block range: one history file per aligned window


@dataclass(frozen=True)
class Options:
    image: str
    memory_mb: int | None  # None: the stack's default
    settle_s: float
    measure_s: float
    ranges_s: tuple[float, ...]
    max_history_samples: int
    repeats: int
    parallel_queries: int
    workdir: Path
    log: Callable[[str], None] = print


def _settings(options: Options) -> Settings:
    default = PrometheusSettings()
    prometheus_settings = PrometheusSettings(image=options.image, memory_mb=options.memory_mb or default.memory_mb)
    # Alertmanager off: this measures Prometheus (with it on, Prometheus also sends alerts to it).
    return Settings(name="capacity", backend_targets=[BACKEND_TARGET], prometheus=prometheus_settings,
                    alertmanager={"enabled": False})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.uid = info.gid = NOBODY
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cleanup(engine: Engine) -> None:
    """Remove every container and network an earlier (interrupted) run left behind."""
    for container in engine.containers(f"{LABEL}=1"):
        engine.remove_container(container["Id"])
    for network in engine.networks(f"{LABEL}=1"):
        engine.remove_network(network["Id"])


# --- the synthetic targets' files ---------------------------------------------------------------


class _Writer:
    """Rewrites each source's /metrics file at every scrape interval, so counters grow as real ones do."""

    def __init__(self, www: Path, targets: synthetic.Targets, interval_s: float) -> None:
        self.www, self.targets, self.interval_s = www, targets, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def write(self) -> None:
        k = int(time.time() // self.interval_s)
        for source, series in self.targets.by_source().items():
            directory = self.www / source
            directory.mkdir(parents=True, exist_ok=True)
            tmp = directory / ".metrics.tmp"
            tmp.write_text(synthetic.exposition(series, k))
            tmp.chmod(0o644)
            os.replace(tmp, directory / "metrics")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s - time.time() % self.interval_s):
            self.write()

    def __enter__(self) -> "_Writer":
        self.write()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- history ------------------------------------------------------------------------------------


# Which synthetic exposition each exporter job's target serves.
_EXPORTER_JOBS = {"node": node_exporter.JOB, "cadvisor": cadvisor.JOB, "mongodb": mongodb_exporter.JOB}


def _target_series(targets: synthetic.Targets, replica_instances: list[str], exporters: dict[str, str]):
    """(series, target labels) as Prometheus stores them after a scrape: job and instance added."""
    for instance in replica_instances:
        extra = (("instance", instance), ("job", backend.JOB))
        for s in targets.backend:
            yield s, extra
    for source, job in _EXPORTER_JOBS.items():
        extra = (("instance", exporters[job]), ("job", job))
        for s in targets.by_source()[source]:
            yield s, extra


def _recorded_series(pairs: list, rules: list[catalogue.RecordingRule]):
    """The series the stack's recording rules make of these, as (series, no extra labels): their
    history is backfilled with the raw series', as a Prometheus that had run all along would have it."""
    recorded: list = []
    for rule in rules:  # in evaluation order: a rule may read what an earlier one records
        if rule.source is None:
            raise ValueError(f"{rule.record}: the benchmark backfills only rules that name their source and labels")
        kept: dict[tuple, None] = {}
        for s, extra in (*pairs, *recorded):
            if s.name == rule.source:
                labels = dict(s.labels + extra)
                kept.setdefault(tuple(sorted([(k, labels[k]) for k in rule.by if k in labels] + list(rule.labels))), None)
        recorded += [(synthetic.Series(rule.record, labels, ("g", i % 16)), ()) for i, labels in enumerate(kept)]
    return recorded


def backfill(targets: synthetic.Targets, replica_instances: list[str], exporters: dict[str, str],
             rules: list[catalogue.RecordingRule], tsdb: Path, history_s: float, interval: float, work: Path,
             log: Callable[[str], None]) -> dict:
    """Write `history_s` of every target series and every recorded series into `tsdb` with promtool,
    one 2 h window at a time."""
    if history_s < interval:
        return {"history_s": 0, "samples": 0, "seconds": 0.0}
    now_k = int(time.time() // interval)
    first_k, last_k = now_k - int(history_s // interval), now_k - 1
    started, samples = time.monotonic(), 0
    pairs = list(_target_series(targets, replica_instances, exporters))
    recorded = list(_recorded_series(pairs, rules))  # at the recording group's own interval
    rule_s = parse_duration_seconds(catalogue.rules.RECORDING_INTERVAL)
    k = first_k
    while k <= last_k:
        window_end = min(last_k, int(((k * interval) // _BLOCK_S + 1) * _BLOCK_S // interval) - 1)
        path = work / f"history-{k}.om"
        with open(path, "w") as out:
            for chunk in synthetic.history_lines(pairs, k, window_end, interval):
                out.write(chunk)
            first_r, last_r = math.ceil(k * interval / rule_s), math.floor(window_end * interval / rule_s)
            if recorded and first_r <= last_r:
                for chunk in synthetic.history_lines(recorded, first_r, last_r, rule_s):
                    out.write(chunk)
                samples += len(recorded) * (last_r - first_r + 1)
            out.write("# EOF\n")
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path), str(tsdb)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        path.unlink()
        samples += len(pairs) * (window_end - k + 1)
        k = window_end + 1
    for root, dirs, files in os.walk(tsdb):
        for name in dirs + files:
            os.chown(os.path.join(root, name), NOBODY, NOBODY)
    seconds = time.monotonic() - started
    log(f"  backfilled {history_s / 3600:.2f} h: {samples:,} samples in {seconds:.0f} s")
    return {"history_s": history_s, "samples": samples, "seconds": seconds}


# --- Prometheus' API ----------------------------------------------------------------------------


class _Api:
    def __init__(self, url: str) -> None:
        self.url = url

    def fetch(self, path: str, params: dict, *, post: bool = False, timeout: float = 120.0) -> bytes:
        """The response body, read to its last byte, not decoded (see `decode`)."""
        data = urllib.parse.urlencode(params, doseq=True)
        if post:
            request = urllib.request.Request(f"{self.url}{path}", data=data.encode(),
                                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            request = urllib.request.Request(f"{self.url}{path}?{data}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{path} {params}: {err.code} {err.read()[:300]!r}") from None

    @staticmethod
    def decode(body: bytes, what: str) -> Any:
        document = json.loads(body)
        if document.get("status") != "success":
            raise RuntimeError(f"{what}: {document}")
        return document["data"]

    def _call(self, path: str, params: dict, *, post: bool = False, timeout: float = 120.0) -> Any:
        return self.decode(self.fetch(path, params, post=post, timeout=timeout), f"{path} {params}")

    def query(self, expr: str) -> list[dict]:
        return self._call("/api/v1/query", {"query": expr})["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self.decode(self.fetch_range(expr, start, end, step), expr)["result"]

    def fetch_range(self, expr: str, start: float, end: float, step: float) -> bytes:
        return self.fetch("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step}, post=True)

    def label_values(self, label: str, match: str | None, start: float, end: float) -> list[str]:
        params: dict[str, Any] = {"start": start, "end": end}
        if match:
            params["match[]"] = match
        return self._call(f"/api/v1/label/{label}/values", params)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False


def _wait(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- dashboards ---------------------------------------------------------------------------------


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def load_dashboard(api: _Api, document: dict, range_s: float, scrape_s: float, parallel: int) -> dict:
    """Open one dashboard as Grafana would: variable queries first, then every panel query, `parallel` at once.

    A query's time is until the last byte of Prometheus' answer; the answers are decoded after the
    clock stops. Grafana decodes them in its Go backend; decoding them here, in Python threads that
    share one interpreter lock and this machine's two cores with Prometheus, measured the client
    (about half the time of the heaviest dashboards) rather than what Prometheus costs."""
    step = grafana.grafana_step(range_s, scrape_s)
    now = time.time()
    end = (now // step) * step
    start = ((now - range_s) // step) * step
    variables = grafana.dashboard_variables(document)
    values = {v.name: v.value for v in variables}
    started = time.perf_counter()
    for v in variables:
        if v.label:
            match = grafana.substitute(v.selector, values, step_s=step, range_s=range_s, scrape_interval_s=scrape_s) \
                if v.selector else None
            api.label_values(v.label, match, now - range_s, now)
    variables_s = time.perf_counter() - started
    queries = [grafana.substitute(q.expr, values, step_s=step, range_s=range_s, scrape_interval_s=scrape_s)
               for q in grafana.dashboard_queries(document)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        timed = list(pool.map(lambda e: _timed(lambda: api.fetch_range(e, start, end, step)), queries))
    wall = time.perf_counter() - started
    results = [api.decode(body, expr)["result"] for (_, body), expr in zip(timed, queries)]
    slowest = max(range(len(queries)), key=lambda i: timed[i][0])
    return {
        "load_s": wall,
        "variables_s": variables_s,
        "sum_of_queries_s": sum(t for t, _ in timed),
        "queries": len(queries),
        "series_returned": sum(len(r) for r in results),
        "response_bytes": sum(len(body) for _, body in timed),
        "slowest_s": timed[slowest][0],
        "slowest_query": queries[slowest],
        "step_s": step,
    }


# --- measurements -------------------------------------------------------------------------------


def _working_set(engine: Engine, container: str) -> int:
    stats = engine.stats(container)
    memory = stats["memory_stats"]
    inner = memory.get("stats", {})
    inactive = inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return int(memory["usage"]) - int(inactive)


def _tsdb_disk(tsdb: Path) -> dict:
    blocks_bytes = samples = 0
    for meta in tsdb.glob("*/meta.json"):
        doc = json.loads(meta.read_text())
        samples += doc["stats"]["numSamples"]
        blocks_bytes += sum(f.stat().st_size for f in meta.parent.rglob("*") if f.is_file())
    wal = sum(f.stat().st_size for f in (tsdb / "wal").rglob("*") if f.is_file()) if (tsdb / "wal").exists() else 0
    return {
        "blocks": len(list(tsdb.glob("*/meta.json"))),
        "blocks_bytes": blocks_bytes,
        "block_samples": samples,
        "bytes_per_sample": blocks_bytes / samples if samples else None,
        "wal_bytes": wal,
    }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _wait_for_compaction(api: _Api, log: Callable[[str], None], timeout: float = 900) -> None:
    """Wait until the compactor is done with the backfilled blocks: block count and compactions unchanged 60 s."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = (api.scalar("prometheus_tsdb_blocks_loaded"), api.scalar("prometheus_tsdb_compactions_total"))
        if state != last:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= 60:
            return
        time.sleep(5)
    log("  compaction still busy; measuring anyway")


def run_step(engine: Engine, series: int, options: Options) -> dict:
    """Measure one step: Prometheus holding about `series` active series; returns the step's record."""
    log = options.log
    targets = synthetic.plan(series)
    settings = _settings(options)
    scrape_s = parse_duration_seconds(settings.prometheus.scrape_interval)
    run_id = uuid.uuid4().hex[:8]
    work = options.workdir / f"step-{series}-{run_id}"
    www, tsdb = work / "www", work / "tsdb"
    www.mkdir(parents=True)
    tsdb.mkdir()
    os.chown(tsdb, NOBODY, NOBODY)
    for path in (options.workdir, work, www):
        path.chmod(0o755)
    record: dict[str, Any] = {"series_target": series, "synthetic_series": targets.total,
                              "backend_replicas": targets.replicas,
                              "memory_limit_mb": settings.prometheus.memory_mb, "image": options.image}
    log(f"step {series:,}: {targets.total:,} synthetic series ({targets.replicas} backend replicas)")

    history_s = max(options.ranges_s) if options.ranges_s else 0
    history_s = min(history_s, options.max_history_samples / targets.total * scrape_s)
    history_s = (history_s // scrape_s) * scrape_s

    labels = {LABEL: "1"}
    network = f"capacity-{run_id}"
    engine.create_network({"Name": network, "Driver": "bridge", "Labels": labels, "CheckDuplicate": True})
    containers: list[str] = []
    try:
        with _Writer(www, targets, scrape_s):
            hardening = {"NetworkMode": network, "CapDrop": ["ALL"], "SecurityOpt": ["no-new-privileges:true"],
                         "Memory": 64 << 20, "MemorySwap": 64 << 20, "Binds": [f"{www}:/www:ro"]}

            def httpd(name: str, served: dict[str, int], aliases: list[str]) -> str:
                script = " & ".join(f"busybox httpd -f -p {port} -h /www/{source}" for source, port in served.items())
                container = engine.create_container(name, {
                    "Image": options.image, "Entrypoint": ["/bin/sh", "-c", script + " & wait"], "Cmd": [],
                    "User": str(NOBODY), "Labels": labels, "HostConfig": hardening,
                    "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": aliases}}},
                })
                containers.append(container)
                engine.start(container)
                return container

            exporters = {job.job_name: job.targets[0] for job in catalogue.scrape_jobs(settings) if job.targets}
            httpd(f"capacity-exporters-{run_id}",
                  {source: int(exporters[job].rpartition(":")[2]) for source, job in _EXPORTER_JOBS.items()},
                  [exporters[job].rpartition(":")[0] for job in _EXPORTER_JOBS.values()])
            instances = []
            for i in range(targets.replicas):
                replica = httpd(f"capacity-backend-{run_id}-{i}", {"backend": BACKEND_PORT}, [backend.JOB])
                address = engine.container(replica)["NetworkSettings"]["Networks"][network]["IPAddress"]
                instances.append(f"{address}:{BACKEND_PORT}")
            rules = catalogue.recording_rules(settings)
            record["history"] = backfill(targets, instances, exporters, rules, tsdb, history_s, scrape_s, work, log)

            port = _free_port()
            memory = settings.prometheus.memory_mb << 20
            prom_id = engine.create_container(f"capacity-prometheus-{run_id}", {
                "Image": options.image, "Cmd": prometheus_command(settings), "Labels": labels,
                "ExposedPorts": {f"{prometheus.PORT}/tcp": {}},
                "HostConfig": {
                    "Binds": [f"{tsdb}:{PROMETHEUS_TSDB_PATH}"], "NetworkMode": network, "CapDrop": ["ALL"],
                    "SecurityOpt": ["no-new-privileges:true"], "Memory": memory, "MemorySwap": memory,
                    "PortBindings": {f"{prometheus.PORT}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
                },
                "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": [prometheus.SERVICE.alias]}}},
            })
            containers.append(prom_id)
            engine.put_archive(prom_id, str(Path(PROMETHEUS_CONFIG_FILE).parent), _tar({
                Path(PROMETHEUS_CONFIG_FILE).name: to_yaml(render_prometheus_config(settings)),
                Path(PROMETHEUS_RULES_FILE).name: to_yaml(render_alert_rules(settings)),
            }))
            engine.start(prom_id)
            api = _Api(f"http://127.0.0.1:{port}")
            started = time.monotonic()
            _wait(api.ready, 600, "Prometheus /-/ready")
            record["startup_s"] = time.monotonic() - started
            expected_targets = targets.replicas + 1 + len(_EXPORTER_JOBS)  # replicas, itself, exporters

            def all_up() -> bool:
                return (api.scalar("count(up == 1)") or 0) >= expected_targets

            _wait(all_up, 120, f"{expected_targets} targets up", interval=2)
            if record["history"]["samples"]:
                _wait_for_compaction(api, log)
            log(f"  ready in {record['startup_s']:.0f} s; settling {options.settle_s:.0f} s")
            time.sleep(options.settle_s)

            measure_start = time.time()
            working_sets: list[int] = []
            while time.time() - measure_start < options.measure_s:
                working_sets.append(_working_set(engine, prom_id))
                time.sleep(5)
            window = f"{max(int(time.time() - measure_start), int(scrape_s * 2))}s"
            state = engine.container(prom_id)["State"]
            record["oom_killed"] = bool(state.get("OOMKilled")) or not state.get("Running")
            record.update(_measure(api, window, measure_start, scrape_s, working_sets))
            log(f"  head series {record['head_series']:,}, RSS {record['rss_bytes'] / 2**20:.0f} MiB, "
                f"working set {record['working_set_bytes'] / 2**20:.0f} MiB")

            from dashboards import render_documents

            loads: dict[str, dict] = {}
            for range_s in options.ranges_s:
                for filename, document in render_documents().items():
                    runs = [load_dashboard(api, document, range_s, scrape_s, options.parallel_queries)
                            for _ in range(options.repeats)]
                    median = statistics.median(r["load_s"] for r in runs)
                    chosen = min(runs, key=lambda r: abs(r["load_s"] - median))
                    loads[f"{filename}@{_range_name(range_s)}"] = {
                        **chosen, "load_s": median, "cold_load_s": runs[0]["load_s"],
                        "history_covered_s": min(range_s, record["history"]["history_s"] + options.settle_s),
                    }
                    log(f"  {filename} over {_range_name(range_s)}: {median * 1000:.0f} ms")
            record["dashboards"] = loads
        record["disk"] = _tsdb_disk(tsdb)
        bps = record["disk"]["bytes_per_sample"]
        record["disk_bytes_per_day"] = bps * record["ingestion_samples_per_s"] * 86400 if bps else None
    finally:
        for container in containers:
            try:
                engine.remove_container(container)
            except EngineError:
                pass
        engine.remove_network(network)
        shutil.rmtree(work, ignore_errors=True)
    return record


def _range_name(range_s: float) -> str:
    return f"{int(range_s // 3600)}h" if range_s >= 3600 else f"{int(range_s // 60)}m"


def _measure(api: _Api, window: str, measure_start: float, scrape_s: float, working_sets: list[int]) -> dict:
    head_series = api.scalar('prometheus_tsdb_head_series') or 0
    rss = api.scalar(f'max_over_time(process_resident_memory_bytes{{job="prometheus"}}[{window}])') or 0
    scrape = api.query_range('scrape_duration_seconds', measure_start, time.time(), scrape_s)
    durations = [float(v) for series in scrape for _, v in series["values"]]
    rules = api.scalar(f"max(max_over_time(prometheus_rule_group_last_duration_seconds[{window}]))")
    rule_p99 = api.scalar('max(prometheus_rule_evaluation_duration_seconds{quantile="0.99"})')
    ingestion = api.scalar(f"rate(prometheus_tsdb_head_samples_appended_total[{window}])") or 0
    return {
        "head_series": int(head_series),
        "rss_bytes": int(rss),
        "working_set_bytes": max(working_sets) if working_sets else None,
        "working_set_median_bytes": int(statistics.median(working_sets)) if working_sets else None,
        "bytes_per_series": rss / head_series if head_series else None,
        "scrape_duration_p99_s": _quantile(durations, 0.99),
        "scrape_duration_max_s": max(durations) if durations else None,
        "rule_group_duration_max_s": rules,
        "rule_evaluation_p99_s": rule_p99,
        "ingestion_samples_per_s": ingestion,
    }
