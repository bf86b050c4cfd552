"""The fast in-process store exposes exactly what prometheus_client's Counter and Histogram would."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from backend_metrics.factory import DEFAULT_BUCKETS, http_metrics
from backend_metrics.names import OVERFLOW_VALUE
from backend_metrics.recorder import HttpRecorder
from tests.backend_metrics.readers import duration_count, requests_by


def without_created(exposition: bytes) -> list[str]:
    return sorted(line for line in exposition.decode().splitlines() if "_created" not in line)


observations = st.lists(
    st.tuples(
        st.sampled_from(["GET", "POST", "BREW"]),
        st.sampled_from(["/tickets", "/tickets/{ticket_id}", "<unmatched>"]),
        st.sampled_from([200, 201, 404, 500]),
        st.one_of(st.sampled_from(DEFAULT_BUCKETS), st.floats(min_value=0, max_value=30, allow_nan=False)),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(observations=observations, cap=st.integers(min_value=1, max_value=20))
def test_fast_and_prometheus_client_storage_expose_the_same_samples(observations, cap):
    fast_registry, client_registry = CollectorRegistry(), CollectorRegistry()
    fast = HttpRecorder(fast_registry, storage="fast", max_series=cap)
    client = HttpRecorder(client_registry, storage="prometheus_client", max_series=cap)
    for method, route, status, duration in observations:
        fast.record(method, route, status, duration)
        client.record(method, route, status, duration)
    assert without_created(generate_latest(fast_registry)) == without_created(generate_latest(client_registry))


@pytest.mark.parametrize("storage", ["fast", "prometheus_client"])
def test_both_storages_fold_past_the_cap(storage):
    registry = CollectorRegistry()
    recorder = HttpRecorder(registry, storage=storage, max_series=1)
    recorder.record("GET", "/a", 200, 0.01)
    recorder.record("GET", "/b", 200, 0.01)
    recorder.record("GET", "/c", 200, 0.01)
    assert requests_by(registry) == {("GET", "/a", "200"): 1.0, (OVERFLOW_VALUE,) * 3: 2.0}


def test_created_series_are_exposed_like_prometheus_clients():
    fast_registry, client_registry = CollectorRegistry(), CollectorRegistry()
    HttpRecorder(fast_registry, storage="fast").record("GET", "/a", 200, 0.01)
    HttpRecorder(client_registry, storage="prometheus_client").record("GET", "/a", 200, 0.01)

    def created_names(registry):
        return sorted(line.split("{")[0] for line in generate_latest(registry).decode().splitlines() if "_created{" in line)

    assert created_names(fast_registry) == created_names(client_registry) != []


def test_concurrent_threads_lose_no_increments():
    registry = CollectorRegistry()
    recorder = HttpRecorder(registry, storage="fast")
    per_thread, threads = 5000, 8

    def hammer():
        for _ in range(per_thread):
            recorder.record("GET", "/hot", 200, 0.001)

    pool = [threading.Thread(target=hammer) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert requests_by(registry) == {("GET", "/hot", "200"): float(per_thread * threads)}
    assert duration_count(registry, "GET", "/hot") == float(per_thread * threads)


@pytest.mark.parametrize(
    "buckets",
    [DEFAULT_BUCKETS, (0.1,), (0.5, 0.1, 1.0)],
    ids=["default", "one-bound", "unsorted"],
)
def test_fast_storage_puts_durations_at_and_around_the_bounds_where_prometheus_client_does(buckets):
    finite = sorted(b for b in buckets if b != float("inf"))
    durations = [0.0, 1e-9, 42.0]
    for bound in finite:
        durations += [bound, bound * (1 - 1e-12), bound * (1 + 1e-12)]
    fast_registry, client_registry = CollectorRegistry(), CollectorRegistry()
    fast = HttpRecorder(fast_registry, storage="fast", buckets=buckets)
    client = HttpRecorder(client_registry, storage="prometheus_client", buckets=buckets)
    for duration in durations:
        fast.record("GET", "/a", 200, duration)
        client.record("GET", "/a", 200, duration)
    fast_lines = without_created(generate_latest(fast_registry))
    assert fast_lines == without_created(generate_latest(client_registry))
    assert any('le="+Inf"' in line for line in fast_lines)


def test_asking_for_another_storage_on_the_same_registry_is_refused():
    registry = CollectorRegistry()
    http_metrics(registry, storage="fast")
    with pytest.raises(ValueError, match="storage"):
        http_metrics(registry, storage="prometheus_client")


def test_disabling_created_series_drops_them_from_the_fast_store_too(monkeypatch):
    from prometheus_client import metrics as client_metrics

    monkeypatch.setattr(client_metrics, "_use_created", False)
    registry = CollectorRegistry()
    HttpRecorder(registry, storage="fast").record("GET", "/a", 200, 0.01)
    exposition = generate_latest(registry).decode()
    assert "http_requests_total{" in exposition
    assert "_created" not in exposition
