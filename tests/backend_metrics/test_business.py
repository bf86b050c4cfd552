"""Business counters: names from names.py, zero from the start, outcomes from a fixed set."""

from __future__ import annotations

import pytest

from backend_metrics.business import BusinessMetrics
from backend_metrics.names import AUTH_ATTEMPTS_TOTAL, AUTH_OUTCOMES, TICKETS_CREATED_TOTAL, USERS_REGISTERED_TOTAL
from tests.backend_metrics.readers import sample_values


def test_every_auth_outcome_exists_at_zero_before_the_first_login(registry):
    BusinessMetrics(registry)
    outcomes = sample_values(registry, AUTH_ATTEMPTS_TOTAL)
    assert outcomes == {(("outcome", outcome),): 0.0 for outcome in AUTH_OUTCOMES}
    assert sample_values(registry, TICKETS_CREATED_TOTAL) == {(): 0.0}
    assert sample_values(registry, USERS_REGISTERED_TOTAL) == {(): 0.0}


def test_counters_count_what_happened(registry):
    business = BusinessMetrics(registry)
    business.ticket_created()
    business.ticket_created()
    business.user_registered()
    business.auth_attempt("success")
    business.auth_attempt("failure")
    business.auth_attempt("failure")
    assert sample_values(registry, TICKETS_CREATED_TOTAL) == {(): 2.0}
    assert sample_values(registry, USERS_REGISTERED_TOTAL) == {(): 1.0}
    assert sample_values(registry, AUTH_ATTEMPTS_TOTAL) == {(("outcome", "success"),): 1.0, (("outcome", "failure"),): 2.0}


def test_an_unknown_outcome_is_refused_and_names_the_allowed_ones(registry):
    business = BusinessMetrics(registry)
    with pytest.raises(ValueError) as excinfo:
        business.auth_attempt("maybe")
    for outcome in AUTH_OUTCOMES:
        assert outcome in str(excinfo.value)
    assert len(sample_values(registry, AUTH_ATTEMPTS_TOTAL)) == len(AUTH_OUTCOMES)


def test_two_business_metrics_on_one_registry_share_their_counters(registry):
    BusinessMetrics(registry).ticket_created()
    BusinessMetrics(registry).ticket_created()
    assert sample_values(registry, TICKETS_CREATED_TOTAL) == {(): 2.0}


def test_importing_the_package_registers_nothing():
    import subprocess
    import sys

    code = (
        "import prometheus_client as p\n"
        "before = set(p.REGISTRY._names_to_collectors)\n"
        "import backend_metrics, backend_metrics.asgi, backend_metrics.wsgi, backend_metrics.business, "
        "backend_metrics.exposition, backend_metrics.multiprocess, backend_metrics.factory, backend_metrics.guard\n"
        "print(sorted(set(p.REGISTRY._names_to_collectors) - before))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
