"""Backend API dashboard: traffic, latency and errors by route, and the business counters."""

from __future__ import annotations

from catalogue import backend
from catalogue.backend import metrics as m
from catalogue.promql import aggregate, eq, rate, re, selector, var
from grafanalib import formatunits as units

from .panels import Query, Row, dashboard, query_variable, stat, timeseries

__all__ = ["UID", "TITLE", "FILENAME", "build"]

UID = "monstack-backend-api"
TITLE = "Backend API"
FILENAME = "backend-api.json"

STATUS_4XX = backend.STATUS_4XX
STATUS_5XX = backend.STATUS_5XX
FAILURE = backend.AUTH_FAILURE

_TARGET = (eq("job", var("job")), re("instance", var("instance")))
# Request rates and latency read the recorded series (summed over instances: a few hundred series
# at any replica count, so the dashboard opens fast at scale); $instance filters the per-instance panels.
# The errors by status and route are the recorded series as they are (one per job, route and status):
# summing them again by the labels they already have would only cost a grouping at every step.
_ROUTED = (eq("job", var("job")), re(m.LABEL_ROUTE, var("route")))


def _requests(*extra: str) -> str:
    return selector(backend.RECORDED_REQUESTS, *_ROUTED, *extra)


def _route_quantile(q: float) -> str:
    return selector(backend.RECORDED_ROUTE_QUANTILES, *_ROUTED, eq("quantile", f"{q:g}"))


def _overall_quantile(q: float) -> str:
    # The recorded buckets are one series per job and bucket: the quantile reads them as they are.
    return f"histogram_quantile({q}, {selector(backend.RECORDED_JOB_DURATION_BUCKETS, eq('job', var('job')))})"


def _per_minute(metric: str, by: tuple[str, ...] = (), *extra: str) -> str:
    return f"{aggregate('sum', rate(selector(metric, *_TARGET, *extra)), by=by)} * 60"


def build():
    T = backend.THRESHOLDS  # read at build time: one threshold object for alerts and colours
    all_requests = aggregate("sum", _requests())
    server_errors = aggregate("sum", _requests(re(m.LABEL_STATUS, STATUS_5XX)))
    auth_all = aggregate("sum", rate(selector(m.AUTH_ATTEMPTS_TOTAL, *_TARGET)))
    auth_failed = aggregate("sum", rate(selector(m.AUTH_ATTEMPTS_TOTAL, *_TARGET, eq(m.LABEL_OUTCOME, FAILURE))))
    latency_thresholds = T.p99_latency_seconds.steps()

    overview = Row("Overview", [
        stat("Request rate", Query(all_requests), unit=units.REQUESTS_PER_SEC, thresholds=(("blue", None),),
             description="Requests per second over the selected routes, all instances (5-minute rate, recorded)."),
        stat("5xx error ratio", Query(f"({server_errors} or vector(0)) / {all_requests}"),
             unit=units.PERCENT_UNIT, thresholds=T.error_ratio.steps(),
             description="Share of requests answered with a 5xx status (0 when there were none)."),
        stat("p99 latency", Query(_overall_quantile(0.99)), unit=units.SECONDS, thresholds=latency_thresholds,
             description="99th percentile request duration over all routes and instances (recorded)."),
        stat("Requests in progress",
             Query(aggregate("sum", selector(m.HTTP_REQUESTS_IN_PROGRESS, *_TARGET))),
             unit=units.SHORT, thresholds=T.in_progress.steps(),
             description="Requests being served right now, summed over instances."),
    ])
    traffic = Row("Traffic and latency", [
        timeseries("Request rate by route",
                   Query(aggregate("sum", _requests(), by=(m.LABEL_ROUTE,)), "{{%s}}" % m.LABEL_ROUTE),
                   unit=units.REQUESTS_PER_SEC, description="Requests per second, by route template (all instances; 5-minute rate, recorded)."),
        timeseries("Request duration percentiles by route",
                   *(Query(_route_quantile(q), "p%d {{%s}}" % (round(q * 100), m.LABEL_ROUTE))
                     for q in backend.LATENCY_QUANTILES),
                   unit=units.SECONDS, thresholds=latency_thresholds,
                   description="p50, p90 and p99 of request duration from the histogram, by route "
                               "(all instances; 5-minute rate, recorded)."),
        timeseries("Client errors (4xx) by status",
                   Query(_requests(re(m.LABEL_STATUS, STATUS_4XX)),
                         "{{%s}} {{%s}}" % (m.LABEL_STATUS, m.LABEL_ROUTE)),
                   unit=units.REQUESTS_PER_SEC, thresholds=(("green", None), ("orange", T.client_errors_per_second)),
                   description="4xx responses per second by status and route: bad input, missing auth, unknown ids."),
        timeseries("Server errors (5xx) by status",
                   Query(_requests(re(m.LABEL_STATUS, STATUS_5XX)),
                         "{{%s}} {{%s}}" % (m.LABEL_STATUS, m.LABEL_ROUTE)),
                   unit=units.REQUESTS_PER_SEC, thresholds=(("green", None), ("red", T.server_errors_per_second)),
                   description="5xx responses per second by status and route: failures of the backend itself."),
        timeseries("In-progress requests",
                   Query(aggregate("sum", selector(m.HTTP_REQUESTS_IN_PROGRESS, *_TARGET), by=("instance",)),
                         "{{instance}}"),
                   unit=units.SHORT, thresholds=T.in_progress.steps(), width=24,
                   description="Concurrent requests per instance (gauge)."),
    ])
    business = Row("Business", [
        timeseries("Tickets created", Query(_per_minute(m.TICKETS_CREATED_TOTAL), "tickets"),
                   unit=units.OPS_PER_MIN, width=8, description="Tickets created per minute."),
        timeseries("Users registered", Query(_per_minute(m.USERS_REGISTERED_TOTAL), "registrations"),
                   unit=units.OPS_PER_MIN, width=8, description="User registrations per minute."),
        timeseries("Authentication attempts by outcome",
                   Query(_per_minute(m.AUTH_ATTEMPTS_TOTAL, (m.LABEL_OUTCOME,)), "{{%s}}" % m.LABEL_OUTCOME),
                   unit=units.OPS_PER_MIN, width=8, stacked=True,
                   description="Login attempts per minute, by outcome."),
        timeseries("Login failure ratio", Query(f"{auth_failed} / {auth_all}", "failed logins"),
                   unit=units.PERCENT_UNIT, thresholds=T.login_failure_ratio.steps(), width=24,
                   description="Failed logins as a share of all authentication attempts; a jump suggests "
                               "credential stuffing or a broken login form."),
    ])
    return dashboard(
        title=TITLE,
        uid=UID,
        description="HTTP traffic, latency and errors of the helpdesk backend, and its business counters.",
        tags=["backend", "api"],
        variables=[
            query_variable("job", "Job", f"label_values({backend.RECORDED_REQUESTS}, job)", default=backend.JOB,
                           include_all=False, multi=False),
            query_variable("instance", "Instance", f'label_values({m.HTTP_REQUESTS_TOTAL}{{job="$job"}}, instance)'),
            query_variable("route", "Route",
                           f'label_values({backend.RECORDED_REQUESTS}{{job="$job"}}, {m.LABEL_ROUTE})'),
        ],
        rows=[overview, traffic, business],
    )
