"""Route templates of Starlette and FastAPI apps, read from their route tables.

The label of a request is the template of the route that served it, taken from
a table built from the app's routes, mounts, hosts and included routers, never
from the request's path or root path:

- After the app answered, the router has left the route that served the
  request in the scope (``scope["route"]``; FastAPI's included routers leave a
  per-inclusion context in ``scope["fastapi"]["effective_route_context"]``).
  The table maps that object to its full template (mount and router prefixes
  included).  An object reachable through exactly one chain of mounts has one
  template, and its answer is cached by the middleware.
- Otherwise (answered before routing, a mount whose inner router matched
  nothing, a route object reachable through several mounts) the route table is
  matched once with the routes' own ``matches``, in the router's order, so the
  first route that matches is the one named, as the router itself chooses.
  The work is bounded by the route table; nothing is cached per path.

Either way the value comes from the table (or is `ROUTE_UNMATCHED`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from backend_metrics.names import ROUTE_UNMATCHED
from backend_metrics.recorder import MAX_DEPTH

__all__ = ["ROUTE_SCOPE_KEY", "RouteTable", "route_key", "routes_of"]

ROUTE_SCOPE_KEY = "backend_metrics.route"
"""An app the package cannot read (a bare ASGI app, another framework) may put its
route template here in the scope; the middleware reads it after the app answered."""

_FULL, _PARTIAL, _NONE = "full", "partial", "none"
_MISSING = object()
MOUNT_REST = "/{path}"
"""Appended to a mount's template when the mounted app has no routes of its own."""


def routes_of(obj: Any) -> list | None:
    """The route list of a router, an app, or an app wrapped in middlewares (following `.app`)."""
    for _ in range(MAX_DEPTH):
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


def _app_root_path(obj: Any) -> str:
    """The root path an app sets for itself (``FastAPI(root_path=...)``), found through middlewares."""
    for _ in range(MAX_DEPTH):
        if obj is None:
            return ""
        root = getattr(obj, "root_path", None)
        if isinstance(root, str) and root:
            return root
        obj = getattr(obj, "app", None)
    return ""


def route_key(scope: dict) -> Any:
    """The object standing for the route that served the request, or None.

    FastAPI's per-inclusion context when it belongs to the route the router left
    (or when no route was left: ``APIRouter.add_route`` / ``mount``), else the route.
    """
    route = scope.get("route")
    fastapi_scope = scope.get("fastapi")
    if fastapi_scope:
        context = fastapi_scope.get("effective_route_context")
        if context is not None and (route is None or context.original_route is route):
            return context
    return route


def _effective(route: Any) -> Any:
    """A FastAPI inclusion context stands for the Starlette route it built (add_route, mount, host), if any."""
    built = getattr(route, "starlette_route", None)
    return route if built is None else built


def _children(route: Any) -> list | None:
    """Sub-routes of a Mount/Host (possibly behind middlewares), [] for a mounted app without routes, None for a leaf."""
    if not hasattr(route, "routes"):
        return None
    routes = route.routes
    if routes:
        return list(routes)
    return routes_of(getattr(route, "app", None)) or []


def _mount_path(route: Any) -> str:
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else ""  # a Host adds nothing to the path


class RouteTable:
    """Templates of an ASGI app's routes (see the module docstring).

    `template_of(key)` answers for the object `route_key` returned: its template,
    or None when only matching can tell.  `match(scope)` matches the table.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._templates: dict[int, str | None] = {}
        self._keep: dict[int, Any] = {}  # keeps keyed objects alive so their ids stay theirs
        self._unknown: dict[int, Any] = {}
        self._known: frozenset[str] = frozenset()
        self._built = False

    # -- the table -----------------------------------------------------------------------
    def _build(self) -> None:
        found: dict[int, set] = {}
        keep: dict[int, Any] = {}
        self._walk(routes_of(self._app) or [], "", 0, found, keep)
        templates = {key: next(iter(values)) if len(values) == 1 else None for key, values in found.items()}
        self._known = frozenset(t for values in found.values() for t in values if t is not None)
        self._keep = keep
        self._templates = templates
        self._unknown = {}
        self._built = True

    def _walk(self, routes: Iterable, prefix: str, depth: int, found: dict, keep: dict) -> None:
        if depth > MAX_DEPTH:
            return

        def add(obj: Any, template: str | None) -> None:
            found.setdefault(id(obj), set()).add(template)
            keep[id(obj)] = obj

        for route in routes:
            candidates = getattr(route, "effective_candidates", None)
            if callable(candidates):  # FastAPI's included router: contexts carry the full paths
                try:
                    self._walk(candidates(), prefix, depth + 1, found, keep)
                except Exception:  # pragma: no cover - a FastAPI internal changed shape
                    pass
                continue
            effective = _effective(route)
            children = _children(effective)
            if children is None:
                path = getattr(effective, "path", None)
                if isinstance(path, str):
                    add(route, prefix + (path or "/"))
                continue
            path = prefix + _mount_path(effective)
            if children:
                add(route, None)  # the router inside answered without a route of its own: match
                self._walk(children, path, depth + 1, found, keep)
            else:
                add(route, path + MOUNT_REST)

    def known_templates(self) -> frozenset[str]:
        """Every template this table can give (besides `ROUTE_UNMATCHED`)."""
        with self._lock:
            self._build()
            return self._known

    def template_of(self, key: Any) -> str | None:
        """The template of the route object `key`, or None when matching must decide."""
        template = self._templates.get(id(key), _MISSING)
        if template is not _MISSING:
            return template
        with self._lock:
            if id(key) in self._unknown:
                return None
            if id(key) not in self._templates:  # routes added since the last build
                self._build()
            template = self._templates.get(id(key))
            if id(key) not in self._templates:
                if len(self._unknown) >= 1024:
                    self._unknown.clear()
                self._unknown[id(key)] = key
            return template

    # -- matching ------------------------------------------------------------------------
    def match(self, scope: dict) -> str:
        """Match the table once, as the router would, for a request it did not (or not alone) name."""
        routes = routes_of(self._app)
        if routes is None:
            routes = routes_of(scope.get("router"))
        if not routes:
            return ROUTE_UNMATCHED
        roots = [scope.get("app_root_path", scope.get("root_path", ""))]
        own_root = _app_root_path(self._app)
        if own_root and own_root not in roots:
            roots.append(own_root)
        for root in roots:
            probe = dict(scope)
            probe["root_path"] = root
            probe["path_params"] = {}
            probe["fastapi"] = {}
            probe.pop("route", None)
            kind, template = self._match(routes, probe, "", 0)
            if kind != _NONE and template:
                return template
        return ROUTE_UNMATCHED

    def _match(self, routes: Iterable, scope: dict, prefix: str, depth: int) -> tuple[str, str | None]:
        if depth > MAX_DEPTH:
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
        if callable(candidates):
            try:
                return self._match(candidates(), scope, prefix, depth + 1)
            except Exception:  # pragma: no cover - a FastAPI internal changed shape
                return _NONE, None
        try:
            match, child_scope = route.matches(scope)
        except Exception:
            return _NONE, None
        name = getattr(match, "name", "NONE")
        if name == "NONE":
            return _NONE, None
        kind = _FULL if name == "FULL" else _PARTIAL
        effective = _effective(route)
        children = _children(effective)
        if children is None:
            path = getattr(effective, "path", None)
            return kind, prefix + (path or "/") if isinstance(path, str) else None
        path = prefix + _mount_path(effective)
        if not children:
            return kind, path + MOUNT_REST
        inner_kind, inner = self._match(children, {**scope, **child_scope}, path, depth + 1)
        return kind, inner if inner_kind != _NONE else ROUTE_UNMATCHED
