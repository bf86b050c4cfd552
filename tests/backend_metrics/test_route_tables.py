"""The route label is a template from the app's own tables, whatever the request says (issue 13, items 1-6)."""

from __future__ import annotations

import warnings

from fastapi import APIRouter, FastAPI
from flask import Blueprint, Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route, WebSocketRoute
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client, EnvironBuilder

from backend_metrics import asgi, wsgi
from backend_metrics.asgi_routes import ROUTE_SCOPE_KEY
from backend_metrics.names import METHOD_OTHER, ROUTE_UNMATCHED
from backend_metrics.wsgi_routes import ROUTE_ENVIRON_KEY
from tests.backend_metrics.asgi_client import call
from tests.backend_metrics.readers import requests_by, routes_seen


async def text(request):
    return PlainTextResponse("ok")


async def raw_ok(scope, receive, send):
    await PlainTextResponse("ok")(scope, receive, send)


# -- item 1: a client-supplied prefix never reaches the label (WSGI) ----------------------------


def proxied_flask_app() -> Flask:
    """Flask's deployment docs: ProxyFix inside the app, trusting one proxy for every header."""
    app = Flask("proxied")

    @app.get("/hello")
    def hello():
        return "hi"

    @app.get("/tickets/<int:ticket_id>")
    def ticket(ticket_id):
        return "t"

    api = Blueprint("api", __name__, url_prefix="/api")

    @api.route("/users/<name>", methods=["GET", "POST"])
    def user(name):
        return "u"

    app.register_blueprint(api)
    reports = Flask("reports")

    @reports.get("/year/<int:year>")
    def year(year):
        return "y"

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/reports": reports})
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    return app


PROXIED_TEMPLATES = {"/hello", "/tickets/<int:ticket_id>", "/api/users/<name>", "/reports/year/<int:year>"}
FIXED_VALUES = {ROUTE_UNMATCHED}


def wsgi_get(app, path: str, method: str = "GET", headers: dict | None = None) -> int:
    response = Client(app).open(path, method=method, headers=headers or {})
    response.get_data()
    response.close()
    return response.status_code


def test_a_forwarded_prefix_does_not_become_part_of_the_route(registry):
    app = wsgi.instrument(proxied_flask_app(), registry=registry)
    for prefix in ("/anything", "/" + "x" * 4096, "/evil/../../", ""):
        assert wsgi_get(app, "/hello", headers={"X-Forwarded-Prefix": prefix}) == 200
    assert requests_by(registry) == {("GET", "/hello", "200"): 4.0}


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=300)
paths = st.one_of(
    st.sampled_from(["/hello", "/tickets/7", "/api/users/ann", "/reports/year/2024", "/reports/nope", "/x", "/"]),
    st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="?#%"), max_size=60).map(lambda p: "/" + p),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    requests=st.lists(
        st.tuples(
            paths,
            st.sampled_from(["GET", "POST", "DELETE", "BREW"]),
            st.fixed_dictionaries(
                {},
                optional={
                    "X-Forwarded-Prefix": header_text,
                    "X-Forwarded-Host": header_text,
                    "X-Forwarded-For": header_text,
                    "X-Forwarded-Proto": header_text,
                    "X-Forwarded-Port": header_text,
                    "Host": header_text,
                },
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_whatever_a_client_sends_routes_stay_within_the_apps_templates(requests):
    registry = CollectorRegistry()
    app = wsgi.instrument(proxied_flask_app(), registry=registry)
    for path, method, headers in requests:
        environ = EnvironBuilder(path=path, method=method).get_environ()
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        try:
            body = app(environ, lambda status, headers, exc_info=None: None)
            b"".join(body)
            body.close()
        except Exception:  # a hostile Host header may make werkzeug refuse; the request is still counted
            pass
    seen = routes_seen(registry)
    assert seen <= PROXIED_TEMPLATES | FIXED_VALUES
    assert len(seen) <= len(PROXIED_TEMPLATES) + len(FIXED_VALUES)
    assert sum(requests_by(registry).values()) == len(requests)


@settings(max_examples=100, deadline=None)
@given(root_path=header_text, tail=st.sampled_from(["/tickets/3", "/admin/stats", "/orgs/a/users/b", "/nope"]))
def test_whatever_root_path_the_server_passes_asgi_routes_stay_templates(root_path, tail):
    registry = CollectorRegistry()
    app = asgi.instrument(mounted_starlette_app(), registry=registry)
    call(app, "GET", root_path + tail, root_path=root_path)
    assert routes_seen(registry) <= {"/tickets/{ticket_id:int}", "/admin/stats", "/{org}/users/{name}", ROUTE_UNMATCHED}


# -- item 2: APIRouter.add_route / mount, then include_router ----------------------------------


def test_routes_and_mounts_added_to_an_included_router_keep_their_template(registry):
    router = APIRouter()
    router.add_route("/plain/{x}", text)
    router.mount("/files", Starlette(routes=[Route("/{name}", text)]))
    router.mount("/static", app=raw_ok)
    api = FastAPI()
    api.include_router(router, prefix="/r")
    app = asgi.instrument(api, registry=registry)
    for _ in range(2):
        assert call(app, "GET", "/r/plain/1").status == 200
        assert call(app, "GET", "/r/files/a.txt").status == 200
        assert call(app, "GET", "/r/static/css/site.css").status == 200
    assert requests_by(registry) == {
        ("GET", "/r/plain/{x}", "200"): 2.0,
        ("GET", "/r/files/{name}", "200"): 2.0,
        ("GET", "/r/static/{path}", "200"): 2.0,
    }


# -- item 3: DispatcherMiddleware and 405 --------------------------------------------------------


def test_a_405_under_the_dispatcher_keeps_its_route(registry):
    main = Flask("main")
    reports = Flask("reports")

    @reports.get("/year/<int:year>")
    def year(year):
        return "y"

    main.wsgi_app = DispatcherMiddleware(main.wsgi_app, {"/reports": reports})
    app = wsgi.instrument(main, registry=registry)
    assert wsgi_get(app, "/reports/year/2024", method="POST") == 405
    assert wsgi_get(app, "/reports/year/2024", method="BREW") == 405
    assert wsgi_get(app, "/reports/year/2024") == 200
    assert requests_by(registry) == {
        ("POST", "/reports/year/<int:year>", "405"): 1.0,
        (METHOD_OTHER, "/reports/year/<int:year>", "405"): 1.0,
        ("GET", "/reports/year/<int:year>", "200"): 1.0,
    }


# -- item 4: FastAPI(root_path=...) --------------------------------------------------------------


def test_fastapi_root_path_requests_with_the_prefix_keep_their_route(registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI deprecates root_path in favour of the server's
        api = FastAPI(root_path="/api")

    @api.get("/items/{item_id}")
    def item(item_id: int):
        return {}

    app = asgi.instrument(api, registry=registry)
    assert call(app, "GET", "/api/items/1").status == 200
    assert call(app, "GET", "/api/items/2").status == 200
    assert call(app, "GET", "/items/3").status == 200
    assert call(app, "GET", "/api/nothing").status == 404
    assert requests_by(registry) == {("GET", "/items/{item_id}", "200"): 3.0, ("GET", ROUTE_UNMATCHED, "404"): 1.0}


# -- item 5: the mount that served the request, not the one the path resembles ------------------


def mounted_starlette_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/tickets/{ticket_id:int}", text),
            Mount("/{org}", routes=[Route("/users/{name}", text)]),
            Mount("/admin", routes=[Route("/users/{name}", text), Route("/stats", text)]),
        ]
    )


def test_a_parametrised_mount_listed_first_names_its_own_template(registry):
    app = asgi.instrument(mounted_starlette_app(), registry=registry)
    assert call(app, "GET", "/admin/users/ann").status == 200  # served by "/{org}": it is listed first
    assert call(app, "GET", "/acme/users/bob").status == 200
    assert call(app, "GET", "/admin/stats").status == 404  # "/{org}" took it too, and has no /stats
    assert requests_by(registry) == {("GET", "/{org}/users/{name}", "200"): 2.0, ("GET", ROUTE_UNMATCHED, "404"): 1.0}


def test_one_route_object_shared_by_two_mounts_is_named_by_the_mount_that_served(registry):
    shared = [Route("/users/{name}", text)]
    app = asgi.instrument(Starlette(routes=[Mount("/staff", routes=shared), Mount("/{org}", routes=shared)]), registry=registry)
    for _ in range(2):
        assert call(app, "GET", "/staff/users/a").status == 200
        assert call(app, "GET", "/acme/users/b").status == 200
    assert requests_by(registry) == {("GET", "/staff/users/{name}", "200"): 2.0, ("GET", "/{org}/users/{name}", "200"): 2.0}


# -- item 6: routers the package cannot read, Host routing, WebSockets ------------------------


async def bare_asgi_app(scope, receive, send):
    """No router at all: it answers /orders/<n> and 404s the rest, and names its template."""
    if scope["type"] != "http":
        return
    if scope["path"].startswith("/orders/"):
        scope[ROUTE_SCOPE_KEY] = "/orders/{order_id}"
        await PlainTextResponse("order")(scope, receive, send)
    else:
        await PlainTextResponse("no", status_code=404)(scope, receive, send)


def test_a_bare_asgi_app_names_its_template_through_the_scope_key(registry):
    app = asgi.instrument(bare_asgi_app, registry=registry)
    assert call(app, "GET", "/orders/1").status == 200
    assert call(app, "GET", "/orders/2").status == 200
    assert call(app, "GET", "/elsewhere").status == 404
    assert requests_by(registry) == {("GET", "/orders/{order_id}", "200"): 2.0, ("GET", ROUTE_UNMATCHED, "404"): 1.0}


def test_another_framework_names_its_template_through_route_of(registry):
    async def framework(scope, receive, send):  # keeps its matched template in its own scope key
        scope["framework.path_template"] = "/things/{id}" if scope["path"].startswith("/things/") else None
        await PlainTextResponse("x")(scope, receive, send)

    app = asgi.instrument(framework, registry=registry, route_of=lambda scope: scope.get("framework.path_template"))
    assert call(app, "GET", "/things/9").status == 200
    assert call(app, "GET", "/other").status == 200
    assert requests_by(registry) == {("GET", "/things/{id}", "200"): 1.0, ("GET", ROUTE_UNMATCHED, "200"): 1.0}


def test_a_plain_wsgi_app_names_its_template_through_the_environ_key(registry):
    def plain(environ, start_response):
        environ[ROUTE_ENVIRON_KEY] = "/download/{name}"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"file"]

    app = wsgi.instrument(plain, registry=registry)
    assert wsgi_get(app, "/download/a.zip") == 200
    assert requests_by(registry) == {("GET", "/download/{name}", "200"): 1.0}


def test_host_routing_labels_the_inner_route_and_a_routeless_host_app_path(registry):
    app = asgi.instrument(
        Starlette(
            routes=[
                Host("api.example.com", app=Starlette(routes=[Route("/users/{id}", text)])),
                Host("{tenant}.example.com", app=raw_ok),
            ]
        ),
        registry=registry,
    )
    assert call(app, "GET", "/users/1", headers={"Host": "api.example.com"}).status == 200
    assert call(app, "GET", "/any/thing", headers={"Host": "acme.example.com"}).status == 200
    assert requests_by(registry) == {("GET", "/users/{id}", "200"): 1.0, ("GET", "/{path}", "200"): 1.0}


def test_websocket_connections_pass_through_uncounted(registry):
    import asyncio

    async def echo(websocket):
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    app = asgi.instrument(Starlette(routes=[WebSocketRoute("/ws", echo)]), registry=registry)
    sent = []
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message["type"])

    scope = {"type": "websocket", "path": "/ws", "root_path": "", "headers": [], "query_string": b"", "subprotocols": []}
    asyncio.run(app(scope, receive, send))
    assert sent == ["websocket.accept", "websocket.send", "websocket.close"]
    assert requests_by(registry) == {}


def test_every_label_is_a_known_template_or_a_fixed_value(registry):
    table = asgi.instrument(mounted_starlette_app(), registry=registry).routes
    assert table.known_templates() == {"/tickets/{ticket_id:int}", "/{org}/users/{name}", "/admin/users/{name}", "/admin/stats"}
