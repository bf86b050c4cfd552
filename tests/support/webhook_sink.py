"""A small HTTP sink that records what Alertmanager's webhook receivers POST to it.

Bound to one address the tests choose (the Docker network's gateway, so a container reaches it
and nothing beyond this machine does); started and stopped by the tests.

    sink = WebhookSink("172.18.0.1").start()
    sink.url("/alerts")                       # what the webhook receiver is configured with
    sink.wait_for(lambda n: ..., timeout=90)  # the first matching notification
    sink.stop()
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

__all__ = ["Notification", "WebhookSink"]


@dataclass(frozen=True)
class Notification:
    """One POST: when it arrived, its path, its Authorization header and its JSON body."""

    received_at: float
    path: str
    authorization: Optional[str]
    body: dict

    @property
    def status(self) -> str:
        return self.body.get("status", "")

    def alerts(self, **labels: str) -> list[dict]:
        """The alerts of this notification whose labels include `labels`."""
        return [a for a in self.body.get("alerts", []) if all(a["labels"].get(k) == v for k, v in labels.items())]


class WebhookSink:
    def __init__(self, host: str, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"unparsed": raw.decode(errors="replace")}
                with sink._lock:
                    sink._received.append(Notification(time.time(), self.path, self.headers.get("Authorization"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-sink", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    def url(self, path: str = "/") -> str:
        host, port = self.address
        return f"http://{host}:{port}{path}"

    def start(self) -> "WebhookSink":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, since: float = 0.0) -> list[Notification]:
        with self._lock:
            return [n for n in self._received if n.received_at >= since]

    def wait_for(
        self, predicate: Callable[[Notification], bool], *, timeout: float, since: float = 0.0
    ) -> Notification:
        """The first notification (received at or after `since`) matching `predicate`."""
        deadline = time.monotonic() + timeout
        while True:
            for notification in self.received(since):
                if predicate(notification):
                    return notification
            if time.monotonic() > deadline:
                seen = [(n.path, n.status, [a["labels"].get("alertname") for a in n.body.get("alerts", [])]) for n in self.received(since)]
                raise AssertionError(f"no matching notification within {timeout}s; received: {seen[-20:]}")
            time.sleep(0.25)
