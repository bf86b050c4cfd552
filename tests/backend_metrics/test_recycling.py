"""Worker recycling under real gunicorn: totals exact, the multiprocess directory bounded."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend_metrics.fold import locked
from backend_metrics.names import HTTP_REQUESTS_TOTAL, LABEL_ROUTE
from tests.support.live import REPO_ROOT, free_port, http_get, start_process

pytestmark = pytest.mark.live

WITH_HOOK = REPO_ROOT / "examples" / "helpdesk" / "gunicorn.conf.py"
WORKERS = 3
MAX_REQUESTS = 15
REQUESTS = 360
KILL_EVERY = 45


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid` now. Processes (and threads) come and go while /proc is
    read: one that vanishes between the listing and the read is simply not a child any more."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the field after state is the parent pid
            found.add(int(entry.name))
    return found


def served_count(exposition: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == HTTP_REQUESTS_TOTAL and sample.labels[LABEL_ROUTE] == "/work/<int:n>"
    )


@pytest.mark.parametrize("hook", ["child_exit hook", "scrape sweep only"])
def test_recycled_and_killed_workers_are_folded_exactly(tmp_path, hook):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    config = WITH_HOOK
    if hook == "scrape sweep only":  # workers that die without the master's hook (the sweep's job)
        config = tmp_path / "gunicorn.conf.py"
        config.write_text("from backend_metrics import multiprocess\n\ndef on_starting(server):\n    multiprocess.on_starting(server)\n")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "-c", str(config), "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS)]
    argv += ["--worker-class", "sync", "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", "0"]
    argv += ["tests.support.recycling_app:app"]
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PYTHONPATH": str(REPO_ROOT)}
    with start_process(argv, ready_url=base_url + "/metrics", env=env, cwd=REPO_ROOT, timeout=60, name="gunicorn") as (master, _):
        pids_seen: set[int] = set()
        killed: set[int] = set()
        last = 0
        for n in range(REQUESTS):
            with urllib.request.urlopen(f"{base_url}/work/{n}", timeout=10) as response:
                assert response.status == 200
                last = int(response.read())
            pids_seen.add(last)
            if n % KILL_EVERY == KILL_EVERY - 1:
                # SIGKILL a worker mid-traffic: one that is not finishing the request just answered
                time.sleep(0.05)
                victims = sorted(children(master.pid) - {last})
                for victim in victims:
                    try:
                        os.kill(victim, signal.SIGKILL)
                    except ProcessLookupError:  # recycled by --max-requests since the listing
                        continue
                    killed.add(victim)
                    break
        status, _, body = http_get(base_url + "/metrics")
        assert status == 200
        # Read as every reader of the directory does, under the fold lock: a worker recycled by
        # that very scrape may be being folded by the master right now (its files half moved).
        with locked(str(metrics_dir)):
            files = sorted(p.name for p in metrics_dir.iterdir() if not p.name.startswith("."))
    assert served_count(body.decode()) == REQUESTS
    assert len(pids_seen | killed) > 3 * WORKERS  # many more workers lived than the directory holds files for
    db_files = [name for name in files if name.endswith(".db")]
    assert len(db_files) <= 2 * (WORKERS + 1)  # counter + histogram per live worker, plus the two archives
    assert {"counter_archive.db", "histogram_archive.db"} <= set(db_files)
    assert [name for name in files if not name.endswith(".db")] == []  # no fold left half done
