"""Multiprocess mode (gunicorn and friends), as prometheus_client documents it.

- `PROMETHEUS_MULTIPROC_DIR` is set in the environment before Python starts (so
  before prometheus_client is imported); every worker writes its values there.
- Each scrape collects the directory into a fresh registry (`scrape_registry`).
- When a worker exits, gunicorn's ``child_exit`` hook (`child_exit`, wired in
  examples/helpdesk/gunicorn.conf.py) folds its files into one archive per type
  (`backend_metrics.fold`), and every scrape first folds workers that died
  without the hook: the directory stays bounded by the live workers, and so does
  the cost of a scrape, however many workers were recycled.
- A missing, non-directory or unwritable directory fails at start
  (`check_multiprocess_dir`), not with an empty ``/metrics`` later.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, values
from prometheus_client import multiprocess as _mp
from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.registry import Collector

from backend_metrics.fold import JOURNAL, fold_dead_workers, pid_is_alive, swept

__all__ = [
    "ENV_VAR",
    "MultiprocessConfigError",
    "FoldingCollector",
    "check_multiprocess_dir",
    "child_exit",
    "clear_multiprocess_dir",
    "mark_process_dead",
    "merge_files",
    "multiprocess_dir",
    "on_starting",
    "scrape_registry",
]

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


class MultiprocessConfigError(RuntimeError):
    """Multiprocess mode is asked for but cannot work."""


def multiprocess_dir() -> str | None:
    """The multiprocess directory from the environment, or None in single-process mode."""
    return os.environ.get(ENV_VAR) or None


def _check_directory(path: str) -> None:
    if not os.path.isdir(path):
        raise MultiprocessConfigError(
            f"{ENV_VAR}={path!r} does not exist or is not a directory; create it (empty) before starting the server"
        )
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as err:
        raise MultiprocessConfigError(f"{ENV_VAR}={path!r} is not writable: {err}") from err


def check_multiprocess_dir() -> str | None:
    """Raise `MultiprocessConfigError` unless multiprocess mode, when asked for, can work.

    Returns the directory (None in single-process mode).  Checks that it exists, is a
    directory, accepts a new file, and that prometheus_client was imported after the
    variable was set (otherwise every worker would count only for itself).  Called by
    every middleware at construction, so a worker refuses to boot instead of serving
    an empty ``/metrics``.
    """
    path = multiprocess_dir()
    if path is None:
        return None
    _check_directory(path)
    if values.ValueClass is values.MutexValue:
        raise MultiprocessConfigError(
            f"{ENV_VAR} is set but prometheus_client was imported before it was: set it in the "
            "environment of the server process (not from Python code after imports)"
        )
    return path


def scrape_registry(*, sweep: bool = True) -> CollectorRegistry:
    """A fresh registry that reads every worker's values from the multiprocess directory.

    It also works in a process that records nothing (a sidecar exporter).  sweep: fold
    the files of pids whose process is gone first (workers that died without the
    ``child_exit`` hook).  Pass False in a process that cannot see the workers' pids
    (a sidecar in another pid namespace would take live workers for dead ones).
    """
    path = multiprocess_dir()
    if path is None:
        raise MultiprocessConfigError(f"{ENV_VAR} is not set; scrape_registry() is for multiprocess mode only")
    if not os.path.isdir(path):
        raise MultiprocessConfigError(f"{ENV_VAR}={path!r} does not exist or is not a directory")
    registry = CollectorRegistry()
    registry.register(FoldingCollector(path, sweep=sweep))
    # python_info is the same in every worker; per-process collectors (CPU, memory, GC) are
    # not exported in multiprocess mode, as prometheus_client documents.
    PlatformCollector(registry=registry)
    return registry


_SUMMED_TYPES = ("counter", "histogram", "summary")


def merge_files(files: Iterable[str]) -> Iterable[Metric]:
    """What prometheus_client's ``MultiProcessCollector.merge(files, accumulate=True)`` returns,
    faster when several workers hold the same series.

    The stock merge builds a sample object per series per file, then sums them.  Here the
    values of counters, histograms and summaries are first summed per raw file key (a float
    addition per series per file), so the stock accumulation sees each series once; gauges,
    whose modes need every worker's value, go through the stock reading unchanged.
    """
    summed: dict[str, dict[str, float]] = {}
    others = []
    for file in files:
        kind = os.path.basename(file).split("_")[0]
        if kind not in _SUMMED_TYPES:
            others.append(file)
            continue
        values = summed.setdefault(kind, {})
        get = values.get
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(file):
            values[key] = get(key, 0.0) + value
    metrics = _mp.MultiProcessCollector._read_metrics(others)
    for kind, values in summed.items():
        for key, value in values.items():
            metric_name, name, labels, help_text = json.loads(key)
            metric = metrics.get(metric_name)
            if metric is None:
                metric = metrics[metric_name] = Metric(metric_name, help_text, kind)
            metric.add_sample(name, tuple(sorted(labels.items())), value)
    return _mp.MultiProcessCollector._accumulate_metrics(metrics, True)


class FoldingCollector(Collector):
    """prometheus_client's multiprocess merge (`merge_files`), under the fold lock, after
    finishing any interrupted fold and (with `sweep`) folding workers that died without the hook."""

    def __init__(self, path: str, *, sweep: bool = True) -> None:
        self.path = path
        self.sweep = sweep

    def collect(self):
        with swept(self.path, is_alive=pid_is_alive if self.sweep else _every_pid_alive):
            files = glob.glob(os.path.join(self.path, "*.db"))
            return merge_files(files)


def _every_pid_alive(pid: int) -> bool:
    return True


def mark_process_dead(pid: int, path: str | None = None) -> None:
    """A worker exited: fold its values into the archives and drop its live gauges."""
    path = path or multiprocess_dir()
    if path is not None:
        fold_dead_workers(path, [pid])


def clear_multiprocess_dir(path: str | None = None) -> None:
    """Remove the files a previous run left behind (do this before workers start)."""
    path = path or multiprocess_dir()
    if path is None:
        return
    patterns = ("*.db", "*.dead", "*.next", JOURNAL, JOURNAL + ".tmp")
    for pattern in patterns:
        for name in glob.glob(os.path.join(path, pattern)):
            os.remove(name)


def on_starting(server: Any = None) -> None:
    """gunicorn ``on_starting`` hook: fail before forking if the directory is unusable, then wipe it."""
    path = multiprocess_dir()
    if path is None:
        raise MultiprocessConfigError(f"{ENV_VAR} must be set when serving with several workers")
    _check_directory(path)
    clear_multiprocess_dir(path)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook (runs in the master after it reaped the worker).

    A failed fold (a full disk...) is logged, not raised: an exception here would stop
    gunicorn's master.  Nothing is lost: the files stay, and the next scrape's sweep or
    the next fold finishes the work.
    """
    try:
        mark_process_dead(worker.pid)
    except Exception:
        log = getattr(server, "log", None)
        if log is not None:
            log.exception("backend_metrics: folding the files of worker %s failed; the next scrape retries", worker.pid)
