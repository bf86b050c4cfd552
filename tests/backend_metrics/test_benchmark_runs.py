"""The overhead benchmark still runs and prints every variant (no timing is asserted)."""

from __future__ import annotations

from benchmarks import bench_overhead


def test_the_benchmark_prints_a_row_for_every_variant(capsys):
    bench_overhead.main(["--rounds", "2", "--requests", "20", "--render-repeat", "1"])
    out = capsys.readouterr().out
    for variant in ("bare app", bench_overhead.FLOOR, "backend_metrics", "prometheus-fastapi-instrumentator", "starlette-exporter"):
        assert f"| {variant} |" in out
    assert "gzip level 1" in out


def test_the_instruction_count_child_runs_every_variant_without_valgrind():
    from benchmarks import instructions

    for variant in instructions.VARIANTS:
        instructions.run_child(variant, requests=5, warmup=5)


def test_the_instruction_count_reads_cachegrinds_summary():
    from benchmarks import instructions

    stderr = """==1== I   refs:      645,957,017
==1== I1  misses:      7,326,115
==1== LLi misses:         19,832
==1== D1  misses:      8,150,186  (  7,248,088 rd   +    902,098 wr)
==1== LLd misses:        340,577  (     76,567 rd   +    264,010 wr)
==1== Mispredicts:     9,114,284  (  4,000,000 cond +  5,114,284 ind)
==1== Mispred rate:          6.4% (        2.8%     +       36.1%   )
"""
    assert instructions.parse_totals(stderr) == {
        "instructions": 645_957_017,
        "I1 misses": 7_326_115,
        "D1 misses": 8_150_186,
        "branch mispredicts": 9_114_284,
    }


def test_the_render_benchmark_runs_at_its_smallest_size(capsys):
    """One size, one gunicorn worker, nothing timed: the script (and its gunicorn app) cannot rot."""
    from benchmarks import bench_render

    process_rows, gunicorn_rows = bench_render.main(["--sizes", "100", "--workers", "1", "--repeat", "1"])
    assert [size for size, _ in process_rows] == [100]
    assert [(size, workers) for size, workers, *_ in gunicorn_rows] == [(100, 1)]
    out = capsys.readouterr().out
    assert "| 100 | 1 |" in out and "prometheus_client" in out


def test_the_recycling_benchmark_runs_at_its_smallest_size(capsys):
    from benchmarks import bench_recycling

    rows = bench_recycling.main(["--dead", "0,3", "--live", "1", "--routes", "2", "--repeat", "1", "--per-worker-sample", "2"])
    by_dead = {dead: (files_before, files_after, same) for dead, files_before, _, files_after, _, _, same in rows}
    assert by_dead == {0: (2, 2, True), 3: (8, 4, True)}  # folded: the live worker's two files and two archives
    assert "| 3 |" in capsys.readouterr().out
