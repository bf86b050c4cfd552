"""HTTP metrics and the exposition endpoint for WSGI apps (Flask, werkzeug).

    from backend_metrics.wsgi import instrument
    app.wsgi_app = instrument(app.wsgi_app, url_map=app.url_map)   # keeps `app` a Flask object
    # or: application = instrument(flask_app)                       # a WSGI callable for gunicorn

The route label is Flask's matched rule (``request.url_rule.rule``, e.g.
``/tickets/<int:ticket_id>``), which a ``teardown_request`` hook (`track_routes`)
leaves in the WSGI environ, read after dispatch; an app mounted with werkzeug's
``DispatcherMiddleware`` adds its mount prefix (from ``SCRIPT_NAME``).  A
request answered before Flask routed it is matched once against `url_map`
(bounded by the rules, nothing cached per path).  Unmatched paths and
non-standard methods get one fixed value each.

Status and timing follow asgi.py: the response is timed until the server has
consumed the last chunk and closed the iterable; an exception before the
response started counts as 500 and is re-raised, after it keeps the status; a
body the server stopped reading (client gone) counts as "499".
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
from backend_metrics.names import DEFAULT_METRICS_PATH, ROUTE_UNMATCHED
from backend_metrics.recorder import HttpRecorder

__all__ = ["InstrumentedWSGIApp", "instrument", "metrics_app", "track_routes"]

_STATUS_CLIENT_CLOSED = 499
_ROUTE_KEY = "backend_metrics.route"
_MAX_DEPTH = 16


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
            request.environ[_ROUTE_KEY] = rule.rule

    flask_app.teardown_request(leave_rule)
    extensions["backend_metrics.track_routes"] = True


def _track_reachable_flask_apps(obj: Any, depth: int = 0, seen: set | None = None) -> None:
    seen = set() if seen is None else seen
    if obj is None or depth > _MAX_DEPTH or id(obj) in seen:
        return
    seen.add(id(obj))
    owner = getattr(obj, "__self__", None)  # a bound ``flask_app.wsgi_app``
    if owner is not None:
        _track_reachable_flask_apps(owner, depth + 1, seen)
        return
    if hasattr(obj, "url_map") and hasattr(obj, "teardown_request"):
        track_routes(obj)
        _track_reachable_flask_apps(getattr(obj, "wsgi_app", None), depth + 1, seen)
        return
    mounts = getattr(obj, "mounts", None)
    if isinstance(mounts, dict):
        for mounted in mounts.values():
            _track_reachable_flask_apps(mounted, depth + 1, seen)
    _track_reachable_flask_apps(getattr(obj, "app", None), depth + 1, seen)


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

    __slots__ = ("_body", "_owner", "_environ", "_script_name", "_start", "_status", "_finished", "_done")

    def __init__(
        self, body: Iterable[bytes], owner: InstrumentedWSGIApp, environ: dict, script_name: str, start: float, status: list
    ) -> None:
        self._body = body
        self._owner = owner
        self._environ = environ
        self._script_name = script_name
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
                self._finish(self._status[0] if self._finished else _STATUS_CLIENT_CLOSED)

    def _finish(self, status: int) -> None:
        if self._done:
            return
        self._done = True
        self._owner._record(self._environ, self._script_name, status, perf_counter() - self._start)


class InstrumentedWSGIApp:
    """The wrapped WSGI app; attribute access falls through to the inner app."""

    def __init__(self, app: Any, recorder: HttpRecorder, metrics_endpoint: Any, metrics_path: str | None, url_map: Any) -> None:
        self.app = app
        self.recorder = recorder
        self.url_map = url_map
        self._metrics_endpoint = metrics_endpoint
        self._metrics_path = metrics_path

    def __getattr__(self, name: str) -> Any:
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        script_name = environ.get("SCRIPT_NAME", "")
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
            self._record(environ, script_name, status[0] or 500, perf_counter() - start)
            raise
        finally:
            if gauge is not None:
                gauge.dec()
        return _Timed(body, self, environ, script_name, start, status)

    def _record(self, environ: dict, script_name: str, status: int, duration: float) -> None:
        template = self._template(environ, script_name)
        if template in self.recorder.excluded:
            return
        self.recorder.record(environ.get("REQUEST_METHOD", "GET"), template, status, duration)

    def _template(self, environ: dict, script_name: str) -> str:
        path_info = environ.get("backend_metrics.path_info", environ.get("PATH_INFO", ""))
        if self._metrics_path is not None and path_info == self._metrics_path:
            return self._metrics_path
        rule = environ.get(_ROUTE_KEY)
        if rule is not None:
            mounted = environ.get("SCRIPT_NAME", "")
            prefix = mounted[len(script_name) :] if mounted.startswith(script_name) else ""
            return prefix + rule
        return self._match(environ, script_name, path_info)

    def _match(self, environ: dict, script_name: str, path_info: str) -> str:
        """Match the original path against `url_map` once (requests Flask never routed)."""
        if self.url_map is None:
            return ROUTE_UNMATCHED
        from werkzeug.exceptions import HTTPException, MethodNotAllowed

        probe = dict(environ)
        probe["SCRIPT_NAME"] = script_name
        probe["PATH_INFO"] = path_info
        try:
            adapter = self.url_map.bind_to_environ(probe)
            rule, _ = adapter.match(return_rule=True)
            return rule.rule
        except MethodNotAllowed as exc:
            for method in exc.valid_methods or ():
                try:
                    rule, _ = adapter.match(method=method, return_rule=True)
                    return rule.rule
                except HTTPException:
                    continue
        except Exception:
            pass
        return ROUTE_UNMATCHED


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
    _track_reachable_flask_apps(app)
    return InstrumentedWSGIApp(app, recorder, metrics_app(registry, compress=compress), metrics_path, url_map)
