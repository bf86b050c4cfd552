"""Prometheus itself: its port, its self-scrape, and the alert every target shares (TargetDown)."""

from __future__ import annotations

from typing import Any

from .rules import AlertRule
from .service import ScrapeJob, Service

__all__ = ["JOB", "PORT", "SERVICE", "alert_rules", "scrape_job"]

JOB = "prometheus"
PORT = 9090  # the image's default listen port inside the container
TARGET_DOWN_FOR = "2m"


def scrape_job(settings: Any) -> ScrapeJob:
    return ScrapeJob(JOB, (f"localhost:{PORT}",))


def alert_rules() -> list[AlertRule]:
    return [
        AlertRule(
            "TargetDown",
            "up == 0",
            TARGET_DOWN_FOR,
            "critical",
            "Prometheus cannot scrape a target",
            f"{{{{ $labels.job }}}} at {{{{ $labels.instance }}}} has been down for {_minutes(TARGET_DOWN_FOR)}.",
        )
    ]


def _minutes(duration: str) -> str:
    count = int(duration.removesuffix("m"))
    return f"{count} minute{'s' if count != 1 else ''}"


SERVICE = Service(JOB, port=PORT, scrape=scrape_job, alert_rules=alert_rules)
