"""Per-request overhead of HTTP instrumentation, and /metrics rendering cost.

    python3 -m benchmarks.bench_overhead [--rounds 150] [--requests 300] [--without-peers]

Every variant is the same Starlette app (one route with a path parameter),
called in-process as an ASGI app with a minimal scope/receive/send: no network,
no server, so the instrumentation is what differs.  Rounds are interleaved (the
variants run in a new random order every round) and each variant's overhead is
its time minus the bare app's time in the same round; the table shows medians.

The floor is what any Prometheus instrumentation must pay at least: one
labelled ``Counter.inc`` plus one ``Histogram.observe`` on cached children,
measured in the same request loop (after each bare-app call), so it pays the
same cache effects as the middlewares do; the same two calls in a tight loop of
their own are printed for reference.  Many short interleaved rounds keep the
comparison fair on a busy machine.  Per-request times are each variant's best
round (as timeit recommends: slower rounds are other processes interfering);
the last column repeats the ratio from the medians of per-round differences.
The second table renders a registry with 50 routes x 5 methods x 6 statuses,
plain and gzip.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from backend_metrics.asgi import instrument
from backend_metrics.exposition import render
from backend_metrics.recorder import HttpRecorder

PATH_TEMPLATE = "/items/{item_id}"


async def item(request):
    return PlainTextResponse("ok")


def bare_app() -> Starlette:
    routes = [Route(f"/other{i}/{{x}}", item) for i in range(10)]  # a router with some work to do
    return Starlette(routes=[*routes, Route(PATH_TEMPLATE, item)])


FLOOR = "floor: bare app + Counter.inc + Histogram.observe (cached children)"


def build_variants(peers: bool = True) -> dict[str, object]:
    variants: dict[str, object] = {"bare app": bare_app(), FLOOR: Floor()}
    variants["backend_metrics"] = instrument(bare_app(), registry=CollectorRegistry())
    if not peers:
        return variants
    try:
        from prometheus_fastapi_instrumentator import Instrumentator

        app = bare_app()
        Instrumentator(registry=CollectorRegistry()).instrument(app)
        variants["prometheus-fastapi-instrumentator"] = app
    except ImportError:  # pragma: no cover
        print("prometheus-fastapi-instrumentator not installed; skipped", file=sys.stderr)
    try:
        from starlette_exporter import PrometheusMiddleware

        app = bare_app()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            app.add_middleware(PrometheusMiddleware)
        variants["starlette-exporter"] = app
    except ImportError:  # pragma: no cover
        print("starlette-exporter not installed; skipped", file=sys.stderr)
    return variants


def scope_for(i: int) -> dict:
    path = f"/items/{i % 100}"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict) -> None:
    return None


class Floor:
    """The floor, paid inside the same request loop: the bare app, then one labelled
    ``Counter.inc`` and one ``Histogram.observe`` on cached children (no timing, no
    status capture, no route lookup)."""

    def __init__(self) -> None:
        self.app = bare_app()
        registry = CollectorRegistry()
        counter = Counter("floor_requests_total", "floor", ["method", "route", "status"], registry=registry)
        histogram = Histogram("floor_duration_seconds", "floor", ["method", "route"], registry=registry)
        self.counter_child = counter.labels("GET", PATH_TEMPLATE, "200")
        self.histogram_child = histogram.labels("GET", PATH_TEMPLATE)


async def run_requests(app, n: int) -> float:
    scopes = [scope_for(i) for i in range(n)]
    if isinstance(app, Floor):
        inner, counter_child, histogram_child = app.app, app.counter_child, app.histogram_child
        start = time.perf_counter()
        for scope in scopes:
            await inner(scope, receive, send)
            counter_child.inc()
            histogram_child.observe(0.0042)
        return (time.perf_counter() - start) / n
    start = time.perf_counter()
    for scope in scopes:
        await app(scope, receive, send)
    return (time.perf_counter() - start) / n


def tight_loop_floor(n: int) -> float:
    """The same two calls in a loop of their own (hot caches): a lower bound, for reference."""
    floor = Floor()
    counter_child, histogram_child = floor.counter_child, floor.histogram_child
    start = time.perf_counter()
    for _ in range(n):
        counter_child.inc()
        histogram_child.observe(0.0042)
    return (time.perf_counter() - start) / n


def timed(func: Callable[[], object], repeat: int) -> float:
    """Best of `repeat` runs (slower runs are other processes interfering)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_requests(rounds: int, requests: int, peers: bool = True) -> tuple[list[tuple], float]:
    """Interleaved: every round runs each variant once (`requests` calls), in a new random order."""
    variants = build_variants(peers)
    loop = asyncio.new_event_loop()
    for app in variants.values():  # warm up: build middleware stacks, create label children
        loop.run_until_complete(run_requests(app, 500))
    per_variant: dict[str, list[float]] = {name: [] for name in variants}
    overheads: dict[str, list[float]] = {name: [] for name in variants}
    tight: list[float] = []
    names = list(variants)

    def block(run: Callable[[], float]) -> float:
        # A clean heap for every block: without this, garbage one variant leaves behind
        # (the peers make reference cycles per request) slows whichever variant runs next.
        gc.collect()
        gc.disable()
        try:
            return run()
        finally:
            gc.enable()

    try:
        for _ in range(rounds):
            random.shuffle(names)
            this_round = {name: block(lambda: loop.run_until_complete(run_requests(variants[name], requests))) for name in names}
            tight.append(block(lambda: tight_loop_floor(requests)))
            for name in names:
                per_variant[name].append(this_round[name])
                overheads[name].append(this_round[name] - this_round["bare app"])
    finally:
        loop.close()
    best = {name: min(times) for name, times in per_variant.items()}
    floor_best = best[FLOOR] - best["bare app"]
    floor_paired = statistics.median(overheads[FLOOR])
    rows: list[tuple] = []
    for name in ["bare app", FLOOR, "backend_metrics", "prometheus-fastapi-instrumentator", "starlette-exporter"]:
        if name not in variants:
            continue
        if name == "bare app":
            rows.append((name, best[name], None, None, None))
        else:
            overhead = best[name] - best["bare app"]
            paired = statistics.median(overheads[name])
            rows.append((name, best[name], overhead, overhead / floor_best, paired / floor_paired))
    return rows, statistics.median(tight)


def realistic_registry(routes: int = 50, methods: int = 5, statuses: int = 6) -> CollectorRegistry:
    registry = CollectorRegistry()
    recorder = HttpRecorder(registry, max_series=100_000)
    method_names = ["GET", "POST", "PUT", "PATCH", "DELETE"][:methods]
    status_codes = [200, 201, 400, 404, 429, 500][:statuses]
    for r in range(routes):
        for method in method_names:
            for status in status_codes:
                recorder.record(method, f"/api/v1/resource{r}/{{id}}", status, 0.003 * (r % 7 + 1))
    return registry


def bench_rendering(repeat: int) -> tuple[int, list[tuple[str, float, int]]]:
    registry = realistic_registry()
    series = sum(len(f.samples) for f in registry.collect())
    plain_body = generate_latest(registry)
    rows = [
        ("text format, plain", timed(lambda: render(registry), repeat), len(render(registry)[0])),
        (
            "text format, gzip level 1 (backend_metrics)",
            timed(lambda: render(registry, accept_encoding="gzip"), repeat),
            len(render(registry, accept_encoding="gzip")[0]),
        ),
        (
            "text format, gzip level 9 (prometheus_client's default)",
            timed(lambda: gzip.compress(generate_latest(registry)), repeat),
            len(gzip.compress(plain_body)),
        ),
        (
            "OpenMetrics, plain",
            timed(lambda: render(registry, accept="application/openmetrics-text; version=1.0.0"), repeat),
            len(render(registry, accept="application/openmetrics-text; version=1.0.0")[0]),
        ),
    ]
    return series, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--requests", type=int, default=300, help="requests per variant per round")
    parser.add_argument("--render-repeat", type=int, default=20)
    parser.add_argument("--without-peers", action="store_true", help="only the bare app, the floor and backend_metrics")
    args = parser.parse_args(argv)

    print(f"Python {sys.version.split()[0]}; {args.rounds} interleaved rounds x {args.requests} requests per variant\n")
    rows, tight = bench_requests(args.rounds, args.requests, peers=not args.without_peers)
    print("| variant | per request (us, best round) | overhead over bare app (us) | overhead / floor | same, medians of paired rounds |")
    print("|---|---:|---:|---:|---:|")
    for name, per_request, overhead, ratio, paired_ratio in rows:
        overhead_text = "" if overhead is None else f"{overhead * 1e6:.2f}"
        ratio_text = "" if ratio is None else f"{ratio:.2f}x"
        paired_text = "" if paired_ratio is None else f"{paired_ratio:.2f}x"
        print(f"| {name} | {per_request * 1e6:.2f} | {overhead_text} | {ratio_text} | {paired_text} |")
    print(f"\nFor reference, the floor's two calls in a tight loop of their own (hot caches): {tight * 1e6:.2f} us.")

    series, render_rows = bench_rendering(args.render_repeat)
    print(f"\n/metrics rendering, 50 routes x 5 methods x 6 statuses ({series} samples), best of {args.render_repeat}\n")
    print("| rendering | time (ms) | bytes |")
    print("|---|---:|---:|")
    for name, seconds, size in render_rows:
        print(f"| {name} | {seconds * 1e3:.1f} | {size:,} |")


if __name__ == "__main__":
    main()
