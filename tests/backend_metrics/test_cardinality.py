"""Hostile or random traffic cannot grow the number of series past what the app's routes allow."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from backend_metrics.asgi import instrument
from backend_metrics.guard import LabelGuard
from backend_metrics.names import (
    HTTP_REQUEST_DURATION_SECONDS,
    HTTP_REQUESTS_TOTAL,
    METHOD_OTHER,
    OVERFLOW_VALUE,
    ROUTE_UNMATCHED,
    SERIES_OVERFLOW_TOTAL,
    STANDARD_METHODS,
)
from tests.backend_metrics.asgi_client import call
from tests.backend_metrics.readers import requests_by, sample_values

ROUTE_TEMPLATES = {"/tickets", "/tickets/{ticket_id}", "/users/{user_id}/tickets/{ticket_id}", "/orgs/{org}/ping"}


async def answer_with_requested_status(request):
    return PlainTextResponse("x", status_code=int(request.query_params.get("status", "200")))


def routed_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/tickets", answer_with_requested_status, methods=["GET", "POST"]),
            Route("/tickets/{ticket_id}", answer_with_requested_status, methods=["GET", "PATCH", "DELETE"]),
            Route("/users/{user_id}/tickets/{ticket_id}", answer_with_requested_status),
            Mount("/orgs/{org}", routes=[Route("/ping", answer_with_requested_status)]),
        ]
    )


segment = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="/?#%"), min_size=0, max_size=12)
paths = st.one_of(
    st.lists(segment, min_size=0, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    st.builds(lambda t: f"/tickets/{t}", segment),
    st.builds(lambda u, t: f"/users/{u}/tickets/{t}", segment, segment),
    st.builds(lambda o: f"/orgs/{o}/ping", segment),
)
methods = st.one_of(st.sampled_from(sorted(STANDARD_METHODS)), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ-", min_size=1, max_size=10))
statuses = st.integers(min_value=200, max_value=599)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(st.tuples(methods, paths, statuses), min_size=1, max_size=25))
def test_random_paths_methods_and_statuses_only_produce_known_label_values(requests):
    registry = CollectorRegistry()
    app = instrument(routed_app(), registry=registry)
    for method, path, status in requests:
        call(app, method, f"{path}?status={status}")
    seen = requests_by(registry)
    assert sum(seen.values()) == len(requests)  # every request counted once
    for method, route, status in seen:
        assert method in STANDARD_METHODS or method == METHOD_OTHER
        assert route in ROUTE_TEMPLATES or route == ROUTE_UNMATCHED
        assert 200 <= int(status) <= 599


@settings(max_examples=30, deadline=None)
@given(requests=st.lists(st.tuples(methods, paths, statuses), min_size=1, max_size=60), cap=st.integers(min_value=1, max_value=8))
def test_the_series_cap_holds_for_any_traffic(requests, cap):
    registry = CollectorRegistry()
    app = instrument(routed_app(), registry=registry, max_series=cap)
    for method, path, status in requests:
        call(app, method, f"{path}?status={status}")
    counter_series = sample_values(registry, HTTP_REQUESTS_TOTAL)
    histogram_series = sample_values(registry, HTTP_REQUEST_DURATION_SECONDS + "_count")
    assert len(counter_series) <= cap + 1  # +1: the overflow series
    assert len(histogram_series) <= cap + 1
    assert sum(counter_series.values()) == len(requests)  # folded, not lost


def test_label_sets_past_the_cap_fold_into_the_overflow_value_and_are_counted():
    registry = CollectorRegistry()
    app = instrument(routed_app(), registry=registry, max_series=2)
    call(app, "GET", "/tickets?status=200")
    call(app, "GET", "/tickets?status=201")
    call(app, "GET", "/tickets?status=202")
    call(app, "GET", "/tickets?status=203")
    call(app, "GET", "/tickets?status=200")  # an existing series still counts as itself
    assert requests_by(registry) == {
        ("GET", "/tickets", "200"): 2.0,
        ("GET", "/tickets", "201"): 1.0,
        (OVERFLOW_VALUE, OVERFLOW_VALUE, OVERFLOW_VALUE): 2.0,
    }
    overflows = sample_values(registry, SERIES_OVERFLOW_TOTAL)
    assert overflows[(("metric", HTTP_REQUESTS_TOTAL),)] == 2.0


def test_the_guard_caches_children_and_caps_label_sets():
    registry = CollectorRegistry()
    counter = Counter("jobs_total", "jobs", ["kind"], registry=registry)
    folded = []
    guard = LabelGuard(counter, max_series=2, on_overflow=lambda: folded.append(1))
    assert guard.labels("a") is guard.labels("a")
    guard.labels("b").inc()
    guard.labels("c").inc()
    guard.labels("d").inc()
    assert len(guard) == 2
    assert guard.labels("c") is guard.labels("d")
    assert len(folded) == 4  # c, d, and the two lookups in the identity check
    assert sample_values(registry, "jobs_total") == {
        (("kind", "a"),): 0.0,
        (("kind", "b"),): 1.0,
        (("kind", OVERFLOW_VALUE),): 2.0,
    }


def test_a_guard_needs_a_labelled_metric_and_a_positive_cap():
    registry = CollectorRegistry()
    with pytest.raises(ValueError, match="no labels"):
        LabelGuard(Counter("plain_total", "plain", registry=registry))
    with pytest.raises(ValueError, match="at least 1"):
        LabelGuard(Counter("labelled_total", "l", ["x"], registry=registry), max_series=0)
