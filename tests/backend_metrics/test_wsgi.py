"""Flask/WSGI: route templates, short-circuits, errors, streams and the metrics path."""

from __future__ import annotations

import gzip

import pytest
from flask import Blueprint, Flask, Response, abort, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

import backend_metrics.wsgi as wsgi_module
from backend_metrics.names import METHOD_OTHER, ROUTE_UNMATCHED, STATUS_CLIENT_CLOSED
from backend_metrics.wsgi import instrument, track_routes
from tests.backend_metrics.readers import duration_sum, requests_by


class Boom(Exception):
    pass


class DenyWithoutToken:
    """A WSGI middleware answering 401 before Flask routes the request."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if "HTTP_AUTHORIZATION" not in environ:
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"no"]
        return self.app(environ, start_response)


def flask_app() -> Flask:
    app = Flask("helpdesk-test")
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.get("/tickets/<int:ticket_id>")
    def ticket(ticket_id):
        return "ticket"

    @app.route("/tickets", methods=["GET", "POST"])
    def tickets():
        return "tickets"

    @app.get("/fail")
    def fail():
        raise Boom("view failed")

    @app.get("/missing/<name>")
    def missing(name):
        abort(404)

    api = Blueprint("api", __name__, url_prefix="/api/v1")

    @api.get("/users/<user_id>")
    def user(user_id):
        return "user"

    app.register_blueprint(api)
    return app


def sub_app() -> Flask:
    sub = Flask("reports")

    @sub.get("/reports/<int:year>")
    def report(year):
        return "report"

    return sub


def get(client: Client, path: str, method: str = "GET", **kwargs):
    response = client.open(path, method=method, **kwargs)
    body = response.get_data()  # consume the body so the server side finishes
    response.close()
    return response.status_code, body


def test_flask_rules_label_requests_including_blueprint_prefixes(registry):
    client = Client(instrument(flask_app(), registry=registry))
    assert get(client, "/tickets/1")[0] == 200
    assert get(client, "/tickets/22")[0] == 200
    assert get(client, "/api/v1/users/ann")[0] == 200
    assert get(client, "/missing/thing")[0] == 404
    assert requests_by(registry) == {
        ("GET", "/tickets/<int:ticket_id>", "200"): 2.0,
        ("GET", "/api/v1/users/<user_id>", "200"): 1.0,
        ("GET", "/missing/<name>", "404"): 1.0,
    }


def test_flask_unmatched_paths_and_odd_methods_fold(registry):
    client = Client(instrument(flask_app(), registry=registry))
    for path in ("/nope", "/tickets/abc", "/.env"):
        assert get(client, path)[0] == 404
    assert get(client, "/tickets", method="BREW")[0] == 405
    assert requests_by(registry) == {("GET", ROUTE_UNMATCHED, "404"): 3.0, (METHOD_OTHER, "/tickets", "405"): 1.0}


def test_flask_apps_mounted_with_the_dispatcher_get_their_prefix(registry):
    main = flask_app()
    main.wsgi_app = DispatcherMiddleware(main.wsgi_app, {"/finance": sub_app()})
    client = Client(instrument(main, registry=registry))
    assert get(client, "/finance/reports/2024")[0] == 200
    assert get(client, "/finance/reports/2025")[0] == 200
    assert get(client, "/finance/nope")[0] == 404
    assert get(client, "/tickets/3")[0] == 200
    assert requests_by(registry) == {
        ("GET", "/finance/reports/<int:year>", "200"): 2.0,
        ("GET", ROUTE_UNMATCHED, "404"): 1.0,
        ("GET", "/tickets/<int:ticket_id>", "200"): 1.0,
    }


def test_requests_answered_before_flask_routed_them_are_matched_once(registry):
    app = flask_app()
    app.wsgi_app = DenyWithoutToken(app.wsgi_app)
    client = Client(instrument(app, registry=registry))
    assert get(client, "/tickets/5")[0] == 401
    assert get(client, "/unknown")[0] == 401
    assert get(client, "/tickets/5", headers={"Authorization": "Bearer x"})[0] == 200
    assert requests_by(registry) == {
        ("GET", "/tickets/<int:ticket_id>", "401"): 1.0,
        ("GET", ROUTE_UNMATCHED, "401"): 1.0,
        ("GET", "/tickets/<int:ticket_id>", "200"): 1.0,
    }


def test_a_before_request_refusal_keeps_the_rule(registry):
    app = flask_app()

    @app.before_request
    def require_token():
        if "Authorization" not in request.headers:
            return "no", 401

    client = Client(instrument(app, registry=registry))
    assert get(client, "/api/v1/users/bob")[0] == 401
    assert requests_by(registry) == {("GET", "/api/v1/users/<user_id>", "401"): 1.0}


def test_wrapping_only_wsgi_app_keeps_the_flask_object(registry):
    app = flask_app()
    app.wsgi_app = instrument(app.wsgi_app, registry=registry)
    response = app.test_client().get("/tickets/9")
    assert (response.status_code, response.get_data()) == (200, b"ticket")
    assert requests_by(registry) == {("GET", "/tickets/<int:ticket_id>", "200"): 1.0}


def test_a_flask_exception_counts_as_500_and_is_re_raised(registry):
    client = Client(instrument(flask_app(), registry=registry))
    with pytest.raises(Boom):
        client.get("/fail")
    assert requests_by(registry) == {("GET", "/fail", "500"): 1.0}


def test_a_flask_stream_is_timed_to_its_last_chunk(registry, monkeypatch):
    now = [500.0]
    monkeypatch.setattr(wsgi_module, "perf_counter", lambda: now[0])
    app = flask_app()

    @app.get("/export")
    def export():
        def rows():
            for _ in range(4):
                now[0] += 1.5
                yield "row\n"

        return Response(rows(), mimetype="text/plain")

    client = Client(instrument(app, registry=registry))
    status, body = get(client, "/export")
    assert (status, body) == (200, b"row\n" * 4)
    assert duration_sum(registry, "GET", "/export") == pytest.approx(6.0)


def test_a_stream_the_server_stops_reading_is_recorded_as_client_closed(registry):
    app = flask_app()

    @app.get("/feed")
    def feed():
        def forever():
            while True:
                yield "tick\n"

        return Response(forever())

    wrapped = instrument(app, registry=registry)
    body = wrapped(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/feed", "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http"},
        lambda status, headers, exc_info=None: None,
    )
    iterator = iter(body)
    next(iterator)
    next(iterator)
    body.close()  # what a server does when the client goes away
    assert requests_by(registry) == {("GET", "/feed", STATUS_CLIENT_CLOSED): 1.0}


def test_flask_metrics_path_is_exact_uncounted_and_gzipped_on_request(registry):
    client = Client(instrument(flask_app(), registry=registry))
    get(client, "/tickets/1")
    response = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert b'route="/tickets/<int:ticket_id>"' in gzip.decompress(response.get_data())
    assert get(client, "/metrics/")[0] == 404
    assert requests_by(registry) == {("GET", "/tickets/<int:ticket_id>", "200"): 1.0, ("GET", ROUTE_UNMATCHED, "404"): 1.0}


def test_track_routes_is_idempotent():
    app = flask_app()
    track_routes(app)
    track_routes(app)
    assert sum(1 for f in app.teardown_request_funcs[None] if f.__name__ == "leave_rule") == 1


def test_send_file_hands_the_servers_file_wrapper_through(registry, tmp_path):
    """gunicorn (like other servers) uses sendfile only when the body is its own wsgi.file_wrapper object."""
    from flask import send_file
    from gunicorn.http.wsgi import FileWrapper
    from werkzeug.test import EnvironBuilder

    payload = tmp_path / "report.csv"
    payload.write_bytes(b"a,b\n" * 1000)
    app = flask_app()

    @app.get("/reports/<name>")
    def report(name):
        return send_file(payload, mimetype="text/csv")

    wrapped = instrument(app, registry=registry)
    environ = EnvironBuilder(path="/reports/q1").get_environ()
    environ["wsgi.file_wrapper"] = FileWrapper
    statuses = []
    body = wrapped(environ, lambda status, headers, exc_info=None: statuses.append(status))
    assert isinstance(body, FileWrapper)
    assert requests_by(registry) == {}  # recorded when the server closes it, after sending
    assert b"".join(body) == payload.read_bytes()
    body.close()
    body.close()
    assert statuses == ["200 OK"]
    assert requests_by(registry) == {("GET", "/reports/<name>", "200"): 1.0}
