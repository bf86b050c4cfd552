"""The WSGI app bench_render serves with gunicorn: backend_metrics' /metrics next to prometheus_client's own.

- ``POST /seed/<n>``: this worker records n label sets (routes 0..n-1, GET, 200), once each;
  answers with its pid, so the benchmark can tell when every worker has them.
- ``/metrics``: backend_metrics' endpoint (a fresh registry over every worker's files).
- ``/stock-metrics``: prometheus_client's ``make_wsgi_app`` over a registry with its
  ``MultiProcessCollector``: the same series, rendered the stock way.
"""

from __future__ import annotations

import os

from flask import Flask
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from backend_metrics.wsgi import instrument

MAX_SERIES = 100_000


def build():
    flask_app = Flask("render-bench")
    seeded = [0]

    @flask_app.post("/seed/<int:n>")
    def seed(n):
        recorder = wrapped.recorder
        for r in range(seeded[0], n):
            recorder.record("GET", f"/api/v1/resource{r}/{{id}}", 200, 0.003 * (r % 7 + 1))
        seeded[0] = max(seeded[0], n)
        return str(os.getpid())

    wrapped = instrument(flask_app, max_series=MAX_SERIES)
    stock_registry = CollectorRegistry()
    MultiProcessCollector(stock_registry)
    stock = make_wsgi_app(stock_registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/stock-metrics":
            return stock(environ, start_response)
        return wrapped(environ, start_response)

    return app


app = build()
