"""HTTP metrics and the exposition endpoint for ASGI apps (Starlette, FastAPI).

    from backend_metrics.asgi import instrument
    app = instrument(FastAPI())            # counts requests, serves /metrics

The route label is the template of the route that served the request, from a
table of the app's routes, mounts, hosts and included routers, never a string
from the request (see `backend_metrics.asgi_routes`).  Apps the package cannot
read (a bare ASGI app, another framework) give the template themselves: in
``scope["backend_metrics.route"]`` (`ROUTE_SCOPE_KEY`), or through the
``route_of`` callback of `instrument`.  Nothing matched: `ROUTE_UNMATCHED`.
Methods outside the standard set are `METHOD_OTHER`.  WebSocket connections
and lifespan events pass through uncounted.

Status: the status the app sent.  An exception before any response counts as
500 and is re-raised; an exception after the response started keeps that
status.  A response that started but never sent its last byte (the client went
away and the stream was cancelled) counts as `STATUS_CLIENT_CLOSED` ("499",
nginx's "client closed request"), as does a cancelled request.  Duration runs
until the last body chunk is handed to the server, so streaming responses are
timed to their end (background tasks that run afterwards are not included).
"""

from __future__ import annotations

import asyncio
import functools
import types
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry

from backend_metrics.asgi_routes import ROUTE_SCOPE_KEY, RouteTable, route_key
from backend_metrics.exposition import render
from backend_metrics.factory import DEFAULT_BUCKETS
from backend_metrics.guard import DEFAULT_MAX_SERIES
from backend_metrics.names import DEFAULT_METRICS_PATH, ROUTE_UNMATCHED, STANDARD_METHODS
from backend_metrics.recorder import CLIENT_CLOSED, HttpRecorder

__all__ = ["ROUTE_SCOPE_KEY", "InstrumentedApp", "instrument", "metrics_app"]

try:  # anyio ships with Starlette; its thread pool is the one Starlette uses for sync endpoints
    import anyio.to_thread as _anyio_to_thread
except ImportError:  # pragma: no cover - plain ASGI without anyio
    _anyio_to_thread = None


async def _run_in_thread(func, /, *args, **kwargs):
    if _anyio_to_thread is not None:
        return await _anyio_to_thread.run_sync(functools.partial(func, *args, **kwargs))
    return await asyncio.to_thread(func, *args, **kwargs)  # pragma: no cover


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def metrics_app(registry: CollectorRegistry | None = None, *, compress: bool = True) -> Any:
    """An ASGI app serving the exposition of `registry` (default: global, or every
    worker's files in multiprocess mode) to GET and HEAD; rendering runs in a thread."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 405, "headers": [(b"allow", b"GET, HEAD")]})
            await send({"type": "http.response.body", "body": b""})
            return
        params = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        body, headers = await _run_in_thread(
            render,
            registry,
            accept=_header(scope, b"accept"),
            accept_encoding=_header(scope, b"accept-encoding"),
            params=params,
            compress=compress,
        )
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    return app


def _direct_call(app: Any) -> Any:
    """What to call to run `app`: its class's ``__call__`` bound to it when that is a Python
    function (CPython specialises calling a bound method, while calling the instance goes
    through the type slot each time), else `app` itself.  Calling either runs the same code."""
    call = getattr(type(app), "__call__", None)
    if isinstance(call, types.FunctionType):
        return types.MethodType(call, app)
    return app


class _InProgress:
    """Keeps the in-progress gauge up while the wrapped app runs."""

    __slots__ = ("app", "gauge")

    def __init__(self, app: Any, gauge: Any) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gauge.dec()


class InstrumentedApp:
    """The wrapped ASGI app; attribute access falls through to the inner app (``app.state``...)."""

    def __init__(
        self,
        app: Any,
        recorder: HttpRecorder,
        metrics_endpoint: Any,
        metrics_path: str | None,
        route_of: Callable[[dict], str | None] | None = None,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.routes = RouteTable(app)
        self._route_of = route_of
        self._metrics_endpoint = metrics_endpoint
        self._metrics_path = metrics_path
        self._count_metrics_path = recorder.count_metrics_path
        gauge = recorder.in_progress
        # The in-progress gauge, when asked for, wraps the inner app so the common path has no gauge code.
        self._inner = app if gauge is None else _InProgress(app, gauge)
        self._counted_metrics_endpoint = metrics_endpoint if gauge is None else _InProgress(metrics_endpoint, gauge)
        # (id(route key), method, status) -> cell; bounded by routes x methods x cacheable statuses.
        self._cells: dict[tuple[int, str, int], Any] = {}
        self._keep_alive: dict[int, Any] = {}  # route objects whose ids key the cache above
        # What every request reads, in one attribute: with __getattr__ defined (below), CPython
        # does not specialise attribute loads on this class, so each one costs a slow lookup.
        self._hot = (self._inner, _direct_call(self._inner), metrics_path, self._cells)

    def __getattr__(self, name: str) -> Any:
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        app, call, metrics_path, cells = self._hot
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if metrics_path is not None:
            path = scope["path"]
            root_path = scope.get("root_path", "")
            if path == metrics_path or (root_path and path == root_path + metrics_path):
                if not self._count_metrics_path:
                    await self._metrics_endpoint(scope, receive, send)
                    return
                app = call = self._counted_metrics_endpoint

        status = 0
        end = 0.0

        def send_wrapper(message: dict) -> Awaitable[None]:
            # A plain function returning the server's awaitable: no extra coroutine per message.
            nonlocal status, end
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not message.get("more_body"):  # the last body chunk (or a pathsend)
                end = perf_counter()
            return send(message)

        start = perf_counter()
        try:
            await call(scope, receive, send_wrapper)
        except BaseException as exc:
            if not end:
                if isinstance(exc, asyncio.CancelledError) or type(exc).__name__ == "ClientDisconnect":
                    status = CLIENT_CLOSED
                elif not status:
                    status = 500
            self._record(scope, app, status, (end or perf_counter()) - start)
            raise
        if end:
            # Fast path: the router left a route whose template is known and unique, and this
            # (route, method, status) was seen before: one dict lookup, one cell call.
            route = route_key(scope)
            if route is not None:
                cell = cells.get((id(route), scope["method"], status))
                if cell is not None:
                    cell(end - start)
                    return
        else:
            # Started but never finished: the client went away mid-stream.  Never started: the
            # server answers 500 for an app that returned without a response.
            status = CLIENT_CLOSED if status else 500
            end = perf_counter()
        self._record(scope, app, status, end - start)

    def _record(self, scope: dict, inner: Any, status: int, duration: float) -> None:
        """Find the template the slow way, record, and cache the cell for the fast path when safe."""
        cache_key = None
        if inner is not self._inner:
            template = self._metrics_path
        else:
            key = route_key(scope)
            template = None if key is None else self.routes.template_of(key)
            if template is not None:
                cache_key = key
            else:
                template = self.routes.match(scope)
                if template == ROUTE_UNMATCHED:
                    template = self._given_template(scope)
        method = scope["method"]
        cell, cacheable = self.recorder.cell(method, template, status)
        if cache_key is not None and cacheable and method in STANDARD_METHODS:
            # Bounded: per route object, at most methods x cacheable statuses.
            self._keep_alive[id(cache_key)] = cache_key
            self._cells[(id(cache_key), method, status)] = cell
        cell(duration)

    def _given_template(self, scope: dict) -> str:
        """The template the app gave (scope key, then `route_of`), for routers the table cannot read."""
        given = scope.get(ROUTE_SCOPE_KEY)
        if given is None and self._route_of is not None:
            given = self._route_of(scope)
        return given if isinstance(given, str) and given else ROUTE_UNMATCHED


def instrument(
    app: Any,
    *,
    registry: CollectorRegistry | None = None,
    metrics_path: str | None = DEFAULT_METRICS_PATH,
    exclude_routes: Iterable[str] = (),
    count_metrics_path: bool = False,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
    max_series: int = DEFAULT_MAX_SERIES,
    in_progress: bool = False,
    compress: bool = True,
    storage: str = "auto",
    route_of: Callable[[dict], str | None] | None = None,
) -> InstrumentedApp:
    """Wrap an ASGI app with HTTP metrics; the wrapper also serves `metrics_path` (exact path).

    registry: where metrics are created and what /metrics serves (default: the global
      registry; in multiprocess mode /metrics reads every worker's files).
    metrics_path: None to not serve metrics from this app (mount `metrics_app()` yourself).
    exclude_routes: route templates not to record, e.g. ``{"/healthz"}``.
    count_metrics_path: also record scrapes of `metrics_path`.
    buckets, max_series, in_progress, storage: see `backend_metrics.recorder.HttpRecorder`.
    compress: allow gzip on /metrics when the scraper accepts it.
    route_of: for routers the package cannot read (a bare ASGI app, Litestar, Quart): called
      with the scope after the app answered a request no known route served; returns the
      route template (or None for `ROUTE_UNMATCHED`).  An app may instead set
      ``scope[ROUTE_SCOPE_KEY]``.  Return templates, never raw paths: the series cap
      (`max_series`) is the only guard on what it returns.

    Calling it twice for one registry is safe: the metrics are built once per registry.
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
    return InstrumentedApp(app, recorder, metrics_app(registry, compress=compress), metrics_path, route_of)
