"""Rendering a registry for a scraper: format and compression negotiation.

The text format by default, OpenMetrics when the ``Accept`` header asks for it
(prometheus_client's own negotiation), gzip at level 1 when ``Accept-Encoding``
allows it (Prometheus always does; level 1 is several times faster than the
default 9 and compresses this repetitive text almost as well), and
``name[]=...`` query filters as prometheus_client's handlers support.  The
frameworks' apps (asgi.py, wsgi.py) only move bytes.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from backend_metrics.factory import resolve_registry
from backend_metrics.multiprocess import multiprocess_dir, scrape_registry

__all__ = ["GZIP_LEVEL", "render", "scrape_source"]

GZIP_LEVEL = 1


def scrape_source(registry: CollectorRegistry | None) -> CollectorRegistry:
    """What one scrape reads: `registry` if given; else, in multiprocess mode, a fresh
    registry over every worker's files; else the global registry."""
    if registry is None and multiprocess_dir() is not None:
        return scrape_registry()
    return resolve_registry(registry)


def render(
    registry: CollectorRegistry | None = None,
    *,
    accept: str | None = None,
    accept_encoding: str | None = None,
    params: Mapping[str, Sequence[str]] | None = None,
    compress: bool = True,
    gzip_level: int = GZIP_LEVEL,
) -> tuple[bytes, list[tuple[str, str]]]:
    """Render one scrape; returns (body, headers).  Blocking: call it off the event loop."""
    source = scrape_source(registry)
    encoder, content_type = choose_encoder(accept or "")
    names = (params or {}).get("name[]")
    if names:
        source = source.restricted_registry(list(names))
    body = encoder(source)
    headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
    if compress and gzip_accepted(accept_encoding or ""):
        body = gzip.compress(body, compresslevel=gzip_level)
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    return body, headers
