"""The app's backend: scraped by Prometheus, instrumented with backend_metrics, never deployed by the stack.

Its metric names belong to `backend_metrics.names` (the package that emits them); this module
holds what monitoring adds: the job, the thresholds both the alerts and the dashboards use, and
the alert rules.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from backend_metrics import names as metrics

from .promql import aggregate, eq, increase, rate, re, selector
from .rules import RATE_WINDOW, AlertRule
from .service import ScrapeJob, Service, Threshold

__all__ = ["JOB", "SERVICE", "THRESHOLDS", "Thresholds", "alert_rules", "metrics", "scrape_job"]

JOB = "backend"
STATUS_4XX = "4.."
STATUS_5XX = "5.."
AUTH_FAILURE = "failure"
assert AUTH_FAILURE in metrics.AUTH_OUTCOMES, "the backend's auth outcomes changed; update the login failure rules"


@dataclass(frozen=True)
class Thresholds:
    """Levels of the backend's health, read by its alerts and its dashboard alike."""

    # Share of requests answered 5xx; the alert fires above the critical level.
    error_ratio: Threshold = Threshold(warning=0.01, critical=0.05)
    # p99 request duration in seconds; the alert fires above the critical level.
    p99_latency_seconds: Threshold = Threshold(warning=0.5, critical=1.0)
    # Share of failed logins; the alert fires above the critical level ...
    login_failure_ratio: Threshold = Threshold(warning=0.2, critical=0.5)
    # ... while there are more login attempts per second than this (a few failures are normal).
    login_attempts_per_second: float = 0.2
    # Requests in progress per instance.
    in_progress: Threshold = Threshold(warning=50, critical=100)
    # Client errors per second (dashboard colour only) and server errors per second.
    client_errors_per_second: float = 1.0
    server_errors_per_second: float = 0.1


THRESHOLDS = Thresholds()


def scrape_job(settings: Any) -> ScrapeJob:
    """Every replica of the backend is its own target.

    A `name:port` entry of backendTargets is discovered by DNS: Docker's DNS answers a service
    name or network alias with one A record per container, so Prometheus scrapes each replica
    (a static `backend:8000` would keep one connection to one replica and under-count the rest).
    An `address:port` entry (a host outside Docker) is scraped as written.
    """
    static, discovered = [], []
    for target in settings.backend_targets:
        host, _, port = target.rpartition(":")
        if _is_ip_address(host.strip("[]")):
            static.append(target)
        else:
            discovered.append((host, int(port)))
    return ScrapeJob(JOB, tuple(static), tuple(discovered))


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _number(value: float) -> str:
    """A threshold as PromQL text: 1.0 -> "1", 0.05 -> "0.05"."""
    return f"{value:g}"


def alert_rules() -> list[AlertRule]:
    t = THRESHOLDS
    job = eq("job", JOB)
    requests = aggregate("sum", rate(selector(metrics.HTTP_REQUESTS_TOTAL, job), RATE_WINDOW))
    errors = aggregate(
        "sum", rate(selector(metrics.HTTP_REQUESTS_TOTAL, job, re(metrics.LABEL_STATUS, STATUS_5XX)), RATE_WINDOW)
    )
    buckets = rate(selector(f"{metrics.HTTP_REQUEST_DURATION_SECONDS}_bucket", job), RATE_WINDOW)
    attempts = aggregate("sum", rate(selector(metrics.AUTH_ATTEMPTS_TOTAL, job), RATE_WINDOW))
    failures = aggregate(
        "sum",
        rate(selector(metrics.AUTH_ATTEMPTS_TOTAL, job, eq(metrics.LABEL_OUTCOME, AUTH_FAILURE)), RATE_WINDOW),
    )
    overflow = aggregate("sum", increase(selector(metrics.SERIES_OVERFLOW_TOTAL, job), "15m"), by=("instance",))
    latency = t.p99_latency_seconds.critical
    return [
        AlertRule(
            "BackendHighErrorRatio",
            f"({errors}) / ({requests}) > {_number(t.error_ratio.critical)}",
            "5m",
            "critical",
            f"More than {t.error_ratio.critical:.0%} of backend requests fail with a 5xx status",
            "{{ $value | humanizePercentage }} of requests answered 5xx over the last 5 minutes.",
        ),
        AlertRule(
            "BackendSlowRoute",
            f"histogram_quantile(0.99, {aggregate('sum', buckets, by=('le', metrics.LABEL_ROUTE))}) > {_number(latency)}",
            "10m",
            "warning",
            f"A backend route's p99 latency is above {_number(latency)} s",
            "p99 of {{ $labels.route }} is {{ $value | humanizeDuration }}.",
        ),
        AlertRule(
            "LoginFailureSpike",
            f"({failures}) / ({attempts}) > {_number(t.login_failure_ratio.critical)}"
            f" and ({attempts}) > {_number(t.login_attempts_per_second)}",
            "10m",
            "warning",
            "Most login attempts fail",
            "{{ $value | humanizePercentage }} of authentication attempts failed: a broken client, or password guessing.",
        ),
        AlertRule(
            "BackendMetricsSeriesCapped",
            f"{overflow} > 0",
            "0m",
            "info",
            "backend_metrics folded new label sets into __overflow__",
            "A metric reached its series cap on {{ $labels.instance }}: look for unbounded label values.",
        ),
    ]


SERVICE = Service(JOB, scrape=scrape_job, alert_rules=alert_rules, dashboard="backend_api", deployed=False)
