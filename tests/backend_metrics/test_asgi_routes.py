"""Route templates for Starlette and FastAPI: the label names the route, never the raw path."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from backend_metrics.asgi import instrument
from backend_metrics.names import METHOD_OTHER, ROUTE_UNMATCHED
from tests.backend_metrics.asgi_client import call
from tests.backend_metrics.readers import requests_by, routes_seen


async def text(request):
    return PlainTextResponse("ok")


def starlette_app() -> Starlette:
    orgs = Starlette(routes=[Route("/users/{name}", text), Route("/", text)])
    admin = Starlette(routes=[Route("/stats", text)])
    return Starlette(
        routes=[
            Route("/tickets", text, methods=["GET", "POST"]),
            Route("/tickets/{ticket_id:int}", text, methods=["GET", "PATCH"]),
            Mount("/orgs/{org}", app=orgs),
            Mount("/admin", app=admin),
            Mount("/v1", routes=[Route("/items/{item_id}", text)]),
        ]
    )


def test_starlette_path_parameters_are_labelled_with_the_template(registry):
    app = instrument(starlette_app(), registry=registry)
    for ticket_id in (1, 2, 99999):
        assert call(app, "GET", f"/tickets/{ticket_id}").status == 200
    assert requests_by(registry) == {("GET", "/tickets/{ticket_id:int}", "200"): 3.0}


def test_starlette_mounted_apps_carry_their_mount_template(registry):
    app = instrument(starlette_app(), registry=registry)
    assert call(app, "GET", "/orgs/acme/users/ann").status == 200
    assert call(app, "GET", "/orgs/globex/users/bob").status == 200
    assert call(app, "GET", "/admin/stats").status == 200
    assert call(app, "GET", "/v1/items/42").status == 200
    assert requests_by(registry) == {
        ("GET", "/orgs/{org}/users/{name}", "200"): 2.0,
        ("GET", "/admin/stats", "200"): 1.0,
        ("GET", "/v1/items/{item_id}", "200"): 1.0,
    }


def test_mount_under_a_root_path_keeps_the_template_relative_to_the_app(registry):
    app = instrument(starlette_app(), registry=registry)
    assert call(app, "GET", "/api/admin/stats", root_path="/api").status == 200
    assert call(app, "GET", "/api/tickets/5", root_path="/api").status == 200
    assert routes_seen(registry) == {"/admin/stats", "/tickets/{ticket_id:int}"}


def test_unmatched_paths_share_one_route_label(registry):
    app = instrument(starlette_app(), registry=registry)
    for path in ("/nope", "/wp-login.php", "/orgs/acme/nothing/here", "/admin/secret", "/tickets/abc"):
        assert call(app, "GET", path).status == 404
    assert requests_by(registry) == {("GET", ROUTE_UNMATCHED, "404"): 5.0}


def test_method_not_allowed_keeps_the_route_and_odd_methods_fold(registry):
    app = instrument(starlette_app(), registry=registry)
    assert call(app, "DELETE", "/tickets").status == 405
    assert call(app, "BREW", "/tickets").status == 405
    assert requests_by(registry) == {("DELETE", "/tickets", "405"): 1.0, (METHOD_OTHER, "/tickets", "405"): 1.0}


def fastapi_app() -> FastAPI:
    api = FastAPI()
    tickets = APIRouter(prefix="/tickets")

    @tickets.get("/{ticket_id}")
    def get_ticket(ticket_id: int):
        return {"id": ticket_id}

    outer = APIRouter()
    outer.include_router(tickets, prefix="/inner")
    api.include_router(outer, prefix="/api")

    @api.get("/users/{user_id}/tickets/{ticket_id}")
    def user_ticket(user_id: str, ticket_id: int):
        return {}

    sub = FastAPI()

    @sub.get("/things/{thing}")
    def thing(thing: str):
        return {}

    api.mount("/v2", sub)
    api.mount("/legacy/{tenant}", Starlette(routes=[Route("/page/{n}", text)]))
    return api


def test_fastapi_templates_include_router_prefixes_and_mounts(registry):
    app = instrument(fastapi_app(), registry=registry)
    assert call(app, "GET", "/api/inner/tickets/7").status == 200
    assert call(app, "GET", "/users/ann/tickets/3").status == 200
    assert call(app, "GET", "/v2/things/lamp").status == 200
    assert call(app, "GET", "/legacy/acme/page/3").status == 200
    assert call(app, "GET", "/v2/unknown").status == 404
    assert requests_by(registry) == {
        ("GET", "/api/inner/tickets/{ticket_id}", "200"): 1.0,
        ("GET", "/users/{user_id}/tickets/{ticket_id}", "200"): 1.0,
        ("GET", "/v2/things/{thing}", "200"): 1.0,
        ("GET", "/legacy/{tenant}/page/{n}", "200"): 1.0,
        ("GET", ROUTE_UNMATCHED, "404"): 1.0,
    }


def test_fastapi_validation_errors_keep_the_route(registry):
    app = instrument(fastapi_app(), registry=registry)
    assert call(app, "GET", "/api/inner/tickets/not-a-number").status == 422
    assert requests_by(registry) == {("GET", "/api/inner/tickets/{ticket_id}", "422"): 1.0}


class DenyWithoutToken(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if "authorization" not in request.headers:
            return PlainTextResponse("no", status_code=401)
        return await call_next(request)


class RateLimitEverything:
    """A raw ASGI middleware that answers 429 before the router runs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/limited"):
            await PlainTextResponse("slow down", status_code=429)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def test_requests_answered_before_routing_still_get_their_route(registry):
    api = FastAPI(
        middleware=[
            Middleware(CORSMiddleware, allow_origins=["https://helpdesk.example"], allow_methods=["*"]),
            Middleware(DenyWithoutToken),
        ]
    )

    @api.get("/tickets/{ticket_id}")
    def get_ticket(ticket_id: int):
        return {}

    app = instrument(api, registry=registry)
    preflight = {"Origin": "https://helpdesk.example", "Access-Control-Request-Method": "GET"}
    assert call(app, "OPTIONS", "/tickets/5", headers=preflight).status == 200
    assert call(app, "GET", "/tickets/5").status == 401
    assert call(app, "GET", "/tickets/5", headers={"Authorization": "Bearer x"}).status == 200
    assert call(app, "GET", "/elsewhere").status == 401
    assert requests_by(registry) == {
        ("OPTIONS", "/tickets/{ticket_id}", "200"): 1.0,
        ("GET", "/tickets/{ticket_id}", "401"): 1.0,
        ("GET", "/tickets/{ticket_id}", "200"): 1.0,
        ("GET", ROUTE_UNMATCHED, "401"): 1.0,
    }


def test_a_rate_limiter_in_front_of_starlette_gets_the_route(registry):
    inner = Starlette(routes=[Route("/limited/{thing}", text)], middleware=[Middleware(RateLimitEverything)])
    app = instrument(inner, registry=registry)
    assert call(app, "GET", "/limited/a").status == 429
    assert call(app, "GET", "/limited/b").status == 429
    assert requests_by(registry) == {("GET", "/limited/{thing}", "429"): 2.0}


def test_instrumenting_an_app_wrapped_in_middleware_finds_its_routes(registry):
    inner = RateLimitEverything(starlette_app())
    app = instrument(inner, registry=registry)
    assert call(app, "GET", "/limited/x").status == 429
    assert call(app, "GET", "/tickets/3").status == 200
    assert call(app, "GET", "/orgs/a/users/b").status == 200
    assert requests_by(registry) == {
        ("GET", ROUTE_UNMATCHED, "429"): 1.0,
        ("GET", "/tickets/{ticket_id:int}", "200"): 1.0,
        ("GET", "/orgs/{org}/users/{name}", "200"): 1.0,
    }


def test_routes_added_after_instrumenting_are_labelled(registry):
    api = FastAPI()
    app = instrument(api, registry=registry)

    @app.get("/late/{x}")  # attribute access falls through to the FastAPI app
    def late(x: str):
        return {}

    assert call(app, "GET", "/late/1").status == 200
    assert routes_seen(registry) == {"/late/{x}"}


async def raw_files(scope, receive, send):
    await PlainTextResponse("file")(scope, receive, send)


def test_mounted_apps_without_routes_are_labelled_with_the_mount_template(registry):
    inner = Starlette(
        routes=[
            Mount("/static", app=raw_files),
            Mount("/docs/{version}", routes=[Mount("/files", app=raw_files)]),
        ]
    )
    app = instrument(inner, registry=registry)
    assert call(app, "GET", "/static/css/site.css").status == 200
    assert call(app, "GET", "/static/js/app.js").status == 200
    assert call(app, "GET", "/docs/v2/files/a/b.txt").status == 200
    assert requests_by(registry) == {
        ("GET", "/static/{path}", "200"): 2.0,
        ("GET", "/docs/{version}/files/{path}", "200"): 1.0,
    }
