"""The helpdesk backend: FastAPI, instrumented with backend_metrics.

Run it:  uvicorn examples.helpdesk.app:app --host 127.0.0.1 --port 8000
Metrics: http://127.0.0.1:8000/metrics

`create_app(store=None, registry=None)` builds a fresh app (tests pass their own
store and registry); the module-level `app` is the one servers import.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI, HTTPException, Query, status
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field

from backend_metrics.asgi import InstrumentedApp, instrument
from backend_metrics.business import BusinessMetrics
from examples.helpdesk.passwords import hash_password, verify_against_nothing, verify_password
from examples.helpdesk.store import TICKET_STATUSES, DuplicateUser, Store, store_from_env

__all__ = ["EXCLUDED_ROUTES", "ROUTES", "app", "create_app"]

ROUTES = ("/users", "/auth/login", "/tickets", "/tickets/{ticket_id}", "/healthz")
"""The templates this app's requests are labelled with (tests and dashboards can rely on them)."""

EXCLUDED_ROUTES = frozenset({"/healthz"})
"""Liveness probes would drown real traffic in the request rate, so they are not recorded."""


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=256)


class UserOut(BaseModel):
    id: str
    username: str


class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class TokenOut(BaseModel):
    token: str


class TicketIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    reporter: str | None = Field(default=None, max_length=64)


class TicketPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    status: str | None = Field(default=None, pattern="^(" + "|".join(TICKET_STATUSES) + ")$")


class TicketOut(BaseModel):
    id: str
    title: str
    description: str
    reporter: str | None
    status: str
    created_at: str
    updated_at: str


def create_app(store: Store | None = None, registry: CollectorRegistry | None = None) -> InstrumentedApp:
    """A new helpdesk app on `store` (default: from the environment) with metrics in `registry`."""
    store = store_from_env() if store is None else store
    business = BusinessMetrics(registry)
    api = FastAPI(title="helpdesk", version="1.0.0")

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
    def register(user: UserIn) -> Any:
        try:
            created = store.create_user(user.username, hash_password(user.password))
        except DuplicateUser:
            raise HTTPException(status.HTTP_409_CONFLICT, "username taken") from None
        business.user_registered()
        return created

    @api.post("/auth/login", response_model=TokenOut)
    def login(credentials: LoginIn) -> Any:
        user = store.get_user(credentials.username)
        if user is None:
            ok = verify_against_nothing(credentials.password)
        else:
            ok = verify_password(credentials.password, user["password_hash"])
        business.auth_attempt("success" if ok else "failure")
        if not ok:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid credentials")
        return {"token": secrets.token_urlsafe(24)}

    @api.post("/tickets", status_code=status.HTTP_201_CREATED, response_model=TicketOut)
    def create_ticket(ticket: TicketIn) -> Any:
        created = store.create_ticket(ticket.title, ticket.description, ticket.reporter)
        business.ticket_created()
        return created

    @api.get("/tickets", response_model=list[TicketOut])
    def list_tickets(
        status_filter: str | None = Query(default=None, alias="status", pattern="^(" + "|".join(TICKET_STATUSES) + ")$"),
        limit: int = Query(default=50, ge=1, le=500),
    ) -> Any:
        return store.list_tickets(status_filter, limit)

    @api.get("/tickets/{ticket_id}", response_model=TicketOut)
    def get_ticket(ticket_id: str) -> Any:
        ticket = store.get_ticket(ticket_id)
        if ticket is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such ticket")
        return ticket

    @api.patch("/tickets/{ticket_id}", response_model=TicketOut)
    def update_ticket(ticket_id: str, patch: TicketPatch) -> Any:
        changes = patch.model_dump(exclude_none=True)
        ticket = store.update_ticket(ticket_id, changes) if changes else store.get_ticket(ticket_id)
        if ticket is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such ticket")
        return ticket

    return instrument(api, registry=registry, exclude_routes=EXCLUDED_ROUTES, in_progress=True)


app = create_app()
