"""Where the helpdesk keeps users and tickets: in memory by default, MongoDB when MONGODB_URI is set.

The app only sees the `Store` protocol, so the storage can change without the
routes (or their metrics) noticing.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Protocol

__all__ = ["DuplicateUser", "MemoryStore", "MongoStore", "Store", "TICKET_STATUSES", "store_from_env"]

TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")


class DuplicateUser(Exception):
    """The username is taken."""


class Store(Protocol):
    def create_user(self, username: str, password_hash: str) -> dict[str, Any]: ...
    def get_user(self, username: str) -> dict[str, Any] | None: ...
    def create_ticket(self, title: str, description: str, reporter: str | None) -> dict[str, Any]: ...
    def list_tickets(self, status: str | None, limit: int) -> list[dict[str, Any]]: ...
    def get_ticket(self, ticket_id: str) -> dict[str, Any] | None: ...
    def update_ticket(self, ticket_id: str, changes: dict[str, Any]) -> dict[str, Any] | None: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _new_ticket(title: str, description: str, reporter: str | None) -> dict[str, Any]:
    now = _now()
    return {
        "id": uuid.uuid4().hex,
        "title": title,
        "description": description,
        "reporter": reporter,
        "status": "open",
        "created_at": now,
        "updated_at": now,
    }


class MemoryStore:
    """Thread-safe dictionaries; data lives as long as the process (per worker under gunicorn)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, dict[str, Any]] = {}
        self._tickets: dict[str, dict[str, Any]] = {}

    def create_user(self, username: str, password_hash: str) -> dict[str, Any]:
        with self._lock:
            if username in self._users:
                raise DuplicateUser(username)
            user = {"id": uuid.uuid4().hex, "username": username, "password_hash": password_hash, "created_at": _now()}
            self._users[username] = user
            return dict(user)

    def get_user(self, username: str) -> dict[str, Any] | None:
        with self._lock:
            user = self._users.get(username)
            return dict(user) if user else None

    def create_ticket(self, title: str, description: str, reporter: str | None) -> dict[str, Any]:
        ticket = _new_ticket(title, description, reporter)
        with self._lock:
            self._tickets[ticket["id"]] = ticket
            return dict(ticket)

    def list_tickets(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            tickets = [t for t in self._tickets.values() if status is None or t["status"] == status]
        tickets.sort(key=lambda t: t["created_at"], reverse=True)
        return [dict(t) for t in tickets[:limit]]

    def get_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            return dict(ticket) if ticket else None

    def update_ticket(self, ticket_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is None:
                return None
            ticket.update(changes, updated_at=_now())
            return dict(ticket)


class MongoStore:
    """pymongo collections ``users`` (unique username) and ``tickets`` (``_id`` is the ticket id).

    `client` is a ``pymongo.MongoClient`` (or mongomock's in tests); the database is the
    URI's default database, else ``helpdesk``.  Indexes are created on first use, so
    building the app never waits for the server.
    """

    def __init__(self, client: Any, database: str | None = None) -> None:
        if database is None:
            try:
                database = client.get_default_database().name
            except Exception:
                database = "helpdesk"
        self._db = client[database]
        self._indexed = False

    def _ensure_indexes(self) -> None:
        if not self._indexed:
            self._db.users.create_index("username", unique=True)
            self._db.tickets.create_index([("status", 1), ("created_at", -1)])
            self._indexed = True

    @staticmethod
    def _public(doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is None:
            return None
        doc = dict(doc)
        doc["id"] = doc.pop("_id")
        return doc

    def create_user(self, username: str, password_hash: str) -> dict[str, Any]:
        from pymongo.errors import DuplicateKeyError

        self._ensure_indexes()
        doc = {"_id": uuid.uuid4().hex, "username": username, "password_hash": password_hash, "created_at": _now()}
        try:
            self._db.users.insert_one(doc)
        except DuplicateKeyError as err:
            raise DuplicateUser(username) from err
        return self._public(doc)

    def get_user(self, username: str) -> dict[str, Any] | None:
        self._ensure_indexes()
        return self._public(self._db.users.find_one({"username": username}))

    def create_ticket(self, title: str, description: str, reporter: str | None) -> dict[str, Any]:
        self._ensure_indexes()
        ticket = _new_ticket(title, description, reporter)
        doc = dict(ticket)
        doc["_id"] = doc.pop("id")
        self._db.tickets.insert_one(doc)
        return ticket

    def list_tickets(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        self._ensure_indexes()
        query = {} if status is None else {"status": status}
        cursor = self._db.tickets.find(query).sort("created_at", -1).limit(limit)
        return [self._public(doc) for doc in cursor]

    def get_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        self._ensure_indexes()
        return self._public(self._db.tickets.find_one({"_id": ticket_id}))

    def update_ticket(self, ticket_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        from pymongo import ReturnDocument

        self._ensure_indexes()
        doc = self._db.tickets.find_one_and_update(
            {"_id": ticket_id}, {"$set": {**changes, "updated_at": _now()}}, return_document=ReturnDocument.AFTER
        )
        return self._public(doc)


def store_from_env(environ: dict[str, str] | None = None) -> Store:
    """MongoStore when ``MONGODB_URI`` is set, else MemoryStore."""
    environ = os.environ if environ is None else environ
    uri = environ.get("MONGODB_URI")
    if not uri:
        return MemoryStore()
    from pymongo import MongoClient

    return MongoStore(MongoClient(uri, serverSelectionTimeoutMS=5000, appname="helpdesk"))
