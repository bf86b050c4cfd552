"""Reading a rendered prometheus.yml: what each job scrapes, fixed or discovered."""

from __future__ import annotations

__all__ = ["job_targets"]


def job_targets(config: dict) -> dict[str, list[str]]:
    """job name -> its targets as `host:port`: static targets, and each DNS-discovered `name:port`."""
    out: dict[str, list[str]] = {}
    for job in config["scrape_configs"]:
        targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        targets += [f"{name}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
        out[job["job_name"]] = targets
    return out
