"""Route templates of WSGI apps (Flask, werkzeug), from their url maps and dispatcher keys.

The label of a request is ``<dispatcher keys><rule>``: the keys of the werkzeug
``DispatcherMiddleware`` mounts that led to the Flask app which served it, and
that app's matched rule.  Both come from tables known at start, never from the
request: ``SCRIPT_NAME`` (which ``ProxyFix(x_prefix=1)`` fills from a client's
``X-Forwarded-Prefix``) and ``PATH_INFO`` only choose among those values.

- A Flask app that routed the request leaves itself and its rule in the environ
  (`track_routes`); the app's dispatcher prefix comes from a table of the
  reachable apps (when one app is mounted under several keys, the dispatch is
  replayed to choose).
- A request no Flask app routed (answered by a middleware first, a 404 or 405)
  is dispatched again the way ``DispatcherMiddleware`` does, on the path the
  middleware received, and matched once against the url map it reaches (a 405
  keeps its rule).
"""

from __future__ import annotations

import threading
from typing import Any

from backend_metrics.names import ROUTE_UNMATCHED
from backend_metrics.recorder import MAX_DEPTH

__all__ = ["ROUTE_ENVIRON_KEY", "RULE_ENVIRON_KEY", "WsgiRouteTable", "is_flask_app", "pick_mount"]

ROUTE_ENVIRON_KEY = "backend_metrics.route"
"""A WSGI app the package cannot read may put its route template here in the environ."""

RULE_ENVIRON_KEY = "backend_metrics.flask_rule"
"""Where `track_routes` leaves ``(flask_app, rule)`` for the middleware."""


def is_flask_app(obj: Any) -> bool:
    return hasattr(obj, "url_map") and hasattr(obj, "teardown_request") and hasattr(obj, "wsgi_app")


def pick_mount(mounts: dict, path: str) -> tuple[str | None, str]:
    """The mount key werkzeug's ``DispatcherMiddleware`` picks for `path`, and the rest of the path."""
    script = path
    rest = ""
    while "/" in script:
        if script in mounts:
            return script, rest
        script, last = script.rsplit("/", 1)
        rest = f"/{last}{rest}"
    if script in mounts:
        return script, rest
    return None, path


def _own_routing(obj: Any) -> Any:
    """The Flask app whose own (unwrapped) ``wsgi_app`` `obj` is, else None."""
    owner = getattr(obj, "__self__", None)
    if owner is not None and is_flask_app(owner) and getattr(obj, "__func__", None) is getattr(type(owner), "wsgi_app", None):
        return owner
    return None


def _step(node: Any) -> tuple[str, Any]:
    """What `node` is on the way down: ("flask", app) routes with its url map; ("dispatch",
    node) has mounts; ("next", inner) forwards to `inner`; ("end", None) is opaque."""
    owner = _own_routing(node)
    if owner is not None:
        return "flask", owner
    owner = getattr(node, "__self__", None)  # a bound method of a wrapper object
    if owner is not None:
        return "next", owner
    if is_flask_app(node):
        inner = node.wsgi_app  # the instance attribute when middlewares were put around it
        return ("flask", node) if _own_routing(inner) is node else ("next", inner)
    if isinstance(getattr(node, "mounts", None), dict):
        return "dispatch", node
    inner = getattr(node, "app", None)
    return ("next", inner) if inner is not None else ("end", None)


class WsgiRouteTable:
    """Dispatcher prefixes of the Flask apps reachable from a WSGI app, and the replay of a dispatch."""

    def __init__(self, app: Any, url_map: Any = None) -> None:
        self._app = app
        self._url_map = url_map
        self._lock = threading.Lock()
        self._prefixes: dict[int, str | None] = {}  # id(flask app) -> its prefix, None when several
        self._keep: dict[int, Any] = {}
        self._build()

    def flask_apps(self) -> list[Any]:
        """Every Flask app reachable through wrappers (``.app``, ``wsgi_app``) and dispatcher mounts."""
        return list(self._keep.values())

    def _build(self) -> None:
        found: dict[int, set] = {}
        keep: dict[int, Any] = {}
        self._walk(self._app, "", 0, found, keep, set())
        with self._lock:
            self._prefixes = {key: next(iter(values)) if len(values) == 1 else None for key, values in found.items()}
            self._keep = keep

    def _walk(self, node: Any, prefix: str, depth: int, found: dict, keep: dict, seen: set) -> None:
        for _ in range(MAX_DEPTH):
            if node is None or depth > MAX_DEPTH or (id(node), prefix) in seen:
                return
            seen.add((id(node), prefix))
            kind, inner = _step(node)
            if kind == "flask":
                found.setdefault(id(inner), set()).add(prefix)
                keep[id(inner)] = inner
                return
            if kind == "dispatch":
                for key, mounted in inner.mounts.items():
                    self._walk(mounted, prefix + key, depth + 1, found, keep, seen)
                node = getattr(inner, "app", None)
                continue
            if kind == "end":
                return
            node = inner

    def template(self, environ: dict, path_info: str) -> str:
        """The template of a finished request; `path_info` is the path the middleware received."""
        given = environ.get(ROUTE_ENVIRON_KEY)
        if isinstance(given, str) and given:
            return given
        routed = environ.get(RULE_ENVIRON_KEY)
        if routed is not None:
            flask_app, rule = routed
            prefix = self._prefixes.get(id(flask_app), "")  # an app hidden from the walk: its rule alone
            if prefix is None:
                prefix, reached, _ = self._dispatch(path_info)
                if reached is not flask_app:
                    return ROUTE_UNMATCHED
            return prefix + rule
        prefix, reached, rest = self._dispatch(path_info)
        url_map = reached.url_map if reached is not None else (self._url_map if prefix == "" else None)
        if url_map is None:
            return ROUTE_UNMATCHED
        rule = _match(url_map, environ, rest)
        return ROUTE_UNMATCHED if rule is None else prefix + rule

    def _dispatch(self, path: str) -> tuple[str, Any, str]:
        """Replay the dispatch: (prefix of dispatcher keys, the Flask app reached or None, the rest of the path)."""
        node, prefix = self._app, ""
        for _ in range(MAX_DEPTH * 2):
            if node is None:
                break
            kind, inner = _step(node)
            if kind == "flask":
                return prefix, inner, path
            if kind == "dispatch":
                key, rest = pick_mount(inner.mounts, path)
                if key is None:
                    node = getattr(inner, "app", None)
                else:
                    prefix, path, node = prefix + key, rest, inner.mounts[key]
                continue
            if kind == "end":
                break
            node = inner
        return prefix, None, path


def _match(url_map: Any, environ: dict, path: str) -> str | None:
    """The rule `url_map` matches for `path` (a 405 keeps the rule of an allowed method), else None."""
    from werkzeug.exceptions import HTTPException, MethodNotAllowed

    probe = dict(environ)
    probe["SCRIPT_NAME"] = ""
    probe["PATH_INFO"] = path
    try:
        adapter = url_map.bind_to_environ(probe)
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
    return None
