"""The example helpdesk: its routes, its business counters at the right points, its stores."""

from __future__ import annotations

import json

import mongomock
import pytest
from prometheus_client import CollectorRegistry

from backend_metrics.names import AUTH_ATTEMPTS_TOTAL, TICKETS_CREATED_TOTAL, USERS_REGISTERED_TOTAL
from examples.helpdesk.app import EXCLUDED_ROUTES, ROUTES, create_app
from examples.helpdesk.passwords import hash_password, verify_password
from examples.helpdesk.store import MemoryStore, MongoStore, store_from_env
from tests.backend_metrics.asgi_client import call
from tests.backend_metrics.readers import requests_by, sample_values


def post(app, path, json_body):
    return call(app, "POST", path, headers={"Content-Type": "application/json"}, body=json.dumps(json_body).encode())


def patch(app, path, json_body):
    return call(app, "PATCH", path, headers={"Content-Type": "application/json"}, body=json.dumps(json_body).encode())


@pytest.fixture(params=["memory", "mongomock"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    return MongoStore(mongomock.MongoClient(), database="helpdesk_test")


def test_ticket_lifecycle_counts_each_created_ticket_once(registry, store):
    app = create_app(store, registry)
    created = post(app, "/tickets", {"title": "printer on fire", "reporter": "ann"})
    assert created.status == 201
    ticket = json.loads(created.body)
    assert call(app, "GET", f"/tickets/{ticket['id']}").status == 200
    updated = patch(app, f"/tickets/{ticket['id']}", {"status": "resolved"})
    assert json.loads(updated.body)["status"] == "resolved"
    listed = json.loads(call(app, "GET", "/tickets?status=resolved").body)
    assert [t["id"] for t in listed] == [ticket["id"]]
    assert call(app, "GET", "/tickets/does-not-exist").status == 404
    assert post(app, "/tickets", {"title": ""}).status == 422  # invalid: not created, not counted
    assert sample_values(registry, TICKETS_CREATED_TOTAL) == {(): 1.0}


def test_registration_and_logins_feed_the_business_counters(registry, store):
    app = create_app(store, registry)
    assert post(app, "/users", {"username": "ann", "password": "correct horse"}).status == 201
    assert post(app, "/users", {"username": "ann", "password": "another one"}).status == 409
    assert post(app, "/auth/login", {"username": "ann", "password": "correct horse"}).status == 200
    assert post(app, "/auth/login", {"username": "ann", "password": "wrong horse"}).status == 401
    assert post(app, "/auth/login", {"username": "nobody", "password": "whatever1"}).status == 401
    assert sample_values(registry, USERS_REGISTERED_TOTAL) == {(): 1.0}
    assert sample_values(registry, AUTH_ATTEMPTS_TOTAL) == {(("outcome", "success"),): 1.0, (("outcome", "failure"),): 2.0}


def test_passwords_are_stored_hashed(store):
    app = create_app(store, CollectorRegistry())
    post(app, "/users", {"username": "bob", "password": "s3cret-pass"})
    stored = store.get_user("bob")
    assert "s3cret-pass" not in str(stored)
    assert verify_password("s3cret-pass", stored["password_hash"])
    assert not verify_password("s3cret-pasS", stored["password_hash"])


def test_password_hashes_are_salted():
    assert hash_password("same") != hash_password("same")


def test_helpdesk_requests_are_labelled_with_its_routes_and_health_checks_are_not(registry):
    app = create_app(MemoryStore(), registry)
    call(app, "GET", "/healthz")
    call(app, "GET", "/tickets")
    call(app, "GET", "/tickets/abc")
    post(app, "/auth/login", {"username": "x", "password": "y"})
    routes = {route for _, route, _ in requests_by(registry)}
    assert routes == {"/tickets", "/tickets/{ticket_id}", "/auth/login"}
    assert routes <= set(ROUTES) - EXCLUDED_ROUTES


def test_the_store_comes_from_the_environment():
    assert isinstance(store_from_env({}), MemoryStore)
    store = store_from_env({"MONGODB_URI": "mongodb://127.0.0.1:1/helpdesk"})  # lazy: no connection yet
    assert isinstance(store, MongoStore)
