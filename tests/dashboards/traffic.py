"""Traffic against the helpdesk backend that exercises every Backend API panel:
successes, 4xx and 5xx errors, ticket creation, registrations, good and failed logins."""

from __future__ import annotations

import itertools
import threading
from collections import Counter

import httpx

from tests.dashboards.faulty_app import FAILING_TITLE

__all__ = ["one_round", "BackgroundTraffic"]


def one_round(client: httpx.Client, n: int) -> Counter:
    """One pass over every route; returns the status codes seen."""
    seen: Counter = Counter()

    def hit(method: str, path: str, **kwargs) -> httpx.Response:
        response = client.request(method, path, **kwargs)
        seen[response.status_code] += 1
        return response

    user = f"user{n}"
    hit("POST", "/users", json={"username": user, "password": "correct-horse"})  # 201
    hit("POST", "/users", json={"username": user, "password": "correct-horse"})  # 409 taken
    hit("POST", "/users", json={"username": "x", "password": "short"})  # 422 invalid
    hit("POST", "/auth/login", json={"username": user, "password": "correct-horse"})  # 200
    hit("POST", "/auth/login", json={"username": user, "password": "wrong-password"})  # 401
    created = hit("POST", "/tickets", json={"title": f"printer {n} is on fire", "reporter": user})  # 201
    # 500 (injected store failure); uvicorn drops the connection after an unhandled error, so don't reuse it
    hit("POST", "/tickets", json={"title": FAILING_TITLE}, headers={"Connection": "close"})
    hit("GET", "/tickets", params={"limit": 10})  # 200
    if created.status_code == 201:
        ticket_id = created.json()["id"]
        hit("GET", f"/tickets/{ticket_id}")  # 200
        hit("PATCH", f"/tickets/{ticket_id}", json={"status": "closed"})  # 200 or 422 if not a status
    hit("GET", "/tickets/does-not-exist")  # 404
    hit("GET", "/no/such/route")  # 404, unmatched
    return seen


class BackgroundTraffic:
    """Sends rounds of traffic from a thread until stopped, so every rate window has requests."""

    def __init__(self, base_url: str, pause: float = 0.2) -> None:
        self.base_url = base_url
        self.pause = pause
        self.statuses: Counter = Counter()
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-traffic", daemon=True)

    def _run(self) -> None:
        try:
            with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
                for n in itertools.count():
                    self.statuses.update(one_round(client, n))
                    if self._stop.wait(self.pause):
                        return
        except BaseException as err:  # reported by the test, not lost in the thread
            self.errors.append(err)

    def __enter__(self) -> "BackgroundTraffic":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
