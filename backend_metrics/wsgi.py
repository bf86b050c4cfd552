"""HTTP metrics and the exposition endpoint for WSGI apps (Flask, werkzeug).

    from backend_metrics.wsgi import instrument
    app.wsgi_app = instrument(app.wsgi_app, url_map=app.url_map)   # keeps `app` a Flask object
    # or: application = instrument(flask_app)                       # a WSGI callable for gunicorn

The route label is ``<dispatcher keys><Flask rule>`` (e.g. ``/finance`` +
``/reports/<int:year>``), from tables known at start: the url maps of the Flask
apps it can reach and the keys of werkzeug ``DispatcherMiddleware`` mounts;
never ``SCRIPT_NAME`` or another string from the request, so a proxy prefix
(``ProxyFix(x_prefix=1)`` and ``X-Forwarded-Prefix``) cannot change it (see
`backend_metrics.wsgi_routes`).  Flask leaves its matched rule in the environ
through a ``teardown_request`` hook (`track_routes`); a request no Flask app
routed is dispatched and matched again once.  Other WSGI apps may give the
template in ``environ["backend_metrics.route"]`` (`ROUTE_ENVIRON_KEY`).
Unmatched paths and non-standard methods get one fixed value each.

Status and timing follow asgi.py: the response is timed until the server has
consumed the last chunk and closed the iterable; an exception before the
response started counts as 500 and is re-raised, after it keeps the status; a
body the server stopped reading (client gone) counts as "499".  A body that is
the server's own ``wsgi.file_wrapper`` is handed back as it is (so the server
can still use sendfile), recorded when the server closes it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Sequence
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry

from backend_metrics.exposition import render
from backend_metrics.factory import DEFAULT_BUCKETS
from backend_metrics.guard import DEFAULT_MAX_SERIES
from backend_metrics.names import DEFAULT_METRICS_PATH
from backend_metrics.recorder import CLIENT_CLOSED, HttpRecorder
from backend_metrics.wsgi_routes import ROUTE_ENVIRON_KEY, RULE_ENVIRON_KEY, WsgiRouteTable

__all__ = ["ROUTE_ENVIRON_KEY", "InstrumentedWSGIApp", "instrument", "metrics_app", "track_routes"]


def track_routes(flask_app: Any) -> None:
    """Make `flask_app` leave its matched rule in the WSGI environ for the middleware.

    Flask clears ``environ["werkzeug.request"]`` when its request context ends, so the
    rule is copied out in a ``teardown_request`` hook (it runs for every request the app
    handled, also when a ``before_request`` answered 401 or the view raised).  `instrument`
    calls this for the Flask apps it can reach (through ``wsgi_app`` and werkzeug's
    ``DispatcherMiddleware``); call it yourself for Flask apps hidden behind other wrappers.
    Idempotent.
    """
    extensions = getattr(flask_app, "extensions", None)
    if extensions is None or extensions.get("backend_metrics.track_routes"):
        return
    from flask import request

    def leave_rule(exc: BaseException | None = None) -> None:
        rule = request.url_rule
        if rule is not None:
            request.environ[RULE_ENVIRON_KEY] = (flask_app, rule.rule)

    flask_app.teardown_request(leave_rule)
    extensions["backend_metrics.track_routes"] = True


def metrics_app(registry: CollectorRegistry | None = None, *, compress: bool = True) -> Any:
    """A WSGI app serving the exposition of `registry` (default: global, or every worker's
    files in multiprocess mode) to GET and HEAD."""

    def app(environ: dict, start_response: Any) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        body, headers = render(
            registry,
            accept=environ.get("HTTP_ACCEPT", ""),
            accept_encoding=environ.get("HTTP_ACCEPT_ENCODING", ""),
            params=urllib.parse.parse_qs(environ.get("QUERY_STRING", "")),
            compress=compress,
        )
        start_response("200 OK", headers)
        return [b"" if method == "HEAD" else body]

    return app


class _Timed:
    """The response iterable, recording the request once: after the last chunk was consumed,
    when iterating fails, or when the server closes it early (client gone)."""

    __slots__ = ("_body", "_owner", "_environ", "_start", "_status", "_finished", "_done")

    def __init__(
        self, body: Iterable[bytes], owner: InstrumentedWSGIApp, environ: dict, start: float, status: list
    ) -> None:
        self._body = body
        self._owner = owner
        self._environ = environ
        self._start = start
        self._status = status
        self._finished = False
        self._done = False

    def __iter__(self):
        try:
            for chunk in self._body:
                yield chunk
        except GeneratorExit:
            raise
        except BaseException:
            self._finish(self._status[0] or 500)
            raise
        self._finished = True
        self._finish(self._status[0] or 500)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            if not self._done:
                self._finish(self._status[0] if self._finished else CLIENT_CLOSED)

    def _finish(self, status: int) -> None:
        if self._done:
            return
        self._done = True
        self._owner._record(self._environ, status, perf_counter() - self._start)


def _record_on_close(body: Any, owner: InstrumentedWSGIApp, environ: dict, start: float, status: list) -> bool:
    """Make closing the server's file wrapper record the request; False when it cannot be patched.

    The server sends the file its own way (sendfile) and closes the object afterwards,
    as PEP 3333 requires; the request is recorded then, with the status sent.
    """
    close = getattr(body, "close", None)
    done = []

    def close_and_record() -> None:
        try:
            if close is not None:
                close()
        finally:
            if not done:
                done.append(True)
                owner._record(environ, status[0] or 500, perf_counter() - start)

    try:
        body.close = close_and_record
    except (AttributeError, TypeError):
        return False
    return True


class InstrumentedWSGIApp:
    """The wrapped WSGI app; attribute access falls through to the inner app."""

    def __init__(self, app: Any, recorder: HttpRecorder, metrics_endpoint: Any, metrics_path: str | None, url_map: Any) -> None:
        self.app = app
        self.recorder = recorder
        self.url_map = url_map
        self.routes = WsgiRouteTable(app, url_map)
        self._metrics_endpoint = metrics_endpoint
        self._metrics_path = metrics_path

    def __getattr__(self, name: str) -> Any:
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        path_info = environ.get("PATH_INFO", "")
        if self._metrics_path is not None and path_info == self._metrics_path and not self.recorder.count_metrics_path:
            return self._metrics_endpoint(environ, start_response)
        environ["backend_metrics.path_info"] = path_info
        status = [0]

        def timed_start_response(status_line: str, headers: list, exc_info: Any = None) -> Any:
            try:
                status[0] = int(status_line[:3])
            except ValueError:
                status[0] = 500
            return start_response(status_line, headers, exc_info)

        start = perf_counter()
        gauge = self.recorder.in_progress
        if gauge is not None:
            gauge.inc()
        try:
            if self._metrics_path is not None and path_info == self._metrics_path:
                body = self._metrics_endpoint(environ, timed_start_response)
            else:
                body = self.app(environ, timed_start_response)
        except BaseException:
            self._record(environ, status[0] or 500, perf_counter() - start)
            raise
        finally:
            if gauge is not None:
                gauge.dec()
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper) and _record_on_close(body, self, environ, start, status):
            return body  # the server's own object: it keeps its sendfile fast path
        return _Timed(body, self, environ, start, status)

    def _record(self, environ: dict, status: int, duration: float) -> None:
        template = self._template(environ)
        if template in self.recorder.excluded:
            return
        self.recorder.record(environ.get("REQUEST_METHOD", "GET"), template, status, duration)

    def _template(self, environ: dict) -> str:
        path_info = environ.get("backend_metrics.path_info", environ.get("PATH_INFO", ""))
        if self._metrics_path is not None and path_info == self._metrics_path:
            return self._metrics_path
        return self.routes.template(environ, path_info)


def instrument(
    app: Any,
    *,
    registry: CollectorRegistry | None = None,
    url_map: Any = None,
    metrics_path: str | None = DEFAULT_METRICS_PATH,
    exclude_routes: Iterable[str] = (),
    count_metrics_path: bool = False,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
    max_series: int = DEFAULT_MAX_SERIES,
    in_progress: bool = False,
    compress: bool = True,
    storage: str = "auto",
) -> InstrumentedWSGIApp:
    """Wrap a WSGI app (a Flask app or its ``wsgi_app``) with HTTP metrics; also serves `metrics_path`.

    url_map: the werkzeug ``Map`` used to name requests answered before routing
      (default: ``app.url_map`` when `app` is a Flask app).
    Other options as in `backend_metrics.asgi.instrument`.
    """
    recorder = HttpRecorder(
        registry,
        buckets=buckets,
        max_series=max_series,
        in_progress=in_progress,
        exclude_routes=exclude_routes,
        metrics_path=metrics_path,
        count_metrics_path=count_metrics_path,
        storage=storage,
    )
    if url_map is None:
        url_map = getattr(app, "url_map", None) or getattr(getattr(app, "__self__", None), "url_map", None)
    wrapped = InstrumentedWSGIApp(app, recorder, metrics_app(registry, compress=compress), metrics_path, url_map)
    for flask_app in wrapped.routes.flask_apps():
        track_routes(flask_app)
    return wrapped
