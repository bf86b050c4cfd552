"""HTTP metrics and the exposition endpoint for ASGI apps (Starlette, FastAPI).

    from backend_metrics.asgi import instrument
    app = instrument(FastAPI())            # counts requests, serves /metrics

How the route label is found, cheapest first:
1. After the app answered, Starlette's router has left the matched route in
   ``scope["route"]`` (FastAPI's included routers also leave the effective
   route, with its prefixes, in ``scope["fastapi"]``).  Its declared path is the
   template; it is cached per route object, so no regex runs.  Mounted apps
   add their mount's template (a static mount from a precomputed set).
2. A request answered before routing (CORS preflight, an auth middleware's 401,
   a rate limiter's 429) has no ``scope["route"]``: the app's routes are matched
   once, with the routes' own ``matches``, so the work is bounded by the route
   table and nothing is cached per raw path.
3. Nothing matched: `ROUTE_UNMATCHED`.  Methods outside the standard set are
   `METHOD_OTHER`.

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
from collections.abc import Awaitable, Iterable, Sequence
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry

from backend_metrics.exposition import render
from backend_metrics.factory import DEFAULT_BUCKETS
from backend_metrics.guard import DEFAULT_MAX_SERIES
from backend_metrics.names import DEFAULT_METRICS_PATH, ROUTE_UNMATCHED, STANDARD_METHODS
from backend_metrics.recorder import HttpRecorder

__all__ = ["InstrumentedApp", "RouteResolver", "instrument", "metrics_app"]

_STATUS_CLIENT_CLOSED = 499
_MAX_DEPTH = 16
_FULL, _PARTIAL, _NONE = "full", "partial", "none"

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


def _routes_of(obj: Any) -> list | None:
    """The route list of a router, an app, or an app wrapped in middlewares (following `.app`)."""
    for _ in range(_MAX_DEPTH):
        if obj is None:
            return None
        routes = getattr(obj, "routes", None)
        if isinstance(routes, list):
            return routes
        router = getattr(obj, "router", None)
        routes = getattr(router, "routes", None)
        if isinstance(routes, list):
            return routes
        obj = getattr(obj, "app", None)
    return None


def _children(route: Any) -> list | None:
    """Sub-routes of a Mount/Host (possibly behind middlewares), [] for a leaf mount, None for a leaf route."""
    if not hasattr(route, "routes"):
        return None
    routes = route.routes
    if routes:
        return list(routes)
    return _routes_of(getattr(route, "app", None)) or []


class RouteResolver:
    """Finds the route template of a finished request (see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._leaves: dict[int, str] = {}
        self._keep: dict[int, Any] = {}  # keeps cached route objects alive so their ids stay theirs
        self._static_mounts: frozenset[str] | None = None

    # -- fast path: the router told us ------------------------------------------------------
    def leaf_template(self, route: Any, scope: dict) -> str:
        fastapi_scope = scope.get("fastapi")
        if fastapi_scope:
            context = fastapi_scope.get("effective_route_context")
            if context is not None and getattr(context, "original_route", None) is route:
                path = getattr(context, "path", None)
                if isinstance(path, str):
                    return path
        template = self._leaves.get(id(route))
        if template is None:
            template = self._leaf_of(route)
            self._leaves[id(route)] = template
            self._keep[id(route)] = route
        return template

    @staticmethod
    def _leaf_of(route: Any) -> str:
        children = _children(route)
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            return ROUTE_UNMATCHED
        if children is None:
            return path or "/"
        if children:  # a mount whose inner router matched nothing
            return ROUTE_UNMATCHED
        return path + "/{path}"  # a mounted app without routes (StaticFiles, a WSGI app)

    def mount_prefix(self, relative_root: str) -> str | None:
        """The template of a static mount prefix, or None when it is not one (parametrised mount)."""
        if self._static_mounts is None:
            found: set[str] = set()
            self._collect_static_mounts(self._top_routes(None) or [], "", found, 0)
            self._static_mounts = frozenset(found)
        return relative_root if relative_root in self._static_mounts else None

    def _collect_static_mounts(self, routes: list, prefix: str, found: set, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        for route in routes:
            children = _children(route)
            if children is None:
                continue
            path = prefix + (getattr(route, "path", "") or "")
            if "{" in path:
                continue
            found.add(path)
            self._collect_static_mounts(children, path, found, depth + 1)

    # -- slow path: match the route table once ------------------------------------------------
    def _top_routes(self, scope: dict | None) -> list | None:
        routes = _routes_of(self._app)
        if routes is None and scope is not None:
            routes = _routes_of(scope.get("router"))
        return routes

    def match(self, scope: dict, root_path: str) -> str:
        routes = self._top_routes(scope)
        if not routes:
            return ROUTE_UNMATCHED
        probe = dict(scope)
        probe["root_path"] = root_path
        probe["path_params"] = {}
        probe["fastapi"] = {}
        probe.pop("route", None)
        kind, template = self._match(routes, probe, "", 0)
        return template if kind != _NONE and template else ROUTE_UNMATCHED

    def _match(self, routes: Iterable, scope: dict, prefix: str, depth: int) -> tuple[str, str | None]:
        if depth > _MAX_DEPTH:
            return _NONE, None
        partial = None
        for route in routes:
            kind, template = self._match_one(route, scope, prefix, depth)
            if kind == _FULL:
                return kind, template
            if kind == _PARTIAL and partial is None:
                partial = template
        return (_PARTIAL, partial) if partial is not None else (_NONE, None)

    def _match_one(self, route: Any, scope: dict, prefix: str, depth: int) -> tuple[str, str | None]:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):  # FastAPI's lazily included routers: their routes carry full paths
            try:
                return self._match(candidates(), scope, prefix, depth + 1)
            except Exception:
                return _NONE, None
        try:
            match, child_scope = route.matches(scope)
        except Exception:
            return _NONE, None
        name = getattr(match, "name", "NONE")
        if name == "NONE":
            return _NONE, None
        kind = _FULL if name == "FULL" else _PARTIAL
        path = getattr(route, "path", None)
        children = _children(route)
        if children is None:
            return kind, prefix + path if isinstance(path, str) else None
        if not children:
            return kind, prefix + (path or "") + "/{path}"
        inner_kind, inner = self._match(children, {**scope, **child_scope}, prefix + (path or ""), depth + 1)
        return kind, inner if inner_kind != _NONE else ROUTE_UNMATCHED


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

    def __init__(self, app: Any, recorder: HttpRecorder, metrics_endpoint: Any, metrics_path: str | None) -> None:
        self.app = app
        self.recorder = recorder
        self.resolver = RouteResolver(app)
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
        root_path = scope.get("root_path", "")
        if metrics_path is not None:
            path = scope["path"]
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
                    status = _STATUS_CLIENT_CLOSED
                elif not status:
                    status = 500
            self._record(scope, root_path, app, status, (end or perf_counter()) - start)
            raise
        if end:
            # Fast path: the router left its route in the scope, no mount changed the root path,
            # and this (route, method, status) was seen before: one dict lookup, one cell call.
            route = scope.get("route")
            if route is not None and scope.get("root_path", "") == root_path:
                fastapi_scope = scope.get("fastapi")
                if fastapi_scope:
                    context = fastapi_scope.get("effective_route_context")
                    if context is not None and getattr(context, "original_route", None) is route:
                        route = context
                cell = cells.get((id(route), scope["method"], status))
                if cell is not None:
                    cell(end - start)
                    return
        else:
            # Started but never finished: the client went away mid-stream.  Never started: the
            # server answers 500 for an app that returned without a response.
            status = _STATUS_CLIENT_CLOSED if status else 500
            end = perf_counter()
        self._record(scope, root_path, app, status, end - start)

    def _record(self, scope: dict, root_path: str, inner: Any, status: int, duration: float) -> None:
        """Find the template the slow way, record, and cache the cell for the fast path when safe."""
        route = scope.get("route")
        cache_key = None
        if inner is not self._inner:
            template = self._metrics_path
        elif route is None or hasattr(route, "routes"):
            # Answered before routing, or by a mounted app without routes of its own (its Mount
            # is the route, and its root path already holds the mount): match the table once.
            template = self.resolver.match(scope, root_path)
        else:
            template = self.resolver.leaf_template(route, scope)
            new_root = scope.get("root_path", "")
            if new_root != root_path:
                if template != ROUTE_UNMATCHED:
                    prefix = self.resolver.mount_prefix(new_root[len(root_path) :])
                    template = prefix + template if prefix is not None else self.resolver.match(scope, root_path)
            else:
                cache_key = self._route_key(route, scope)
        method = scope["method"]
        cell, cacheable = self.recorder.cell(method, template, status)
        if cache_key is not None and cacheable and method in STANDARD_METHODS:
            # Bounded: per route object, at most methods x cacheable statuses.
            self._keep_alive[id(cache_key)] = cache_key
            self._cells[(id(cache_key), method, status)] = cell
        cell(duration)

    @staticmethod
    def _route_key(route: Any, scope: dict) -> Any:
        fastapi_scope = scope.get("fastapi")
        if fastapi_scope:
            context = fastapi_scope.get("effective_route_context")
            if context is not None and getattr(context, "original_route", None) is route:
                return context
        return route


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
) -> InstrumentedApp:
    """Wrap an ASGI app with HTTP metrics; the wrapper also serves `metrics_path` (exact path).

    registry: where metrics are created and what /metrics serves (default: the global
      registry; in multiprocess mode /metrics reads every worker's files).
    metrics_path: None to not serve metrics from this app (mount `metrics_app()` yourself).
    exclude_routes: route templates not to record, e.g. ``{"/healthz"}``.
    count_metrics_path: also record scrapes of `metrics_path`.
    buckets, max_series, in_progress, storage: see `backend_metrics.recorder.HttpRecorder`.
    compress: allow gzip on /metrics when the scraper accepts it.

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
    return InstrumentedApp(app, recorder, metrics_app(registry, compress=compress), metrics_path)
