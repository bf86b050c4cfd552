"""/metrics render time against the number of label sets, in process and under gunicorn (multiprocess mode).

    python3 -m benchmarks.bench_render [--sizes 100,1000,2000,10000] [--workers 1,4,8] [--repeat 3]

For each number of label sets (one per route: ``GET``, ``200``; the counter and
the histogram get that many each), in one run and side by side:

- in process: backend_metrics' `render` (its fast store; gzip level 1 as a
  scraper asks for it, and plain) against prometheus_client's ``generate_latest``
  of a ``Counter`` and a ``Histogram`` holding the same series (gzip at its
  default level 9, as its ``make_wsgi_app`` sends it, and plain);
- under gunicorn (sync workers, ``PROMETHEUS_MULTIPROC_DIR``) with each number of
  workers, every worker holding every label set (the worst case: each worker
  served every route): the time for a client to fetch backend_metrics'
  ``/metrics`` against prometheus_client's ``make_wsgi_app`` with its
  ``MultiProcessCollector`` (benchmarks/render_app.py), both gzipped.

2,000 is the default series cap (`max_series`): past it, new label sets fold
into ``__overflow__``, so a scrape at the cap is the largest a default
configuration produces.  Prometheus' default scrape timeout is 10 s.
Times are the best of ``--repeat``.
"""

from __future__ import annotations

from benchmarks.bench_overhead import timed

import argparse
import contextlib
import gzip
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REPO_ROOT = Path(__file__).resolve().parents[1]


def in_process(size: int, repeat: int) -> dict[str, float | int]:
    from backend_metrics.exposition import render
    from backend_metrics.factory import DEFAULT_BUCKETS
    from backend_metrics.recorder import HttpRecorder

    ours = CollectorRegistry()
    recorder = HttpRecorder(ours, max_series=max(size, 1), storage="fast")
    stock = CollectorRegistry()
    counter = Counter("http_requests", "h", ["method", "route", "status"], registry=stock)
    histogram = Histogram("http_request_duration_seconds", "h", ["method", "route"], registry=stock, buckets=DEFAULT_BUCKETS)
    for r in range(size):
        route, duration = f"/api/v1/resource{r}/{{id}}", 0.003 * (r % 7 + 1)
        recorder.record("GET", route, 200, duration)
        counter.labels("GET", route, "200").inc()
        histogram.labels("GET", route).observe(duration)
    return {
        "ours_gzip": timed(lambda: render(ours, accept_encoding="gzip"), repeat),
        "ours_plain": timed(lambda: render(ours), repeat),
        "stock_gzip": timed(lambda: gzip.compress(generate_latest(stock)), repeat),
        "stock_plain": timed(lambda: generate_latest(stock), repeat),
        "bytes_gzip": len(render(ours, accept_encoding="gzip")[0]),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fetch(url: str, method: str = "GET", timeout: float = 120.0) -> bytes:
    request = urllib.request.Request(url, method=method, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


@contextlib.contextmanager
def gunicorn(workers: int) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-render-") as metrics_dir:
        port = _free_port()
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "PYTHONPATH": str(REPO_ROOT)}
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        argv += ["--worker-class", "sync", "--timeout", "300", "benchmarks.render_app:app"]
        process = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
                try:
                    _fetch(base + "/stock-metrics", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


def seed_every_worker(base: str, size: int, workers: int) -> None:
    pids: set[bytes] = set()
    for _ in range(workers * 50):
        pids.add(_fetch(f"{base}/seed/{size}", method="POST"))
        if len(pids) >= workers:
            return
    raise RuntimeError(f"only {len(pids)} of {workers} workers answered the seed requests")


def under_gunicorn(sizes: list[int], worker_counts: list[int], repeat: int) -> list[tuple[int, int, float, float, int]]:
    rows = []
    for workers in worker_counts:
        with gunicorn(workers) as base:
            for size in sizes:
                seed_every_worker(base, size, workers)
                ours = timed(lambda: _fetch(base + "/metrics"), repeat)
                stock = timed(lambda: _fetch(base + "/stock-metrics"), repeat)
                rows.append((size, workers, ours, stock, len(_fetch(base + "/metrics"))))
    return rows


def main(argv: list[str] | None = None) -> tuple[list, list]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,2000,10000", help="label sets, comma-separated")
    parser.add_argument("--workers", default="1,4,8", help="gunicorn worker counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    worker_counts = [int(x) for x in args.workers.split(",")]

    print(f"Python {sys.version.split()[0]}; times in ms, best of {args.repeat}\n")
    print("In process (one registry):\n")
    print("| label sets | backend_metrics, gzip 1 | prometheus_client, gzip 9 | backend_metrics, plain | prometheus_client, plain | bytes (gzip 1) |")
    print("|---:|---:|---:|---:|---:|---:|")
    process_rows = []
    for size in sizes:
        r = in_process(size, args.repeat)
        process_rows.append((size, r))
        print(
            f"| {size:,} | {r['ours_gzip'] * 1e3:.1f} | {r['stock_gzip'] * 1e3:.1f} | {r['ours_plain'] * 1e3:.1f} "
            f"| {r['stock_plain'] * 1e3:.1f} | {r['bytes_gzip']:,} |"
        )
    print("\nUnder gunicorn, multiprocess mode (every worker holds every label set; fetched over HTTP with gzip):\n")
    print("| label sets | workers | backend_metrics /metrics | prometheus_client make_wsgi_app + MultiProcessCollector | bytes |")
    print("|---:|---:|---:|---:|---:|")
    gunicorn_rows = under_gunicorn(sizes, worker_counts, args.repeat)
    for size, workers, ours, stock, size_bytes in sorted(gunicorn_rows):
        print(f"| {size:,} | {workers} | {ours * 1e3:.1f} | {stock * 1e3:.1f} | {size_bytes:,} |")
    return process_rows, gunicorn_rows


if __name__ == "__main__":
    main()
