"""The capacity table, the growth fits and the published estimates beside them.  Pure: records in, text out."""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["PUBLISHED", "SIZING_SERIES", "fit", "growth", "render_growth", "render_sizing", "render_table", "sizing"]

KIB = 1024
# Published memory estimates per active series for Prometheus 2.x, in bytes.
PUBLISHED = (
    ("sizing calculators, low end (2 KiB/series)", 2 * KIB),
    ("Robust Perception: ~1M series in ~2 GiB", 2 * 1024**3 / 1_000_000),
    ("sizing calculators, high end (7.5 KiB/series)", 7.5 * KIB),
)


def fit(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float] | None:
    """Least squares y = intercept + slope * x, R², and the log-log exponent (1.0: linear growth)."""
    points = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in points)
    logs = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    exponent = None
    if len(logs) >= 2:
        lx = sum(a for a, _ in logs) / len(logs)
        ly = sum(b for _, b in logs) / len(logs)
        lxx = sum((a - lx) ** 2 for a, _ in logs)
        exponent = sum((a - lx) * (b - ly) for a, b in logs) / lxx if lxx else None
    return {"slope": slope, "intercept": intercept, "r2": 1 - ss_res / ss_tot if ss_tot else 1.0,
            "exponent": exponent}


def _dashboard_total(record: dict, suffix: str) -> float | None:
    loads = [v["load_s"] for k, v in record.get("dashboards", {}).items() if k.endswith(suffix)]
    return max(loads) if loads else None


def growth(records: list[dict], ranges: Sequence[str]) -> dict[str, Any]:
    xs = [r["head_series"] for r in records]
    out = {
        "rss_bytes": fit(xs, [r["rss_bytes"] for r in records]),
        "working_set_bytes": fit(xs, [r["working_set_bytes"] for r in records]),
        "disk_bytes_per_day": fit(xs, [r.get("disk_bytes_per_day") for r in records]),
    }
    for name in ranges:
        out[f"slowest_dashboard_load_s@{name}"] = fit(xs, [_dashboard_total(r, f"@{name}") for r in records])
    return out


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def render_table(records: list[dict], ranges: Sequence[str]) -> str:
    header = ["active series", "RSS MiB", "working set MiB", "bytes/series", "scrape p99 ms",
              "rule group ms", "samples/s", "disk B/sample", "disk MiB/day", "history h"]
    header += [f"slowest dashboard {r} ms" for r in ranges]
    rows = [header, ["---:"] * len(header)]
    for r in records:
        disk = r.get("disk", {})
        row = [
            f"{r['head_series']:,}", _mib(r["rss_bytes"]), _mib(r["working_set_bytes"]),
            f"{r['bytes_per_series']:,.0f}" if r.get("bytes_per_series") else "-",
            _ms(r["scrape_duration_p99_s"]), _ms(r["rule_group_duration_max_s"]),
            f"{r['ingestion_samples_per_s']:,.0f}",
            f"{disk['bytes_per_sample']:.2f}" if disk.get("bytes_per_sample") else "-",
            _mib(r.get("disk_bytes_per_day")),
            f"{r['history']['history_s'] / 3600:.1f}",
        ]
        row += [_ms(_dashboard_total(r, f"@{name}")) for name in ranges]
        if r.get("oom_killed"):
            row[1] += " (OOM)"
        rows.append(row)
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines[1] = "|" + "|".join(["---:"] * len(header)) + "|"
    dashboards = ["", "Dashboard loads (median of repeats; all queries, Grafana's step for 1,920 px):", ""]
    dash_header = ["active series", "dashboard", "range", "load ms", "queries", "sum of queries ms", "slowest ms",
                   "data covered h"]
    dashboards.append("| " + " | ".join(dash_header) + " |")
    dashboards.append("|" + "|".join(["---"] * len(dash_header)) + "|")
    for r in records:
        for key, v in sorted(r.get("dashboards", {}).items()):
            name, rng = key.rsplit("@", 1)
            dashboards.append(f"| {r['head_series']:,} | {name} | {rng} | {v['load_s'] * 1000:,.0f} | {v['queries']} "
                              f"| {v['sum_of_queries_s'] * 1000:,.0f} | {v['slowest_s'] * 1000:,.0f} "
                              f"| {v['history_covered_s'] / 3600:.1f} |")
    return "\n".join(lines + dashboards)


def render_growth(growth_fits: dict[str, Any]) -> str:
    lines = ["| quantity | per active series | fixed part | R² | log-log exponent (1 = linear) |",
             "|---|---:|---:|---:|---:|"]
    units = {"rss_bytes": ("bytes", 1), "working_set_bytes": ("bytes", 1), "disk_bytes_per_day": ("bytes/day", 1)}
    for name, f in growth_fits.items():
        if not f:
            lines.append(f"| {name} | - | - | - | - |")
            continue
        unit = units.get(name, ("s", 1))[0]
        if unit == "s":
            per, fixed = f"{f['slope'] * 1e6:.3f} ms per 1k series", f"{f['intercept'] * 1000:,.0f} ms"
        else:
            per, fixed = f"{f['slope']:,.0f} {unit}", f"{f['intercept'] / 2**20:,.0f} MiB"
        exponent = "-" if f["exponent"] is None else f"{f['exponent']:.2f}"
        lines.append(f"| {name} | {per} | {fixed} | {f['r2']:.3f} | {exponent} |")
    rss = growth_fits.get("rss_bytes")
    lines += ["", "| memory per active series | bytes |", "|---|---:|"]
    if rss:
        lines.append(f"| **measured here (RSS slope)** | **{rss['slope']:,.0f}** |")
    for label, value in PUBLISHED:
        lines.append(f"| {label} | {value:,.0f} |")
    return "\n".join(lines)


# The rows of the sizing table: active series a team might run.
SIZING_SERIES = (10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000)
_MEMORY_STEP = 256 * 2**20


def sizing(records: list[dict], growth_fits: dict[str, Any], *, headroom: float, retention_bytes: int,
           scrape_interval_s: float, series: Sequence[int] = SIZING_SERIES) -> list[dict]:
    """series -> memory limit (the RSS fit times `headroom`, rounded up to 256 MiB), disk per day
    (the run's bytes per sample on disk times samples a day) and the days `retention_bytes` holds."""
    rss = growth_fits.get("rss_bytes")
    with_blocks = [r for r in records if r.get("disk", {}).get("bytes_per_sample")]
    if not rss or not with_blocks:
        return []
    # The step with the longest history per series: its blocks are compacted the furthest, as a
    # Prometheus that has run for days has them (short histories carry a whole index per few samples).
    longest = max(with_blocks, key=lambda r: r["disk"]["block_samples"] / max(1, r["head_series"]))
    bytes_per_sample = longest["disk"]["bytes_per_sample"]
    rows = []
    for n in series:
        steady = rss["intercept"] + rss["slope"] * n
        limit = math.ceil(steady * headroom / _MEMORY_STEP) * _MEMORY_STEP
        per_day = n * 86400 / scrape_interval_s * bytes_per_sample
        rows.append({"series": n, "steady_rss_bytes": steady, "memory_limit_bytes": limit,
                     "disk_bytes_per_day": per_day, "retention_days": retention_bytes / per_day,
                     "measured": any(abs(r["head_series"] - n) / n < 0.25 for r in records)})
    return rows


def render_sizing(rows: list[dict], *, headroom: float, retention_text: str) -> str:
    lines = [f"| active series | steady RSS (fit) | memory limit (x{headroom:g}, 256 MiB steps) | disk per day "
             f"| retention that fits {retention_text} |", "|---:|---:|---:|---:|---:|"]
    for row in rows:
        mark = "" if row["measured"] else " (extrapolated)"
        lines.append(f"| {row['series']:,}{mark} | {row['steady_rss_bytes'] / 2**20:,.0f} MiB "
                     f"| {row['memory_limit_bytes'] / 2**20:,.0f} MiB | {row['disk_bytes_per_day'] / 2**30:,.2f} GiB "
                     f"| {row['retention_days']:,.1f} days |")
    return "\n".join(lines)
