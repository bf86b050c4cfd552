"""The capacity benchmark runs end to end at its smallest step, so it cannot rot (nothing is timed).

It runs the stack's Prometheus image on the e2e session's engine under the shared engine lock
(taken here unless this pytest already runs under `flock /tmp/monstack-engine.lock`).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dashboards
from benchmarks.capacity import synthetic

REPO = Path(__file__).resolve().parents[2]
LOCK = os.environ.get("MONSTACK_ENGINE_LOCK", "/tmp/monstack-engine.lock")
IMAGE = "monstack-local/prometheus:2.42.0"
STEP = 1000


def _ancestor_holds(path: str) -> bool:
    """True when a process above this one (e.g. `flock LOCK pytest ...`) holds the flock on `path`."""
    try:
        inode = os.stat(path).st_ino
        holders = set()
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
                holders.add(int(fields[4]))
    except (OSError, ValueError):
        return False
    pid = os.getpid()
    while pid > 1:
        if pid in holders:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


@pytest.fixture(scope="session")
def engine_lock():
    if _ancestor_holds(LOCK):
        yield
        return
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def capacity_run(engine_lock, engine, images, tmp_path_factory):
    assert IMAGE in images
    out = tmp_path_factory.mktemp("capacity") / "capacity.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.capacity", f"--steps={STEP}", "--settle=0s", "--measure=5s",
         "--ranges=1h", "--repeats=1", "--max-history-samples=200000", f"--image={IMAGE}", "--engine-lock=",
         f"--out={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_the_smallest_step_measures_every_quantity(capacity_run):
    document, _ = capacity_run
    (step,) = document["steps"]
    planned = synthetic.plan(STEP)
    assert step["synthetic_series"] == planned.total
    assert step["head_series"] >= planned.total  # plus Prometheus' own
    assert step["rss_bytes"] > 0 and step["working_set_bytes"] > 0 and step["bytes_per_series"] > 0
    assert step["ingestion_samples_per_s"] > 0
    assert step["scrape_duration_p99_s"] is not None and step["rule_group_duration_max_s"] is not None
    assert step["history"]["samples"] > 0 and step["disk"]["bytes_per_sample"] > 0
    assert not step["oom_killed"]


def test_every_dashboard_is_loaded_with_all_its_queries(capacity_run):
    document, _ = capacity_run
    (step,) = document["steps"]
    loads = step["dashboards"]
    assert set(loads) == {f"{filename}@1h" for filename in dashboards.render_documents()}
    for key, load in loads.items():
        assert load["queries"] > 0 and load["step_s"] == 15, key
        assert load["series_returned"] > 0, key


def test_the_table_and_the_published_estimates_are_printed(capacity_run):
    document, stdout = capacity_run
    assert "| active series |" in stdout and "Robust Perception" in stdout
    assert document["machine"]["cpus"] and document["published_bytes_per_series"]


def test_nothing_is_left_on_the_engine(capacity_run):
    from benchmarks.capacity.engine import Engine
    from benchmarks.capacity.run import LABEL

    client = Engine()
    assert client.containers(f"{LABEL}=1") == [] and client.networks(f"{LABEL}=1") == []
