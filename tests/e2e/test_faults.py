"""Faults on the real engine: Prometheus killed with SIGKILL while it ingests.

(The engine-restart fault runs on an engine of the tests' own: test_own_engine.py.)
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from .conftest import REPORT, prometheus_api, raw_samples, wait_ready

pytestmark = pytest.mark.e2e


def _wait(predicate, timeout: float, what: str, step: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s")
        time.sleep(step)


def _sample_times(base: str, selector: str, at: float) -> list[float]:
    data = prometheus_api(base, "query", query=f"{selector}[15m]", time=f"{at:.3f}")["result"]
    assert len(data) == 1, data
    return [float(t) for t, _ in data[0]["values"]]


def test_prometheus_killed_with_sigkill_comes_back_by_its_restart_policy_with_every_sample(stack, engine):
    name = f"{stack.name}-prometheus"
    info = engine.inspect_container(name)
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    own_job = 'up{job="prometheus"}'
    # Ingesting: at least three scrapes of its own target stored.
    _wait(lambda: len(_sample_times(stack.url, own_job, time.time())) >= 3, 60, "three scrapes")
    at = time.time()
    before = raw_samples(stack.url, "up", "15m", at)
    assert before and all(len(values) >= 1 for values in before.values())

    # SIGKILL to the process itself, as the OOM killer does (`docker kill` would count as a
    # manual stop, which the restart policy respects).
    os.kill(info["State"]["Pid"], signal.SIGKILL)
    killed_at = time.time()
    restarted = _wait(
        lambda: (lambda i: i if i["RestartCount"] > info["RestartCount"] and i["State"]["Running"] else None)(
            engine.inspect_container(name)
        ),
        60,
        "a restart by the restart policy",
    )
    assert restarted["Id"] == info["Id"]  # the same container, restarted, not re-created
    wait_ready(stack.url)

    # Every sample it had ingested before the kill is back (replayed from the WAL).
    assert raw_samples(stack.url, "up", "15m", at) == before
    # The gap in its own scrapes across the kill.
    times = _wait(
        lambda: (lambda ts: ts if any(t > killed_at for t in ts) else None)(_sample_times(stack.url, own_job, time.time())),
        60,
        "a scrape after the restart",
    )
    last_before = max(t for t in times if t <= killed_at)
    first_after = min(t for t in times if t > killed_at)
    spacing = sorted(b - a for a, b in zip(times, times[1:]) if b <= killed_at)
    interval = spacing[len(spacing) // 2] if spacing else 0.0
    gap = first_after - last_before
    REPORT["note:sigkill"] = (
        f"Prometheus SIGKILL: restarted by its policy (restart count {restarted['RestartCount']}), every sample "
        f"before the kill kept; scrape gap {gap:.1f}s across the kill (scrape interval {interval:.1f}s, "
        f"{max(0, round(gap / interval) - 1) if interval else '?'} scrapes missed)"
    )
    print(REPORT["note:sigkill"])
    assert gap > 0
