"""The support matrix of docs/backend_metrics.md, request by request: every supported framework and
deployment shape gives the documented label, and every request sent is counted exactly once."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from fastapi import APIRouter, FastAPI
from flask import Blueprint, Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from backend_metrics import asgi, wsgi
from backend_metrics.asgi_routes import ROUTE_SCOPE_KEY
from backend_metrics.names import ROUTE_UNMATCHED
from tests.backend_metrics.asgi_client import call
from tests.backend_metrics.readers import requests_by


async def text(request):
    return PlainTextResponse("ok")


async def raw_ok(scope, receive, send):
    await PlainTextResponse("ok")(scope, receive, send)


@dataclass
class Case:
    kind: str  # "asgi" or "wsgi"
    build: Callable[[], Any]
    # (method, path, headers, status the app answers, label expected)
    requests: list[tuple[str, str, dict, int, str]]
    root_path: str = ""


def fastapi_nested_routers_and_sub_apps() -> FastAPI:
    api = FastAPI()
    tickets = APIRouter(prefix="/tickets")

    @tickets.get("/{ticket_id}")
    def ticket(ticket_id: int):
        return {}

    comments = APIRouter()

    @comments.post("/{ticket_id}/comments")
    def comment(ticket_id: int):
        return {}

    tickets.include_router(comments)
    v1 = APIRouter()
    v1.include_router(tickets)
    v1.add_route("/legacy/{x}", text)
    v1.mount("/files", app=raw_ok)
    api.include_router(v1, prefix="/v1")
    api.include_router(v1, prefix="/v2")  # the same router twice: each inclusion keeps its prefix
    sub = FastAPI()

    @sub.get("/items/{item_id}")
    def item(item_id: str):
        return {}

    api.mount("/sub", sub)
    return api


def fastapi_root_path() -> FastAPI:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = FastAPI(root_path="/prefix", middleware=[Middleware(CORSMiddleware, allow_origins=["https://a.example"], allow_methods=["*"])])

    @api.get("/users/{user_id}")
    def user(user_id: str):
        return {}

    return api


def starlette_mounts_and_hosts() -> Starlette:
    return Starlette(
        routes=[
            Route("/tickets/{ticket_id:int}", text, methods=["GET"]),
            Mount("/{org}/admin", routes=[Route("/users/{name}", text)]),
            Mount("/static", app=raw_ok),
            Host("api.example.com", app=Starlette(routes=[Route("/status", text)])),
        ]
    )


def flask_blueprints() -> Flask:
    app = Flask("blueprints")
    api = Blueprint("api", __name__, url_prefix="/api")
    users = Blueprint("users", __name__, url_prefix="/users")

    @users.get("/<int:user_id>")
    def user(user_id):
        return "u"

    api.register_blueprint(users)
    app.register_blueprint(api)
    return app


def flask_dispatcher_behind_proxy_fix() -> Flask:
    app = flask_blueprints()
    reports = Flask("reports")

    @reports.get("/year/<int:year>")
    def year(year):
        return "y"

    nested = Flask("nested")

    @nested.get("/ping")
    def ping():
        return "p"

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/reports": DispatcherMiddleware(reports, {"/deep": nested})})
    app.wsgi_app = ProxyFix(app.wsgi_app, x_prefix=1)
    return app


async def bare_asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"].startswith("/orders/"):
        scope[ROUTE_SCOPE_KEY] = "/orders/{order_id}"
        await PlainTextResponse("o")(scope, receive, send)
        return
    await PlainTextResponse("no", status_code=404)(scope, receive, send)


CASES = {
    "fastapi nested routers, add_route, mount, sub-app": Case(
        "asgi",
        fastapi_nested_routers_and_sub_apps,
        [
            ("GET", "/v1/tickets/3", {}, 200, "/v1/tickets/{ticket_id}"),
            ("GET", "/v2/tickets/4", {}, 200, "/v2/tickets/{ticket_id}"),
            ("POST", "/v1/tickets/3/comments", {}, 200, "/v1/tickets/{ticket_id}/comments"),
            ("GET", "/v1/tickets/x", {}, 422, "/v1/tickets/{ticket_id}"),
            ("DELETE", "/v1/tickets/3", {}, 405, "/v1/tickets/{ticket_id}"),
            ("GET", "/v1/legacy/a", {}, 200, "/v1/legacy/{x}"),
            ("GET", "/v2/files/a/b.txt", {}, 200, "/v2/files/{path}"),
            ("GET", "/sub/items/lamp", {}, 200, "/sub/items/{item_id}"),
            ("GET", "/sub/nothing", {}, 404, ROUTE_UNMATCHED),
            ("GET", "/wp-login.php", {}, 404, ROUTE_UNMATCHED),
        ],
    ),
    "fastapi root_path and CORS preflight": Case(
        "asgi",
        fastapi_root_path,
        [
            ("GET", "/prefix/users/ann", {}, 200, "/users/{user_id}"),
            ("GET", "/users/bob", {}, 200, "/users/{user_id}"),
            ("OPTIONS", "/prefix/users/ann", {"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}, 200, "/users/{user_id}"),
            ("GET", "/prefix/other", {}, 404, ROUTE_UNMATCHED),
        ],
    ),
    "starlette mounts and hosts under a server root_path": Case(
        "asgi",
        starlette_mounts_and_hosts,
        [
            ("GET", "/api/tickets/1", {}, 200, "/tickets/{ticket_id:int}"),
            ("POST", "/api/tickets/1", {}, 405, "/tickets/{ticket_id:int}"),
            ("GET", "/api/acme/admin/users/ann", {}, 200, "/{org}/admin/users/{name}"),
            ("GET", "/api/static/css/site.css", {}, 200, "/static/{path}"),
            ("GET", "/api/status", {"Host": "api.example.com"}, 200, "/status"),
            ("GET", "/api/status", {"Host": "other.example.com"}, 404, ROUTE_UNMATCHED),
        ],
        root_path="/api",
    ),
    "bare asgi app with the scope key": Case(
        "asgi",
        lambda: bare_asgi,
        [("GET", "/orders/1", {}, 200, "/orders/{order_id}"), ("GET", "/x", {}, 404, ROUTE_UNMATCHED)],
    ),
    "flask blueprints": Case(
        "wsgi",
        flask_blueprints,
        [
            ("GET", "/api/users/7", {}, 200, "/api/users/<int:user_id>"),
            ("POST", "/api/users/7", {}, 405, "/api/users/<int:user_id>"),
            ("GET", "/api/users/x", {}, 404, ROUTE_UNMATCHED),
        ],
    ),
    "flask dispatcher (nested) behind ProxyFix": Case(
        "wsgi",
        flask_dispatcher_behind_proxy_fix,
        [
            ("GET", "/api/users/7", {"X-Forwarded-Prefix": "/client-chosen"}, 200, "/api/users/<int:user_id>"),
            ("GET", "/reports/year/2024", {"X-Forwarded-Prefix": "/x" * 100}, 200, "/reports/year/<int:year>"),
            ("PUT", "/reports/year/2024", {}, 405, "/reports/year/<int:year>"),
            ("GET", "/reports/deep/ping", {"X-Forwarded-Prefix": "/p"}, 200, "/reports/deep/ping"),
            ("GET", "/reports/missing", {}, 404, ROUTE_UNMATCHED),
        ],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_supported_shape_is_counted_exactly_with_its_documented_label(name, registry):
    case = CASES[name]
    app = (asgi if case.kind == "asgi" else wsgi).instrument(case.build(), registry=registry)
    expected: Counter = Counter()
    for index, (method, path, headers, status, label) in enumerate(case.requests):
        for _ in range(index % 3 + 1):  # a different count per request, so a swapped label shows
            if case.kind == "asgi":
                answered = call(app, method, case.root_path + path[len(case.root_path) :], headers=headers, root_path=case.root_path).status
            else:
                response = Client(app).open(path, method=method, headers=headers)
                response.get_data()
                response.close()
                answered = response.status_code
            assert answered == status, (method, path)
            expected[(method, label, str(status))] += 1
    assert requests_by(registry) == {key: float(count) for key, count in expected.items()}
