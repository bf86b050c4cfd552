"""A small client of the Docker Engine API over its unix socket (only what the e2e tests use).

The pulumi-docker provider talks to the same API (through the Go client), so requests here
carry the same structures (`Config`, `HostConfig`, endpoint settings) the provider sends,
without going through the docker CLI's flag parsing.  Standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.parse
from typing import Any, Optional

__all__ = ["Engine", "EngineError", "NotFound"]

API_VERSION = "v1.41"  # Docker Engine 20.10 (Debian 12's docker.io) and newer


class EngineError(RuntimeError):
    def __init__(self, status: int, message: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.message = message


class NotFound(EngineError):
    pass


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

    # --- transport ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[dict] = None,
        body: Any = None,
        data: Optional[bytes] = None,
        content_type: str = "application/json",
    ) -> Any:
        url = f"/{API_VERSION}{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
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
            error = NotFound if response.status == 404 else EngineError
            raise error(response.status, message, method, path)
        if not raw:
            return None
        if response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(raw)
        return raw

    def ping(self) -> bool:
        try:
            return self.request("GET", "/_ping") == b"OK"
        except (OSError, EngineError):
            return False

    # --- images ---------------------------------------------------------------------------------

    def image(self, name: str) -> dict:
        return self.request("GET", f"/images/{urllib.parse.quote(name, safe='')}/json")

    # --- networks -------------------------------------------------------------------------------

    def network(self, name_or_id: str) -> dict:
        return self.request("GET", f"/networks/{urllib.parse.quote(name_or_id, safe='')}")

    def create_network(self, spec: dict) -> str:
        return self.request("POST", "/networks/create", body=spec)["Id"]

    def remove_network(self, name_or_id: str) -> None:
        self.request("DELETE", f"/networks/{urllib.parse.quote(name_or_id, safe='')}")

    def connect(self, network: str, container: str, endpoint: dict) -> None:
        self.request(
            "POST",
            f"/networks/{urllib.parse.quote(network, safe='')}/connect",
            body={"Container": container, "EndpointConfig": endpoint},
        )

    def disconnect(self, network: str, container: str) -> None:
        self.request(
            "POST",
            f"/networks/{urllib.parse.quote(network, safe='')}/disconnect",
            body={"Container": container, "Force": False},
        )

    # --- volumes --------------------------------------------------------------------------------

    def volume(self, name: str) -> dict:
        return self.request("GET", f"/volumes/{urllib.parse.quote(name, safe='')}")

    def create_volume(self, spec: dict) -> dict:
        return self.request("POST", "/volumes/create", body=spec)

    def remove_volume(self, name: str) -> None:
        self.request("DELETE", f"/volumes/{urllib.parse.quote(name, safe='')}")

    def volumes(self, label: Optional[str] = None) -> list[dict]:
        query = {"filters": json.dumps({"label": [label]})} if label else None
        return self.request("GET", "/volumes", query=query)["Volumes"] or []

    # --- containers -----------------------------------------------------------------------------

    def container(self, name_or_id: str) -> dict:
        return self.request("GET", f"/containers/{urllib.parse.quote(name_or_id, safe='')}/json")

    def containers(self, label: Optional[str] = None) -> list[dict]:
        query = {"all": "1"}
        if label:
            query["filters"] = json.dumps({"label": [label]})
        return self.request("GET", "/containers/json", query=query)

    def create_container(self, name: str, spec: dict) -> str:
        return self.request("POST", "/containers/create", query={"name": name}, body=spec)["Id"]

    def put_archive(self, container: str, path: str, tar_bytes: bytes) -> None:
        self.request(
            "PUT",
            f"/containers/{container}/archive",
            query={"path": path},
            data=tar_bytes,
            content_type="application/x-tar",
        )

    def start(self, container: str) -> None:
        self.request("POST", f"/containers/{container}/start")

    def stop(self, container: str, timeout: int = 10) -> None:
        self.request("POST", f"/containers/{container}/stop", query={"t": str(timeout)})

    def restart(self, container: str, timeout: int = 10) -> None:
        self.request("POST", f"/containers/{container}/restart", query={"t": str(timeout)})

    def update_container(self, container: str, spec: dict) -> None:
        self.request("POST", f"/containers/{container}/update", body=spec)

    def remove_container(self, container: str, *, volumes: bool = True) -> None:
        self.request(
            "DELETE", f"/containers/{container}", query={"force": "1", "v": "1" if volumes else "0"}
        )

    def logs(self, container: str, tail: int = 40) -> str:
        raw = self.request(
            "GET", f"/containers/{container}/logs", query={"stdout": "1", "stderr": "1", "tail": str(tail)}
        )
        return _demux(raw or b"")

    def wait_running(self, container: str, timeout: float) -> dict:
        """Inspect until the container runs (or has stopped for good); return the last inspect."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.container(container)
            if state["State"]["Running"] or time.monotonic() > deadline:
                return state
            if state["State"]["Status"] in ("exited", "dead"):
                return state
            time.sleep(0.2)


def _demux(raw: bytes) -> str:
    """Docker's multiplexed log stream (8-byte frame headers) as text."""
    out, i = [], 0
    while i + 8 <= len(raw) and raw[i] in (0, 1, 2) and raw[i + 1 : i + 4] == b"\0\0\0":
        size = int.from_bytes(raw[i + 4 : i + 8], "big")
        out.append(raw[i + 8 : i + 8 + size])
        i += 8 + size
    if i < len(raw):
        out.append(raw[i:])
    return b"".join(out).decode(errors="replace")
