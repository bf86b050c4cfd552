"""Prometheus' command line for a stack: server or agent mode, spelled for the image's version.

Agent mode is `--enable-feature=agent` in Prometheus 2.x (2.32 and newer) and `--agent` in 3.x;
the version is read from the image tag (`prom/prometheus:v3.5.0`, `...:2.42.0`), so an agent
needs a tagged image.  Pure: settings in, a list of flags out.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ["AGENT_MIN_VERSION", "image_version", "prometheus_command"]

AGENT_MIN_VERSION = (2, 32)
_TAG_VERSION_RE = re.compile(r":v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][A-Za-z0-9_.-]*)?(?:@sha256:[a-f0-9]{64})?$")


def image_version(image: str) -> Optional[tuple[int, int]]:
    """(major, minor) from the image's tag, or None when the tag is no version."""
    match = _TAG_VERSION_RE.search(image)
    return (int(match[1]), int(match[2])) if match else None


def agent_flag(image: str) -> str:
    """The flag that starts this image's Prometheus in agent mode; ValueError naming prometheus.image."""
    version = image_version(image)
    if version is None:
        raise ValueError(
            f"prometheus.image {image!r}: agent mode needs a version tag (the flag differs: "
            "--enable-feature=agent in 2.x, --agent in 3.x)"
        )
    if version < AGENT_MIN_VERSION:
        raise ValueError(f"prometheus.image {image!r}: agent mode needs Prometheus 2.32 or newer")
    return "--agent" if version[0] >= 3 else "--enable-feature=agent"


def prometheus_command(
    *,
    image: str,
    mode: str,
    config_file: str,
    data_path: str,
    listen_address: str,
    retention_time: str,
    retention_size: Optional[str],
) -> list[str]:
    command = [f"--config.file={config_file}", f"--web.listen-address={listen_address}"]
    if mode == "agent":
        # Agent mode keeps only a WAL (until remote write has sent it) and refuses TSDB flags.
        command += [agent_flag(image), f"--storage.agent.path={data_path}"]
    else:
        command += [f"--storage.tsdb.path={data_path}", f"--storage.tsdb.retention.time={retention_time}"]
        if retention_size:
            command.append(f"--storage.tsdb.retention.size={retention_size}")
    return command
