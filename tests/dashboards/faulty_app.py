"""The example helpdesk backend with one injected fault, for the dashboards' live tests.

The real app (examples.helpdesk.app) never fails on purpose, but the Backend API
dashboard must be shown to display 5xx errors.  This app is ``create_app`` with a
store whose ticket creation raises for one magic title: the instrumentation counts
the unhandled exception as status 500, exactly as a real store failure would be.
Everything else (routes, metrics, business counters) is the example app's own.

Serve it with: uvicorn tests.dashboards.faulty_app:app
"""

from __future__ import annotations

from typing import Any

from examples.helpdesk.app import create_app
from examples.helpdesk.store import MemoryStore

__all__ = ["FAILING_TITLE", "FaultyStore", "app"]

FAILING_TITLE = "fail-this-ticket"


class FaultyStore(MemoryStore):
    def create_ticket(self, title: str, description: str, reporter: str | None) -> dict[str, Any]:
        if title == FAILING_TITLE:
            raise RuntimeError("ticket store failure injected by tests/dashboards")
        return super().create_ticket(title, description, reporter)


app = create_app(store=FaultyStore())
