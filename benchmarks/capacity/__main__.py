"""``python -m benchmarks.capacity``: how Prometheus' memory, disk and dashboard load time grow with series.

Runs the stack's own Prometheus (image, flags, memory limit and rendered config as the stack
declares them) on the Docker engine against synthetic targets, one step per series count,
prints a table and the growth fits beside the published estimates, and writes it all as JSON.
Takes the shared engine lock (``--engine-lock``) for the whole run.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

from stack.settings import parse_duration_seconds

from . import report

DEFAULT_IMAGE = "monstack-local/prometheus:2.42.0"
DEFAULT_LOCK = "/tmp/monstack-engine.lock"


def _machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    import os

    return {"host": platform.node(), "cpu": cpu, "cpus": os.cpu_count(), "memory_bytes": memory,
            "kernel": platform.release(), "python": platform.python_version()}


@contextlib.contextmanager
def _engine_lock(path: str):
    if not path:
        yield
        return
    with open(path, "a") as handle:
        print(f"waiting for the engine lock {path} ...", file=sys.stderr)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="10000,50000,100000,250000",
                        help="comma-separated active series counts (default: %(default)s)")
    parser.add_argument("--settle", default="2m", help="live scraping before measuring (default: %(default)s)")
    parser.add_argument("--measure", default="1m", help="how long memory is sampled (default: %(default)s)")
    parser.add_argument("--ranges", default="1h,24h", help="dashboard time ranges (default: %(default)s)")
    parser.add_argument("--max-history-samples", type=int, default=30_000_000,
                        help="cap on backfilled samples per step; history is shortened to fit "
                             "(promtool backfills about 350k samples/s here) (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=None,
                        help="Prometheus memory limit; default: the stack's prometheus.memoryMb")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="Prometheus image (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="loads per dashboard and range (median)")
    parser.add_argument("--parallel-queries", type=int, default=6,
                        help="panel queries in flight at once, as a browser's connections (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("capacity.json"), help="JSON output (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory (default: a temporary one)")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="print the tables of an earlier run's JSON instead of running")
    parser.add_argument("--engine-lock", default=DEFAULT_LOCK,
                        help="flock this file for the run; '' when the caller holds it (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        args.steps = [int(s) for s in args.steps.split(",") if s]
        args.settle_s = parse_duration_seconds(args.settle)
        args.measure_s = parse_duration_seconds(args.measure)
        args.ranges_s = tuple(parse_duration_seconds(r) for r in args.ranges.split(",") if r)
    except ValueError as err:
        parser.error(str(err))
    if not args.steps or any(s <= 0 for s in args.steps):
        parser.error("--steps needs positive series counts")
    return args


def _terminate(signum, frame):  # SIGTERM: unwind, so every container and network is removed
    raise SystemExit(128 + signum)


def print_report(document: dict) -> None:
    from stack.settings import PrometheusSettings

    machine, args = document["machine"], document["arguments"]
    ranges = [r for r in args["ranges"].split(",") if r]
    print(f"machine: {machine['host']}, {machine['cpu']}, {machine['cpus']} CPUs, "
          f"{machine['memory_bytes'] / 2**30:.0f} GiB; image {args['image']}; run started {document['started']}")
    print(report.render_table(document["steps"], ranges))
    print()
    print(report.render_growth(document["growth"]))
    defaults = PrometheusSettings()
    from catalogue import prometheus

    rows = report.sizing(document["steps"], document["growth"], headroom=prometheus.MEMORY_HEADROOM,
                         retention_bytes=defaults.retention_size_bytes,
                         scrape_interval_s=parse_duration_seconds(defaults.scrape_interval))
    print()
    print(report.render_sizing(rows, headroom=prometheus.MEMORY_HEADROOM,
                               retention_text=f"retentionSize {defaults.retention_size}"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        print_report(json.loads(args.from_json.read_text()))
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    from .engine import Engine
    from .run import Options, cleanup, run_step

    engine = Engine()
    if not engine.ping():
        print("no Docker engine answers (start one: scripts/docker-engine start DIR)", file=sys.stderr)
        return 2
    if not engine.has_image(args.image):
        print(f"image {args.image} is not on the engine (build it: images/build.sh prometheus)", file=sys.stderr)
        return 2
    ranges = [r for r in args.ranges.split(",") if r]
    records = []
    started = time.time()
    with _engine_lock(args.engine_lock), tempfile.TemporaryDirectory(prefix="monstack-capacity-",
                                                                     dir=args.workdir) as tmp:
        cleanup(engine)
        options = Options(image=args.image, memory_mb=args.memory_mb, settle_s=args.settle_s,
                          measure_s=args.measure_s, ranges_s=args.ranges_s,
                          max_history_samples=args.max_history_samples, repeats=args.repeats,
                          parallel_queries=args.parallel_queries, workdir=Path(tmp),
                          log=lambda line: print(line, file=sys.stderr, flush=True))
        for step in args.steps:
            records.append(run_step(engine, step, options))
    fits = report.growth(records, ranges)
    document = {
        "machine": _machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "steps": records,
        "growth": fits,
        "published_bytes_per_series": dict(report.PUBLISHED),
    }
    args.out.write_text(json.dumps(document, indent=2, sort_keys=True))
    print_report(document)
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
