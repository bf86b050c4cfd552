"""Scrape cost after many recycled gunicorn workers: backend_metrics' folding vs prometheus_client's stock collector.

    python3 -m benchmarks.bench_recycling [--dead 0,1000,10000] [--live 4] [--routes 30] [--repeat 3]

Each worker of a real app leaves a counter file and a histogram file in the
multiprocess directory.  The benchmark writes them in prometheus_client's own
format: one worker really records ``--routes`` routes x 3 statuses through
prometheus_client (so the files are byte for byte what a worker leaves), and
the dead workers are hard links to its files under other pids (a dead pid is
above the kernel's pid_max, so it can never be alive).  ``--live`` sleeping
processes stand for the live workers.  Then, in one run, for each number of
dead workers:

- stock: a fresh registry with prometheus_client's `MultiProcessCollector`
  renders the directory as it is (every dead worker's files);
- backend_metrics: a scrape (`FoldingCollector`, what `scrape_registry` uses)
  first folds the dead workers (here all at once, as its sweep does for workers
  that died without the hook), and is then timed on the folded directory.
  gunicorn's ``child_exit`` folds one worker at a time as it dies; its cost per
  worker is measured separately, in steady state (the live workers' files, the
  archives and the one worker that just died).

Scrape times are the best of ``--repeat``.
"""

from __future__ import annotations

from benchmarks.bench_overhead import timed

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

WORKER = textwrap.dedent(
    """
    import sys
    from backend_metrics.recorder import HttpRecorder
    recorder = HttpRecorder(max_series=100_000)
    for r in range(int(sys.argv[1])):
        for status in (200, 404, 500):
            recorder.record("GET", f"/api/v1/resource{r}/{{id}}", status, 0.003 * (r % 7 + 1))
    """
)

FIRST_DEAD_PID = 10_000_000  # far above any pid_max: never a live process


def one_worker_files(directory: Path, routes: int) -> list[Path]:
    """Run one real worker that records `routes` x 3 label sets; return the files it left."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", WORKER, str(routes)], check=True, env=env)
    return sorted(directory.glob("*.db"))


def populate(directory: Path, template: list[Path], live_pids: list[int], dead: int) -> None:
    """Live workers' files (copies under live pids) and `dead` workers' files (hard links)."""
    for path in template:
        kind = path.name.rsplit("_", 1)[0]
        for pid in live_pids:
            shutil.copyfile(path, directory / f"{kind}_{pid}.db")
        for n in range(dead):
            os.link(path, directory / f"{kind}_{FIRST_DEAD_PID + n}.db")


def stock_scrape(directory: Path) -> bytes:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry)


def folding_scrape(directory: Path) -> bytes:
    from backend_metrics.multiprocess import FoldingCollector

    registry = CollectorRegistry()
    registry.register(FoldingCollector(str(directory)))
    return generate_latest(registry)


def child_exit_cost(tmp: Path, template: list[Path], live_pids: list[int], sample: int) -> float:
    """Seconds per dead worker folded by ``child_exit`` in steady state: the live workers'
    files and the archives, plus the one worker that just died."""
    from backend_metrics.fold import fold_dead_workers

    if not sample:
        return 0.0
    directory = tmp / "child-exit"
    directory.mkdir()
    populate(directory, template, live_pids, 0)
    spent = 0.0
    for n in range(sample):
        pid = FIRST_DEAD_PID + n
        for path in template:
            os.link(path, directory / f"{path.name.rsplit('_', 1)[0]}_{pid}.db")
        start = time.perf_counter()
        fold_dead_workers(str(directory), [pid])
        spent += time.perf_counter() - start
    shutil.rmtree(directory)
    return spent / sample


def run(dead_counts: list[int], live: int, routes: int, repeat: int, per_worker_sample: int) -> list[tuple]:
    rows = []
    sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(live)]
    try:
        live_pids = [p.pid for p in sleepers]
        with tempfile.TemporaryDirectory(prefix="bench-recycling-") as tmp:
            template_dir = Path(tmp) / "template"
            template_dir.mkdir()
            template = one_worker_files(template_dir, routes)
            for dead in dead_counts:
                directory = Path(tmp) / f"dead-{dead}"
                directory.mkdir()
                populate(directory, template, live_pids, dead)
                files_before = len(list(directory.glob("*.db")))
                stock_body = stock_scrape(directory)
                stock = timed(lambda: stock_scrape(directory), repeat)
                per_worker = child_exit_cost(Path(tmp), template, live_pids, min(per_worker_sample, dead))
                folding_body = folding_scrape(directory)  # sweeps the rest
                files_after = len(list(directory.glob("*.db")))
                ours = timed(lambda: folding_scrape(directory), repeat)
                same = _samples(stock_body) == _samples(folding_body)
                rows.append((dead, files_before, stock, files_after, ours, per_worker, same))
                shutil.rmtree(directory)
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
    return rows


def _samples(body: bytes) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): round(s.value, 6)
        for f in text_string_to_metric_families(body.decode())
        for s in f.samples
        if not s.name.startswith("python_")
    }


def main(argv: list[str] | None = None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dead", default="0,1000,10000", help="numbers of dead (recycled) workers, comma-separated")
    parser.add_argument("--live", type=int, default=4)
    parser.add_argument("--routes", type=int, default=30, help="routes per worker (x 3 statuses = label sets)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-worker-sample", type=int, default=200, help="dead workers folded one at a time (timed)")
    args = parser.parse_args(argv)
    dead_counts = [int(x) for x in args.dead.split(",")]
    rows = run(dead_counts, args.live, args.routes, args.repeat, args.per_worker_sample)
    print(f"{args.live} live workers, {args.routes * 3} label sets per worker; scrape times best of {args.repeat}\n")
    print(
        "| dead workers | files, stock | scrape, stock MultiProcessCollector (ms) | files, folded "
        "| scrape, backend_metrics (ms) | fold per dead worker, child_exit (ms) | same samples |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for dead, files_before, stock, files_after, ours, per_worker, same in rows:
        per_worker_text = f"{per_worker * 1e3:.1f}" if dead else ""
        print(f"| {dead:,} | {files_before:,} | {stock * 1e3:.1f} | {files_after} | {ours * 1e3:.1f} | {per_worker_text} | {'yes' if same else 'NO'} |")
    return rows


if __name__ == "__main__":
    main()
