"""What the catalogue knows of one service, and the scrape job it asks Prometheus for.

A `Service` is plain data: no Pulumi, no grafanalib. The stack turns it into containers and
scrape configs, the dashboards into panels, the tests into parametrised cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .rules import AlertRule, RecordingRule

__all__ = ["NODE_LABEL", "ScrapeJob", "Service", "Threshold"]

# The target label that names the node a target runs on. Only Swarm service discovery
# (swarm.nodeNameLabels) sets it; on one engine, and on Swarm with DNS discovery, no target has it.
# The Containers dashboard selects on it; stack/swarm/render.py writes it (swarm.nodeNameLabels).
NODE_LABEL = "node"


@dataclass(frozen=True)
class Threshold:
    """A level on a scale: the dashboards colour by it and an alert fires past it (one number, two readers)."""

    warning: float
    critical: float

    def steps(self, base: str = "green") -> tuple[tuple[str, Optional[float]], ...]:
        """Grafana colour steps: base, orange at the warning level, red at the critical level."""
        return ((base, None), ("orange", self.warning), ("red", self.critical))


@dataclass(frozen=True)
class ScrapeJob:
    """One Prometheus scrape job.

    - `targets`: fixed `host:port` targets, scraped as written.
    - `discovered`: `(name, port)` pairs: every A record of `name` is a target on `port`, looked up
      again at every refresh, so each replica behind a Docker network alias (Compose `--scale`,
      several containers sharing an alias, Swarm's `tasks.<service>`) is scraped on its own.
    """

    job_name: str
    targets: tuple[str, ...] = ()
    discovered: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Service:
    """One service of the stack or the app, as the catalogue describes it.

    - `name`: the service's name: its Prometheus job, its network alias and its container's suffix.
    - `settings_key`: the attribute of the stack settings holding its settings (with `.enabled`),
      or None for services that are always on (Prometheus itself, the app's backend).
    - `port`: the port it listens on inside its container (None when it has none of its own).
    - `scrape`: settings -> its scrape job, or None when Prometheus does not scrape it.
    - `alert_rules`: () -> its alerting rules.
    - `settings_alert_rules`: settings -> alerting rules built from configured limits.
    - `recording_rules`: () -> the series it precomputes for dashboards (named level:metric:operations).
    - `expected_series`: the active series one of its targets usually exposes (sizing estimate).
    - `dashboard`: the module under `dashboards/` that shows it, if any.
    - `deployed`: whether the stack runs a container for it (the backend is the app's own).
    """

    name: str
    settings_key: Optional[str] = None
    port: Optional[int] = None
    scrape: Optional[Callable[[Any], ScrapeJob]] = None
    alert_rules: Callable[[], list[AlertRule]] = field(default=lambda: [])
    # Alert rules whose thresholds come from the settings (a configured limit as a rule constant).
    settings_alert_rules: Callable[[Any], list[AlertRule]] = field(default=lambda settings: [])
    recording_rules: Callable[[], list[RecordingRule]] = field(default=lambda: [])
    # Active series one of its targets usually exposes (an estimate for sizing; see stack/sizing.py).
    expected_series: int = 0
    dashboard: Optional[str] = None
    deployed: bool = True

    @property
    def job(self) -> str:
        return self.name

    @property
    def alias(self) -> str:
        """The network alias under which Prometheus and Grafana reach it."""
        return self.name

    def enabled(self, settings: Any) -> bool:
        """On unless its settings say `enabled: false` (services without settings are always on)."""
        if self.settings_key is None:
            return True
        return bool(getattr(getattr(settings, self.settings_key), "enabled", True))
