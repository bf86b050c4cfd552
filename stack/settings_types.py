"""Value types shared by the settings models: pinned images, durations, sizes, addresses, names.

Kept apart from `stack.settings` so that the settings of one concern (for example
`stack.alerting_settings`) can use them without importing the whole model.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "ByteSize",
    "DockerName",
    "Duration",
    "IPAddress",
    "Image",
    "MemoryMb",
    "Port",
    "ScrapeTarget",
    "parse_duration_seconds",
]

# --- value checks -------------------------------------------------------------------------------

# Docker's reference grammar (distribution/reference), reduced to what a pinned image needs.
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9-]+:[0-9]+|(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+:[0-9]+)"
_IMAGE_RE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _pinned_image(value: str) -> str:
    match = _IMAGE_RE.match(value)
    if not match:
        raise ValueError(
            f"{value!r} is not a valid image reference (expected name:tag or name@sha256:<64 hex>)"
        )
    if not match["tag"] and not match["digest"]:
        raise ValueError(f"{value!r} is not pinned: add a version tag or a digest")
    if match["tag"] == "latest" and not match["digest"]:
        raise ValueError(f"{value!r} is not pinned: ':latest' moves; use a version tag")
    return value


_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def parse_duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as `15s`, `1h30m` or `15d`; ValueError otherwise."""
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if not value or not match:
        raise ValueError(f"{value!r} is not a Prometheus duration (examples: 15s, 1m, 15d, 1h30m)")
    return sum(int(n) * unit for n, unit in zip(match.groups(), _DURATION_UNITS) if n)


def _positive_duration(value: str) -> str:
    if parse_duration_seconds(value) <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return value


_SIZE_RE = re.compile(r"^[1-9][0-9]*(B|KB|MB|GB|TB|PB|EB)$")


def _byte_size(value: str) -> str:
    if not _SIZE_RE.match(value):
        raise ValueError(f"{value!r} is not a positive size with a unit (examples: 512MB, 10GB)")
    return value


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (example: 127.0.0.1)") from None


def _ipv4_address(value: str) -> str:
    # The address goes into Prometheus' /etc/hosts (`hosts`), which pulumi-docker reads back
    # by splitting "host:ip" on ':' (terraform-provider-docker flattenExtraHosts): an IPv6
    # address would come back cut and replace Prometheus on every `pulumi up`.
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IPv4 address (example: 172.17.0.1, the docker0 gateway); "
            "IPv6 is not supported here"
        ) from None


_DOCKER_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")


def _docker_name(value: str) -> str:
    if not _DOCKER_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid Docker name (letters, digits, '_', '.', '-'; at most 63)"
        )
    return value


_HOSTNAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
_TARGET_RE = re.compile(rf"^(?P<host>{_HOSTNAME}):(?P<port>[0-9]{{1,5}})$")


def _scrape_target(value: str) -> str:
    match = _TARGET_RE.match(value)
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise ValueError(f"{value!r} is not a scrape target of the form service:port (example: backend:8000)")
    return value


Image = Annotated[str, AfterValidator(_pinned_image)]
Duration = Annotated[str, AfterValidator(_positive_duration)]
ByteSize = Annotated[str, AfterValidator(_byte_size)]
IPAddress = Annotated[str, AfterValidator(_ip_address)]
IPv4Address = Annotated[str, AfterValidator(_ipv4_address)]
DockerName = Annotated[str, AfterValidator(_docker_name)]
ScrapeTarget = Annotated[str, AfterValidator(_scrape_target)]
Port = Annotated[int, Field(ge=1, le=65535)]
MemoryMb = Annotated[int, Field(ge=32, le=1024 * 1024, description="memory limit in MiB")]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=False,
        alias_generator=to_camel,
        populate_by_name=True,
        hide_input_in_errors=True,
    )
