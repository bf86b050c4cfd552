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

from .promql import aggregate, eq, re, selector
from .rules import AlertRule, RecordingRule
from .service import ScrapeJob, Service, Threshold

__all__ = [
    "JOB",
    "LATENCY_QUANTILES",
    "OVERFLOW_WINDOW",
    "RECORDED_AUTH_ATTEMPTS",
    "RECORDED_DURATION_BUCKETS",
    "RECORDED_JOB_DURATION_BUCKETS",
    "RECORDED_REQUESTS",
    "RECORDED_ROUTE_QUANTILES",
    "RECORDED_SERIES_OVERFLOW",
    "SERVICE",
    "THRESHOLDS",
    "Thresholds",
    "alert_rules",
    "metrics",
    "recording_rules",
    "scrape_job",
]

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

# Recorded series the Backend API dashboard and the backend's alerts read (level:metric:operations).
# Summed over instances and methods, they are a few hundred series however many replicas run, so the
# dashboard opens fast and the alerts evaluate fast at any scale (benchmarks/capacity measures both);
# a panel that needs one instance reads the raw series.
_REQUESTS_RULE = RecordingRule.summed_rate(metrics.HTTP_REQUESTS_TOTAL, ("job", metrics.LABEL_ROUTE, metrics.LABEL_STATUS))
_DURATION_RULE = RecordingRule.summed_rate(f"{metrics.HTTP_REQUEST_DURATION_SECONDS}_bucket",
                                           ("job", metrics.LABEL_ROUTE, "le"))
_JOB_DURATION_RULE = RecordingRule.summed_rate(f"{metrics.HTTP_REQUEST_DURATION_SECONDS}_bucket", ("job", "le"))
LATENCY_QUANTILES = (0.5, 0.9, 0.99)
_QUANTILE_RULES = tuple(
    RecordingRule.quantile(_DURATION_RULE, metrics.HTTP_REQUEST_DURATION_SECONDS, q) for q in LATENCY_QUANTILES
)
# Login attempts by outcome (LoginFailureSpike) and label sets folded per instance over the alert's
# 15 minutes (BackendMetricsSeriesCapped): recorded so that no backend alert reads a raw series.
_AUTH_RULE = RecordingRule.summed_rate(metrics.AUTH_ATTEMPTS_TOTAL, ("job", metrics.LABEL_OUTCOME))
OVERFLOW_WINDOW = "15m"
_OVERFLOW_RULE = RecordingRule.summed_increase(metrics.SERIES_OVERFLOW_TOTAL, ("job", "instance"), OVERFLOW_WINDOW)
# BackendSlowRoute reads the recorded p99 (the quantile its threshold is about).
_P99_RULE = _QUANTILE_RULES[LATENCY_QUANTILES.index(0.99)]
RECORDED_REQUESTS = _REQUESTS_RULE.record
RECORDED_AUTH_ATTEMPTS = _AUTH_RULE.record
RECORDED_SERIES_OVERFLOW = _OVERFLOW_RULE.record
RECORDED_JOB_DURATION_BUCKETS = _JOB_DURATION_RULE.record
RECORDED_ROUTE_QUANTILES = _QUANTILE_RULES[0].record
# Active series per replica: backend_metrics' HTTP families for about 50 route templates x 2 methods
# (a counter per status, 14 histogram series per route and method) plus process and business metrics.
EXPECTED_SERIES = 2_000
RECORDED_DURATION_BUCKETS = _DURATION_RULE.record


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
    """The backend's alerts, each reading recorded series only (`recording_rules()`): they cost the
    same at 1 or 100 replicas. The recording group runs once a minute, so an alert may see a value up
    to a minute late; the sums below drop what the recorded series keep beyond the alert's own labels
    (none, `route` or `instance`), so routing and inhibition see the same labels as before."""
    t = THRESHOLDS
    job = eq("job", JOB)
    requests = aggregate("sum", selector(RECORDED_REQUESTS, job))
    errors = aggregate("sum", selector(RECORDED_REQUESTS, job, re(metrics.LABEL_STATUS, STATUS_5XX)))
    p99 = aggregate("max", selector(_P99_RULE.record, job, *(eq(k, v) for k, v in _P99_RULE.labels)),
                    by=(metrics.LABEL_ROUTE,))
    attempts = aggregate("sum", selector(RECORDED_AUTH_ATTEMPTS, job))
    failures = aggregate("sum", selector(RECORDED_AUTH_ATTEMPTS, job, eq(metrics.LABEL_OUTCOME, AUTH_FAILURE)))
    overflow = aggregate("sum", selector(RECORDED_SERIES_OVERFLOW, job), by=("instance",))
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
            f"{p99} > {_number(latency)}",
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


def recording_rules() -> list[RecordingRule]:
    # in evaluation order: the quantiles read the recorded buckets of the same group
    return [_REQUESTS_RULE, _DURATION_RULE, _JOB_DURATION_RULE, *_QUANTILE_RULES, _AUTH_RULE, _OVERFLOW_RULE]


SERVICE = Service(
    JOB,
    scrape=scrape_job,
    alert_rules=alert_rules,
    recording_rules=recording_rules,
    dashboard="backend_api",
    deployed=False,
    expected_series=EXPECTED_SERIES,
)
