"""Dead workers' multiprocess files, folded into one archive per type, crash-safe.

prometheus_client's multiprocess mode leaves one file per metric type per worker
pid (``counter_1234.db``...), and every scrape reads them all: under gunicorn's
``--max-requests`` (and crash restarts) the directory grows without bound, and so
does the cost of a scrape.  Here the values of a dead worker are added into one
archive file per type (``counter_archive.db``, ``histogram_archive.db``...), in
prometheus_client's own file format so `MultiProcessCollector` reads it like any
worker's file, and the worker's files are removed: the directory holds at most
one file per type per live worker, plus the archives.

When: gunicorn's ``child_exit`` hook (the master has reaped the worker, so its pid
is known dead) folds that pid; every scrape first sweeps the pids whose process
is gone (workers that died without the hook).  A pid that is alive is never
folded, so a reused pid keeps its file, as prometheus_client does.

Crash safety: every step runs under an exclusive ``flock`` on a lock file in the
directory (scrapes take it too, so a scrape never sees half a fold):

1. retire: ``counter_1234.db`` -> ``counter_1234.dead`` (rename; scrapes read
   ``*.db`` only).  If the pid turns out alive right after the rename (a new
   process took it and may have opened the file), the file is renamed back.
2. merge: the archive plus every ``*.dead`` file are summed into
   ``counter_archive.next`` (written and fsynced; not read by scrapes).
3. commit: a journal naming the archives to install and the dead files to
   remove is written to a temporary name, fsynced and renamed to
   ``fold.journal``: this rename is the commit point.
4. apply: each ``.next`` replaces its archive (rename), the dead files are
   removed, then the journal.

`recover` (run before every fold and every scrape) finishes an interrupted fold:
with a journal it re-applies it (each step is idempotent); without one it drops
the ``.next`` files and merges the ``*.dead`` files again from the old archive.
So whatever point a fold stops at, each dead worker's values are counted
exactly once.  Types: counters, histograms and summaries are summed; gauges in
``sum``/``max``/``min``/``mostrecent`` mode are combined by their mode; ``live*``
gauges of dead workers are removed (prometheus_client's ``mark_process_dead``);
gauges in ``all`` mode keep one series per pid by design and are left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.mmap_dict import MmapedDict

__all__ = ["ARCHIVE_PID", "FOLDABLE", "fold_dead_workers", "locked", "pid_is_alive", "recover", "swept"]

ARCHIVE_PID = "archive"
LOCK_FILE = ".backend_metrics.lock"
JOURNAL = "fold.journal"
_JOURNAL_TMP = "fold.journal.tmp"
_DEAD, _NEXT = ".dead", ".next"


def _summed(old: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    return old[0] + new[0], max(old[1], new[1])


def _highest(old: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    return new if new[0] > old[0] else old


def _lowest(old: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    return new if new[0] < old[0] else old


def _latest(old: tuple[float, float], new: tuple[float, float]) -> tuple[float, float]:
    return new if new[1] > old[1] else old


FOLDABLE: dict[str, Callable[[tuple[float, float], tuple[float, float]], tuple[float, float]]] = {
    "counter": _summed,
    "histogram": _summed,
    "summary": _summed,
    "gauge_sum": _summed,
    "gauge_max": _highest,
    "gauge_min": _lowest,
    "gauge_mostrecent": _latest,
}
"""File prefix -> how two values of one sample combine (value, timestamp)."""


def pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Exclusive lock on the directory's fold lock file (folds and scrapes).

    Opened read-only (``flock`` needs no write access): gunicorn's master may create
    it as root while workers that dropped privileges (``--user``) must lock it too.
    """
    fd = os.open(os.path.join(path, LOCK_FILE), os.O_CREAT | os.O_RDONLY, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _split(name: str, suffix: str) -> tuple[str, str] | None:
    """("counter", "1234") for "counter_1234.db"; None for other names."""
    if not name.endswith(suffix):
        return None
    prefix, _, pid = name[: -len(suffix)].rpartition("_")
    return (prefix, pid) if prefix else None


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _no_checkpoint(step: str) -> None:
    """Tests replace this to stop a fold at `step` (a simulated crash)."""


class _Fold:
    def __init__(self, path: str, checkpoint: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.checkpoint = checkpoint or _no_checkpoint

    def _at(self, name: str) -> str:
        return os.path.join(self.path, name)

    # 1. retire ---------------------------------------------------------------------------
    def retire(self, pids: Iterable[int] | None, is_alive: Callable[[int], bool]) -> None:
        wanted = None if pids is None else {str(pid) for pid in pids}
        for file in sorted(os.listdir(self.path)):
            parts = _split(file, ".db")
            if parts is None or parts[1] == ARCHIVE_PID or not parts[1].isdigit():
                continue
            prefix, pid = parts
            if wanted is not None and pid not in wanted:
                continue
            if not (prefix in FOLDABLE or prefix.startswith("gauge_live")) or is_alive(int(pid)):
                continue
            if prefix.startswith("gauge_live"):  # a dead worker's live gauge: gone, as mark_process_dead does
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._at(file))
                continue
            dead = file[: -len(".db")] + _DEAD
            os.rename(self._at(file), self._at(dead))
            self.checkpoint(f"retired {file}")
            if is_alive(int(pid)):
                # A new process took the pid between the check and the rename and may have
                # opened this file: give it back, unless that process already made a new one.
                try:
                    os.link(self._at(dead), self._at(file))
                except FileExistsError:
                    continue
                os.remove(self._at(dead))

    # 2-4. merge, commit, apply ---------------------------------------------------------------
    def merge(self) -> None:
        dead_by_prefix: dict[str, list[str]] = {}
        for file in sorted(os.listdir(self.path)):
            parts = _split(file, _DEAD)
            if parts is not None and parts[0] in FOLDABLE:
                dead_by_prefix.setdefault(parts[0], []).append(file)
        if not dead_by_prefix:
            return
        for prefix, files in sorted(dead_by_prefix.items()):
            combine = FOLDABLE[prefix]
            values: dict[str, tuple[float, float]] = {}
            sources = [f"{prefix}_{ARCHIVE_PID}.db", *files]
            for source in sources:
                try:
                    entries = MmapedDict.read_all_values_from_file(self._at(source))
                except FileNotFoundError:
                    continue
                for key, value, timestamp, _ in entries:
                    old = values.get(key)
                    values[key] = (value, timestamp) if old is None else combine(old, (value, timestamp))
            self._write(self._at(f"{prefix}_{ARCHIVE_PID}{_NEXT}"), values)
            self.checkpoint(f"wrote {prefix} archive")
        journal = {"install": sorted(dead_by_prefix), "remove": [f for files in dead_by_prefix.values() for f in files]}
        with open(self._at(_JOURNAL_TMP), "w") as out:
            json.dump(journal, out)
            out.flush()
            os.fsync(out.fileno())
        self.checkpoint("wrote journal")
        os.rename(self._at(_JOURNAL_TMP), self._at(JOURNAL))  # the commit point
        _fsync_dir(self.path)
        self.checkpoint("committed")
        self.apply(journal)

    @staticmethod
    def _write(file: str, values: dict[str, tuple[float, float]]) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(file)
        store = MmapedDict(file)
        try:
            for key, (value, timestamp) in values.items():
                store.write_value(key, value, timestamp)
        finally:
            store.close()
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def apply(self, journal: dict) -> None:
        for prefix in journal["install"]:
            with contextlib.suppress(FileNotFoundError):
                os.replace(self._at(f"{prefix}_{ARCHIVE_PID}{_NEXT}"), self._at(f"{prefix}_{ARCHIVE_PID}.db"))
            self.checkpoint(f"installed {prefix} archive")
        for file in journal["remove"]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._at(file))
            self.checkpoint(f"removed {file}")
        _fsync_dir(self.path)
        os.remove(self._at(JOURNAL))
        self.checkpoint("done")

    def recover(self) -> None:
        try:
            with open(self._at(JOURNAL)) as journal_file:
                journal = json.load(journal_file)
        except FileNotFoundError:
            journal = None
        if journal is not None:
            self.apply(journal)
        for leftover in glob.glob(self._at("*" + _NEXT)) + [self._at(_JOURNAL_TMP)]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)
        self.merge()  # dead files no committed journal covered: not in the archive yet


def recover(path: str, *, checkpoint: Callable[[str], None] | None = None) -> None:
    """Finish or roll back an interrupted fold (call with the lock held, see `locked`)."""
    _Fold(path, checkpoint).recover()


def fold_dead_workers(
    path: str,
    pids: Iterable[int] | None = None,
    *,
    is_alive: Callable[[int], bool] = pid_is_alive,
    checkpoint: Callable[[str], None] | None = None,
) -> None:
    """Fold the files of dead workers into the archives.

    pids: the workers known to have exited (gunicorn's ``child_exit``); None sweeps
      every pid with files whose process is gone.  Alive pids are never folded.
    Takes the directory's lock, finishes any interrupted fold first.
    """
    fold = _Fold(path, checkpoint)
    with locked(path):
        fold.recover()
        fold.retire(pids, is_alive)
        fold.merge()


@contextlib.contextmanager
def swept(path: str, *, is_alive: Callable[[int], bool] = pid_is_alive) -> Iterator[None]:
    """Hold the lock with every dead worker folded: what a scrape reads inside is consistent."""
    fold = _Fold(path)
    with locked(path):
        fold.recover()
        fold.retire(None, is_alive)
        fold.merge()
        yield
