"""Calling an ASGI app in-process, without a server or an HTTP client library."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    status: int | None
    headers: dict[str, str]
    body: bytes
    messages: list[dict] = field(default_factory=list)


def make_scope(method: str, path: str, headers: Mapping[str, str] | None = None, root_path: str = "") -> dict[str, Any]:
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query.encode(),
        "root_path": root_path,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def acall(
    app: Any, method: str, path: str, *, headers=None, body: bytes = b"", root_path: str = "", disconnect_after_body: bool = False
) -> Answer:
    scope = make_scope(method, path, headers, root_path)
    sent_request = False
    messages: list[dict] = []
    forever = asyncio.Event()

    async def receive() -> dict:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": body, "more_body": False}
        if disconnect_after_body:
            return {"type": "http.disconnect"}
        await forever.wait()
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    return Answer(
        status=start["status"] if start else None,
        headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in (start or {}).get("headers", [])},
        body=b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body"),
        messages=messages,
    )


def call(app: Any, method: str, path: str, **kwargs: Any) -> Answer:
    return asyncio.run(acall(app, method, path, **kwargs))
