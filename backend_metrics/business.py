"""Business counters: tickets created, users registered, authentication attempts.

    from backend_metrics.business import BusinessMetrics
    business = BusinessMetrics()            # global registry; BusinessMetrics(registry=r) in tests
    business.ticket_created()
    business.user_registered()
    business.auth_attempt("success")        # or "failure"; anything else raises ValueError

Every outcome series exists at zero from the start, so a dashboard shows 0, not
"No data", before the first login.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from backend_metrics.factory import get_or_create
from backend_metrics.names import AUTH_ATTEMPTS_TOTAL, AUTH_OUTCOMES, LABEL_OUTCOME, TICKETS_CREATED_TOTAL, USERS_REGISTERED_TOTAL

__all__ = ["BusinessMetrics"]


@dataclass(frozen=True, eq=False)
class _Families:
    tickets: Counter
    users: Counter
    auth: Counter
    auth_children: dict


def _build(registry: CollectorRegistry) -> _Families:
    auth = Counter(
        AUTH_ATTEMPTS_TOTAL,
        "Authentication attempts, by outcome.",
        (LABEL_OUTCOME,),
        registry=registry,
    )
    return _Families(
        tickets=Counter(TICKETS_CREATED_TOTAL, "Tickets created.", registry=registry),
        users=Counter(USERS_REGISTERED_TOTAL, "Users registered.", registry=registry),
        auth=auth,
        auth_children={outcome: auth.labels(outcome) for outcome in AUTH_OUTCOMES},
    )


class BusinessMetrics:
    """The helpdesk's business counters in `registry` (default: the global one).

    Creating it twice for one registry returns counters backed by the same metrics.
    """

    __slots__ = ("_families",)

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._families = get_or_create(registry, "business", _build)

    def ticket_created(self, count: int = 1) -> None:
        self._families.tickets.inc(count)

    def user_registered(self, count: int = 1) -> None:
        self._families.users.inc(count)

    def auth_attempt(self, outcome: str) -> None:
        child = self._families.auth_children.get(outcome)
        if child is None:
            raise ValueError(f"auth outcome must be one of {sorted(AUTH_OUTCOMES)}, got {outcome!r}")
        child.inc()
