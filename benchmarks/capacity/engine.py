"""The few Docker Engine API calls the capacity benchmark makes, over the engine's unix socket.

Standard library only, like the e2e tests' client (tests/e2e/engine.py), which product code may
not import; this one holds only what the benchmark needs.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from typing import Any, Optional

__all__ = ["Engine", "EngineError"]

API_VERSION = "v1.41"  # Docker Engine 20.10 (Debian 12's docker.io) and newer


class EngineError(RuntimeError):
    def __init__(self, status: int, message: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class Engine:
    def __init__(self, socket_path: Optional[str] = None, timeout: float = 120.0) -> None:
        host = os.environ.get("DOCKER_HOST", "")
        self.socket_path = socket_path or (host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock")
        self.timeout = timeout

    def request(self, method: str, path: str, *, query: Optional[dict] = None, body: Any = None,
                data: Optional[bytes] = None, content_type: str = "application/json") -> Any:
        url = f"/{API_VERSION}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        payload = data if data is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": content_type} if payload is not None else {}
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            conn.request(method, url, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            try:
                message = json.loads(raw).get("message", raw.decode(errors="replace"))
            except ValueError:
                message = raw.decode(errors="replace")
            raise EngineError(response.status, message, method, path)
        if raw and response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(raw)
        return raw or None

    def ping(self) -> bool:
        try:
            return self.request("GET", "/_ping") == b"OK"
        except (OSError, EngineError):
            return False

    def has_image(self, name: str) -> bool:
        try:
            self.request("GET", f"/images/{self._quoted(name)}/json")
        except EngineError as err:
            if err.status == 404:
                return False
            raise
        return True

    def _quoted(self, name: str) -> str:
        return urllib.parse.quote(name, safe="")

    def create_network(self, spec: dict) -> str:
        return self.request("POST", "/networks/create", body=spec)["Id"]

    def networks(self, label: str) -> list[dict]:
        return self.request("GET", "/networks", query={"filters": json.dumps({"label": [label]})}) or []

    def remove_network(self, name_or_id: str) -> None:
        self.request("DELETE", f"/networks/{self._quoted(name_or_id)}")

    def containers(self, label: str) -> list[dict]:
        return self.request("GET", "/containers/json", query={"all": "1", "filters": json.dumps({"label": [label]})})

    def container(self, name_or_id: str) -> dict:
        return self.request("GET", f"/containers/{self._quoted(name_or_id)}/json")

    def create_container(self, name: str, spec: dict) -> str:
        return self.request("POST", "/containers/create", query={"name": name}, body=spec)["Id"]

    def put_archive(self, container: str, path: str, tar_bytes: bytes) -> None:
        self.request("PUT", f"/containers/{container}/archive", query={"path": path}, data=tar_bytes,
                     content_type="application/x-tar")

    def start(self, container: str) -> None:
        self.request("POST", f"/containers/{container}/start")

    def stats(self, container: str) -> dict:
        return self.request("GET", f"/containers/{container}/stats", query={"stream": "false"})

    def remove_container(self, container: str) -> None:
        self.request("DELETE", f"/containers/{container}", query={"force": "1", "v": "1"})
