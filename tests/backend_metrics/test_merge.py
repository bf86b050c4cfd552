"""The scrape's merge of multiprocess files gives what prometheus_client's own merge gives."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

from backend_metrics.multiprocess import merge_files

ROUTES = ["/a", "/b/{id}", "/c"]
BOUNDS = [0.01, 0.1, 1.0, float("inf")]
GAUGE_MODES = ["all", "sum", "max", "min", "mostrecent", "livesum", "liveall"]

values = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3))
worker = st.fixed_dictionaries(
    {
        "counter": st.dictionaries(st.sampled_from(ROUTES), values, max_size=3),
        "histogram": st.dictionaries(st.sampled_from(ROUTES), st.lists(values, min_size=len(BOUNDS) + 1, max_size=len(BOUNDS) + 1), max_size=3),
        "summary": st.dictionaries(st.sampled_from(ROUTES), st.tuples(values, values), max_size=2),
        "gauges": st.dictionaries(st.sampled_from(GAUGE_MODES), st.tuples(values, st.integers(0, 10**6)), max_size=4),
    }
)


def write(directory, pid: int, data: dict) -> None:
    files = {}

    def store(prefix):
        if prefix not in files:
            files[prefix] = MmapedDict(str(directory / f"{prefix}_{pid}.db"))
        return files[prefix]

    for route, value in data["counter"].items():
        store("counter").write_value(mmap_key("reqs", "reqs_total", ["route"], [route], "h"), value, 0)
    for route, cells in data["histogram"].items():
        for bound, value in zip(BOUNDS, cells):
            key = mmap_key("dur", "dur_bucket", ["route", "le"], [route, floatToGoString(bound)], "h")
            store("histogram").write_value(key, value, 0)
        store("histogram").write_value(mmap_key("dur", "dur_sum", ["route"], [route], "h"), cells[-1], 0)
    for route, (count, total) in data["summary"].items():
        store("summary").write_value(mmap_key("size", "size_count", ["route"], [route], "h"), count, 0)
        store("summary").write_value(mmap_key("size", "size_sum", ["route"], [route], "h"), total, 0)
    for mode, (value, timestamp) in data["gauges"].items():
        store(f"gauge_{mode}").write_value(mmap_key(f"g_{mode}", f"g_{mode}", [], [], "h"), value, timestamp)
    for file in files.values():
        file.close()


def samples(metrics) -> dict:
    return {
        (metric.name, metric.type, sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in metrics
        for sample in metric.samples
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(workers=st.lists(worker, min_size=1, max_size=5))
def test_merge_files_equals_prometheus_clients_merge(tmp_path_factory, workers):
    directory = tmp_path_factory.mktemp("merge")
    for pid, data in enumerate(workers, start=100):
        write(directory, pid, data)
    files = sorted(str(p) for p in directory.glob("*.db"))
    ours = samples(merge_files(files))
    stock = samples(MultiProcessCollector.merge(files, accumulate=True))
    assert ours.keys() == stock.keys()
    for key, value in stock.items():
        assert abs(ours[key] - value) <= 1e-9 * max(1.0, abs(value)), key
