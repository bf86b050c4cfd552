"""The backend's metric contract: every name and label, defined once.

Dashboards, alerts and tests import these constants; nothing else spells a
metric name.  Names are the ones PromQL sees (counters with ``_total``,
histograms as the family name whose series end in ``_bucket``/``_sum``/``_count``).
"""

__all__ = [
    "HTTP_REQUESTS_TOTAL",
    "HTTP_REQUEST_DURATION_SECONDS",
    "HTTP_REQUESTS_IN_PROGRESS",
    "TICKETS_CREATED_TOTAL",
    "USERS_REGISTERED_TOTAL",
    "AUTH_ATTEMPTS_TOTAL",
    "LABEL_METHOD",
    "LABEL_ROUTE",
    "LABEL_STATUS",
    "LABEL_OUTCOME",
    "AUTH_OUTCOMES",
    "SERIES_OVERFLOW_TOTAL",
    "LABEL_METRIC",
    "ROUTE_UNMATCHED",
    "METHOD_OTHER",
    "OVERFLOW_VALUE",
    "STATUS_CLIENT_CLOSED",
    "STANDARD_METHODS",
    "DEFAULT_METRICS_PATH",
]

HTTP_REQUESTS_TOTAL = "http_requests_total"
HTTP_REQUEST_DURATION_SECONDS = "http_request_duration_seconds"
HTTP_REQUESTS_IN_PROGRESS = "http_requests_in_progress"

TICKETS_CREATED_TOTAL = "tickets_created_total"
USERS_REGISTERED_TOTAL = "users_registered_total"
AUTH_ATTEMPTS_TOTAL = "auth_attempts_total"

LABEL_METHOD = "method"
LABEL_ROUTE = "route"
LABEL_STATUS = "status"
LABEL_OUTCOME = "outcome"

AUTH_OUTCOMES = ("success", "failure")

# Added with the instrumentation package (issue 3): fixed label values that keep
# the number of series bounded, and the guard's own counter.
SERIES_OVERFLOW_TOTAL = "backend_metrics_series_overflow_total"
LABEL_METRIC = "metric"

ROUTE_UNMATCHED = "<unmatched>"
METHOD_OTHER = "OTHER"
OVERFLOW_VALUE = "__overflow__"
STATUS_CLIENT_CLOSED = "499"
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})

DEFAULT_METRICS_PATH = "/metrics"
