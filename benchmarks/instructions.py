"""Per-request instruction and cache-miss counts of the overhead benchmark's variants.

    python3 -m benchmarks.instructions [--requests 1000 3000]

Wall-clock overhead on a shared machine moves by a few tenths of a microsecond
from run to run.  This counts instead: each variant of `bench_overhead` (bare
app, floor, backend_metrics) runs under valgrind's cachegrind twice, with two
request counts after the same warm-up, and the difference divided by the
difference in requests is what one request costs, start-up and imports cancel
out.  Counts vary by a few hundred instructions between runs (memory layout),
so read differences smaller than that as equal.  Needs valgrind
(``apt-get install valgrind``); the table it prints is in docs/backend_metrics.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys

from prometheus_client import CollectorRegistry

from backend_metrics.asgi import instrument
from benchmarks.bench_overhead import FLOOR, Floor, bare_app, run_requests

VARIANTS = ("bare app", FLOOR, "backend_metrics")
_EVENTS = {"I   refs": "instructions", "I1  misses": "I1 misses", "D1  misses": "D1 misses", "Mispredicts": "branch mispredicts"}


def build(variant: str) -> object:
    if variant == "bare app":
        return bare_app()
    if variant == FLOOR:
        return Floor()
    if variant == "backend_metrics":
        return instrument(bare_app(), registry=CollectorRegistry())
    raise ValueError(f"unknown variant {variant!r}")


def run_child(variant: str, requests: int, warmup: int = 200) -> None:
    """What runs under valgrind: warm up, then `requests` requests with the collector off."""
    app = build(variant)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run_requests(app, warmup))
        gc.collect()
        gc.disable()
        loop.run_until_complete(run_requests(app, requests))
    finally:
        gc.enable()
        loop.close()


def parse_totals(valgrind_stderr: str) -> dict[str, int]:
    """The summary counters cachegrind prints on stderr (first number of each line)."""
    totals: dict[str, int] = {}
    for line in valgrind_stderr.splitlines():
        for label, name in _EVENTS.items():
            match = re.search(re.escape(label) + r":\s+([\d,]+)", line)
            if match and name not in totals:
                totals[name] = int(match.group(1).replace(",", ""))
    return totals


def measure(valgrind: str, variant: str, requests: int) -> dict[str, int]:
    command = [
        valgrind,
        "--tool=cachegrind",
        "--cache-sim=yes",
        "--branch-sim=yes",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--child",
        variant,
        str(requests),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return parse_totals(done.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs=2, default=[1000, 3000], metavar=("FEW", "MANY"))
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child[0], int(args.child[1]))
        return
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    few, many = args.requests
    per_request = {}
    for variant in VARIANTS:
        low, high = measure(valgrind, variant, few), measure(valgrind, variant, many)
        per_request[variant] = {name: (high[name] - low[name]) / (many - few) for name in high}
    bare = per_request["bare app"]
    names = list(bare)
    print(f"Python {sys.version.split()[0]}; per request, from {few} and {many} requests under cachegrind\n")
    print("| variant | " + " | ".join(f"{name} over bare app" for name in names) + " | instructions / floor's |")
    print("|---|" + "---:|" * (len(names) + 1))
    floor_instructions = per_request[FLOOR]["instructions"] - bare["instructions"]
    for variant in VARIANTS[1:]:
        extra = {name: per_request[variant][name] - bare[name] for name in names}
        cells = " | ".join(f"{extra[name]:,.0f}" for name in names)
        print(f"| {variant} | {cells} | {extra['instructions'] / floor_instructions:.2f}x |")
    print(f"\nbare app itself: {bare['instructions']:,.0f} instructions per request")


if __name__ == "__main__":
    main()
