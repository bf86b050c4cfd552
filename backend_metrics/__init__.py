"""Prometheus instrumentation for the monstack backend: fast, cardinality-safe, gunicorn-correct.

Import the part you need; importing registers nothing:

- `backend_metrics.asgi.instrument` / `metrics_app` for Starlette and FastAPI,
- `backend_metrics.wsgi.instrument` / `metrics_app` for Flask and other WSGI apps,
- `backend_metrics.business.BusinessMetrics` for the helpdesk's business counters,
- `backend_metrics.names` for every metric and label name.
"""

__all__: list[str] = []
