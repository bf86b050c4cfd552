"""Folding dead workers' multiprocess files: totals exact, directory bounded, any interruption recoverable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from backend_metrics import fold
from backend_metrics.fold import ARCHIVE_PID, fold_dead_workers, recover, swept

ROUTES = ["/tickets", "/tickets/{ticket_id}", "/users/{user_id}"]


def write_worker(path: Path, pid: int, counts: dict[str, int], live_gauge: float = 1.0) -> None:
    """The files one worker leaves, in prometheus_client's format: a counter per route, a histogram
    (one bucket, sum, count), a live gauge and a max gauge."""
    counter = MmapedDict(str(path / f"counter_{pid}.db"))
    histogram = MmapedDict(str(path / f"histogram_{pid}.db"))
    for route, count in counts.items():
        labels = ["GET", route, "200"]
        counter.write_value(mmap_key("http_requests_total", "http_requests_total", ["method", "route", "status"], labels, "h"), count, 0)
        hist_labels = ["method", "route", "le"]
        key = mmap_key("http_request_duration_seconds", "http_request_duration_seconds_bucket", hist_labels, ["GET", route, "0.1"], "h")
        histogram.write_value(key, count, 0)
        key = mmap_key("http_request_duration_seconds", "http_request_duration_seconds_sum", ["method", "route"], ["GET", route], "h")
        histogram.write_value(key, 0.01 * count, 0)
    counter.close()
    histogram.close()
    gauge = MmapedDict(str(path / f"gauge_livesum_{pid}.db"))
    gauge.write_value(mmap_key("in_progress", "in_progress", [], [], "h"), live_gauge, 0)
    gauge.close()
    peak = MmapedDict(str(path / f"gauge_max_{pid}.db"))
    peak.write_value(mmap_key("peak", "peak", [], [], "h"), float(pid % 97), 0)
    peak.close()


def totals(path: Path) -> dict[tuple, float]:
    """What a scrape would read: every sample of the merged *.db files."""
    found: dict[tuple, float] = {}
    for metric in MultiProcessCollector.merge([str(p) for p in path.glob("*.db")], accumulate=False):
        for sample in metric.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def expected_totals(workers: dict[int, dict[str, int]], alive: set[int]) -> dict[tuple, float]:
    found: dict[tuple, float] = {}
    for pid, counts in workers.items():
        for route, count in counts.items():
            for key in (
                ("http_requests_total", (("method", "GET"), ("route", route), ("status", "200"))),
                ("http_request_duration_seconds_bucket", (("le", "0.1"), ("method", "GET"), ("route", route))),
            ):
                found[key] = found.get(key, 0.0) + count
            key = ("http_request_duration_seconds_sum", (("method", "GET"), ("route", route)))
            found[key] = found.get(key, 0.0) + 0.01 * count
    if alive:
        found[("in_progress", ())] = float(len(alive))
    if workers:
        found[("peak", ())] = float(max(pid % 97 for pid in workers))
    return found


def assert_same(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value), key


def leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.suffix in (".dead", ".next") or p.name.startswith("fold.journal"))


def test_folding_keeps_every_count_and_leaves_one_file_per_type(tmp_path):
    workers = {pid: {route: pid * 3 + i for i, route in enumerate(ROUTES)} for pid in range(100, 160)}
    for pid, counts in workers.items():
        write_worker(tmp_path, pid, counts)
    before = totals(tmp_path)
    fold_dead_workers(str(tmp_path), workers, is_alive=lambda pid: False)
    after = totals(tmp_path)
    assert_same(after, {k: v for k, v in before.items() if k != ("in_progress", ())})  # dead workers' live gauges go
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [f"{t}_{ARCHIVE_PID}.db" for t in ("counter", "gauge_max", "histogram")]


def test_the_scrape_sweeps_workers_that_died_without_the_hook_and_spares_live_ones(tmp_path):
    workers = {pid: {"/tickets": pid} for pid in range(200, 230)}
    alive = {200, 201}
    for pid, counts in workers.items():
        write_worker(tmp_path, pid, counts)
    with swept(str(tmp_path), is_alive=lambda pid: pid in alive):
        assert_same(totals(tmp_path), expected_totals(workers, alive))
        worker_files = {p.name for p in tmp_path.glob("*.db") if ARCHIVE_PID not in p.name}
    assert worker_files == {f"{kind}_{pid}.db" for pid in alive for kind in ("counter", "histogram", "gauge_livesum", "gauge_max")}


def test_a_reused_pid_folds_both_lives_once(tmp_path):
    write_worker(tmp_path, 4242, {"/tickets": 5})
    fold_dead_workers(str(tmp_path), [4242], is_alive=lambda pid: False)
    write_worker(tmp_path, 4242, {"/tickets": 7})  # a new worker got the same pid
    fold_dead_workers(str(tmp_path), [4242], is_alive=lambda pid: False)
    assert totals(tmp_path)[("http_requests_total", (("method", "GET"), ("route", "/tickets"), ("status", "200")))] == 12


def test_a_pid_taken_again_during_the_fold_keeps_its_file(tmp_path):
    """The pid is dead at the check and alive right after the rename: a new process may have opened
    the file, so it is given back, not folded (and counted once, by that file)."""
    write_worker(tmp_path, 777, {"/tickets": 3})
    answers = iter([False, True] * 4)
    fold_dead_workers(str(tmp_path), [777], is_alive=lambda pid: next(answers))
    assert (tmp_path / "counter_777.db").exists()
    assert not list(tmp_path.glob(f"counter_{ARCHIVE_PID}.db"))
    assert totals(tmp_path)[("http_requests_total", (("method", "GET"), ("route", "/tickets"), ("status", "200")))] == 3


def test_a_live_pid_is_never_folded(tmp_path):
    write_worker(tmp_path, os.getpid(), {"/tickets": 2})
    fold_dead_workers(str(tmp_path), [os.getpid()])  # the real liveness check: this process is alive
    assert (tmp_path / f"counter_{os.getpid()}.db").exists()


class Crash(Exception):
    pass


def crash_at(step: int):
    seen = [0]

    def checkpoint(name: str) -> None:
        seen[0] += 1
        if seen[0] == step:
            raise Crash(name)

    return checkpoint


def count_checkpoints(tmp: Path, workers: dict, archived: dict) -> int:
    seen = []
    for pid, counts in archived.items():
        write_worker(tmp, pid, counts)
    fold_dead_workers(str(tmp), archived, is_alive=lambda pid: False)
    for pid, counts in workers.items():
        write_worker(tmp, pid, counts)
    fold_dead_workers(str(tmp), workers, is_alive=lambda pid: False, checkpoint=seen.append)
    return len(seen)


def worker_sets(low: int, high: int):
    return st.dictionaries(
        st.integers(min_value=low, max_value=high),
        st.fixed_dictionaries({}, optional={route: st.integers(min_value=0, max_value=10**6) for route in ROUTES}),
        min_size=1,
        max_size=6,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    archived=worker_sets(1000, 1099),
    workers=worker_sets(1100, 1199),
    first_crash=st.integers(min_value=0, max_value=10**6),
    second_crash=st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
)
def test_a_fold_interrupted_at_any_point_neither_loses_nor_doubles_a_count(tmp_path_factory, archived, workers, first_crash, second_crash):
    """Stop a fold at every step (and the recovery too, sometimes): the next lock holder finishes it."""
    steps = count_checkpoints(tmp_path_factory.mktemp("dry"), workers, archived)
    first_crash = first_crash % steps + 1  # every step of this fold, the last one included
    path = tmp_path_factory.mktemp("fold")
    for pid, counts in archived.items():
        write_worker(path, pid, counts)
    fold_dead_workers(str(path), archived, is_alive=lambda pid: False)  # an archive exists already
    for pid, counts in workers.items():
        write_worker(path, pid, counts)
    with pytest.raises(Crash):
        fold_dead_workers(str(path), workers, is_alive=lambda pid: False, checkpoint=crash_at(first_crash))
    if second_crash is not None:
        try:
            with fold.locked(str(path)):
                recover(str(path), checkpoint=crash_at(second_crash))
        except Crash:
            pass
    all_workers = {**archived, **workers}
    with swept(str(path), is_alive=lambda pid: False):
        assert_same(totals(path), expected_totals(all_workers, alive=set()))
    assert leftovers(path) == []
    assert len(list(path.glob("*.db"))) == 3  # one archive per type, whatever the history


def test_a_failing_fold_in_child_exit_is_logged_and_does_not_stop_the_master(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from backend_metrics import multiprocess

    monkeypatch.setenv(multiprocess.ENV_VAR, str(tmp_path))
    write_worker(tmp_path, 10000031, {"/tickets": 4})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fold._Fold, "merge", disk_full)
    logged = []
    server = SimpleNamespace(log=SimpleNamespace(exception=lambda message, *args: logged.append(message % args)))
    multiprocess.child_exit(server, SimpleNamespace(pid=10000031))
    assert logged and "10000031" in logged[0]
    monkeypatch.undo()
    with swept(str(tmp_path), is_alive=lambda pid: False):  # the next scrape finishes the fold
        assert totals(tmp_path)[("http_requests_total", (("method", "GET"), ("route", "/tickets"), ("status", "200")))] == 4


def test_a_scrape_without_sweep_folds_nothing_it_cannot_see_die(tmp_path, monkeypatch):
    """A sidecar in another pid namespace sees every worker pid as gone: it must not fold them."""
    from prometheus_client import generate_latest

    from backend_metrics import multiprocess

    monkeypatch.setenv(multiprocess.ENV_VAR, str(tmp_path))
    write_worker(tmp_path, 10_000_077, {"/tickets": 6})  # a pid no process here can have
    body = generate_latest(multiprocess.scrape_registry(sweep=False)).decode()
    assert 'http_requests_total{method="GET",route="/tickets",status="200"} 6.0' in body
    assert (tmp_path / "counter_10000077.db").exists()
    generate_latest(multiprocess.scrape_registry())  # the default sweeps it into the archive
    assert not (tmp_path / "counter_10000077.db").exists()
    assert totals(tmp_path)[("http_requests_total", (("method", "GET"), ("route", "/tickets"), ("status", "200")))] == 6
