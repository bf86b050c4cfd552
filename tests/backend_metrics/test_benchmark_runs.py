"""The overhead benchmark still runs and prints every variant (no timing is asserted)."""

from __future__ import annotations

from benchmarks import bench_overhead


def test_the_benchmark_prints_a_row_for_every_variant(capsys):
    bench_overhead.main(["--rounds", "2", "--requests", "20", "--render-repeat", "1"])
    out = capsys.readouterr().out
    for variant in ("bare app", bench_overhead.FLOOR, "backend_metrics", "prometheus-fastapi-instrumentator", "starlette-exporter"):
        assert f"| {variant} |" in out
    assert "gzip level 1" in out
