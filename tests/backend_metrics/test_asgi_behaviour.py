"""What the ASGI middleware records: errors, streams, disconnects, exclusions, the metrics path."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

import backend_metrics.asgi as asgi_module
from backend_metrics.asgi import instrument, metrics_app
from backend_metrics.names import HTTP_REQUESTS_IN_PROGRESS, HTTP_REQUESTS_TOTAL, STATUS_CLIENT_CLOSED
from tests.backend_metrics.asgi_client import acall, call
from tests.backend_metrics.readers import duration_count, duration_sum, requests_by, sample_values


class FakeClock:
    """perf_counter stand-in that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(asgi_module, "perf_counter", fake)
    return fake


class Boom(Exception):
    pass


async def fail(request):
    raise Boom("handler failed")


def raw_failing_app():
    async def app(scope, receive, send):
        raise Boom("before any response")

    return Starlette(routes=[Route("/raw", app)])


def test_an_unhandled_exception_counts_as_500_and_is_re_raised(registry):
    app = instrument(Starlette(routes=[Route("/fail", fail)]), registry=registry)
    with pytest.raises(Boom):
        call(app, "GET", "/fail")
    assert requests_by(registry) == {("GET", "/fail", "500"): 1.0}


def test_an_exception_before_any_response_counts_as_500(registry):
    async def bare(scope, receive, send):
        raise Boom("nothing sent")

    app = instrument(bare, registry=registry)
    with pytest.raises(Boom):
        call(app, "GET", "/anything")
    assert requests_by(registry) == {("GET", "<unmatched>", "500"): 1.0}


def test_an_exception_after_the_response_started_keeps_its_status(registry):
    async def broken_stream(request):
        async def chunks():
            yield b"first"
            raise Boom("mid-stream")

        return StreamingResponse(chunks())

    app = instrument(Starlette(routes=[Route("/stream", broken_stream)]), registry=registry)
    with pytest.raises(Boom):
        call(app, "GET", "/stream")
    assert requests_by(registry) == {("GET", "/stream", "200"): 1.0}


def test_a_streaming_response_is_timed_until_its_last_chunk(registry, clock):
    async def stream(request):
        async def chunks():
            for _ in range(3):
                clock.now += 2.0  # each chunk takes two (fake) seconds
                yield b"chunk"

        return StreamingResponse(chunks())

    app = instrument(Starlette(routes=[Route("/stream", stream)]), registry=registry)
    answer = call(app, "GET", "/stream")
    assert answer.body == b"chunk" * 3
    assert duration_sum(registry, "GET", "/stream") == pytest.approx(6.0)


def test_work_after_the_last_byte_is_not_timed(registry, clock):
    from starlette.background import BackgroundTask

    def slow_cleanup():
        clock.now += 30.0

    async def handler(request):
        clock.now += 1.0
        return PlainTextResponse("done", background=BackgroundTask(slow_cleanup))

    app = instrument(Starlette(routes=[Route("/bg", handler)]), registry=registry)
    call(app, "GET", "/bg")
    assert duration_sum(registry, "GET", "/bg") == pytest.approx(1.0)


def test_a_client_disconnect_mid_stream_is_recorded_as_client_closed(registry):
    async def endless(request):
        async def chunks():
            while True:
                yield b"tick"
                await asyncio.sleep(0.001)

        return StreamingResponse(chunks())

    app = instrument(Starlette(routes=[Route("/endless", endless)]), registry=registry)
    answer = call(app, "GET", "/endless", disconnect_after_body=True)
    assert answer.status == 200  # the response had started...
    assert requests_by(registry) == {("GET", "/endless", STATUS_CLIENT_CLOSED): 1.0}  # ...but never finished


def test_a_cancelled_request_is_recorded_as_client_closed(registry):
    started = asyncio.Event()

    async def hang(request):
        started.set()
        await asyncio.sleep(3600)

    app = instrument(Starlette(routes=[Route("/hang", hang)]), registry=registry)

    async def scenario():
        task = asyncio.create_task(acall(app, "GET", "/hang"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert requests_by(registry) == {("GET", "/hang", STATUS_CLIENT_CLOSED): 1.0}


def test_excluded_routes_are_matched_by_template_and_not_recorded(registry):
    async def ok(request):
        return PlainTextResponse("ok")

    starlette = Starlette(routes=[Route("/healthz", ok), Route("/probe/{kind}", ok), Route("/tickets", ok)])
    app = instrument(starlette, registry=registry, exclude_routes={"/healthz", "/probe/{kind}"})
    call(app, "GET", "/healthz")
    call(app, "GET", "/probe/live")
    call(app, "GET", "/probe/ready")
    call(app, "GET", "/tickets")
    assert requests_by(registry) == {("GET", "/tickets", "200"): 1.0}
    assert duration_count(registry, "GET", "/healthz") == 0


def test_the_metrics_path_is_served_exactly_and_not_counted(registry):
    app = instrument(FastAPI(), registry=registry)
    scrape = call(app, "GET", "/metrics")
    assert scrape.status == 200
    assert HTTP_REQUESTS_TOTAL.encode() in scrape.body
    assert call(app, "GET", "/metrics/").status == 404  # exact path: no redirect, no prefix match
    assert call(app, "GET", "/metrics").status == 200
    assert requests_by(registry) == {("GET", "<unmatched>", "404"): 1.0}


def test_the_metrics_path_is_counted_when_asked(registry):
    app = instrument(FastAPI(), registry=registry, count_metrics_path=True)
    call(app, "GET", "/metrics")
    call(app, "GET", "/metrics")
    assert requests_by(registry)[("GET", "/metrics", "200")] >= 1.0
    assert set(requests_by(registry)) == {("GET", "/metrics", "200")}


def test_building_the_app_twice_neither_raises_nor_drops_metrics(registry):
    async def ok(request):
        return PlainTextResponse("ok")

    first = instrument(Starlette(routes=[Route("/a", ok)]), registry=registry)
    second = instrument(Starlette(routes=[Route("/a", ok)]), registry=registry)
    call(first, "GET", "/a")
    call(second, "GET", "/a")
    call(second, "GET", "/a")
    assert requests_by(registry) == {("GET", "/a", "200"): 3.0}


def test_building_twice_with_other_buckets_is_refused(registry):
    instrument(FastAPI(), registry=registry)
    with pytest.raises(ValueError, match="buckets"):
        instrument(FastAPI(), registry=registry, buckets=(0.1, 1.0))


def test_the_in_progress_gauge_counts_running_requests(registry):
    seen = []

    async def handler(request):
        seen.append(sample_values(registry, HTTP_REQUESTS_IN_PROGRESS)[()])
        return PlainTextResponse("ok")

    app = instrument(Starlette(routes=[Route("/x", handler)]), registry=registry, in_progress=True)
    call(app, "GET", "/x")
    assert seen == [1.0]
    assert sample_values(registry, HTTP_REQUESTS_IN_PROGRESS)[()] == 0.0


def test_no_in_progress_gauge_unless_asked(registry):
    instrument(FastAPI(), registry=registry)
    assert sample_values(registry, HTTP_REQUESTS_IN_PROGRESS) == {}


def test_websocket_and_lifespan_scopes_pass_through_untouched(registry):
    received = []

    async def inner(scope, receive, send):
        received.append(scope["type"])

    app = instrument(inner, registry=registry)
    asyncio.run(app({"type": "lifespan"}, None, None))
    asyncio.run(app({"type": "websocket", "path": "/ws"}, None, None))
    assert received == ["lifespan", "websocket"]
    assert requests_by(registry) == {}


# -- exposition -------------------------------------------------------------------------


def populated_registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    app = instrument(FastAPI(), registry=reg)
    call(app, "GET", "/nothing")
    return reg


def test_metrics_are_gzipped_when_the_scraper_accepts_gzip():
    reg = populated_registry()
    answer = call(metrics_app(reg), "GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert gzip.decompress(answer.body) == generate_latest(reg)
    assert int(answer.headers["content-length"]) == len(answer.body)


def test_metrics_are_plain_text_without_accept_encoding():
    reg = populated_registry()
    answer = call(metrics_app(reg), "GET", "/metrics")
    assert "content-encoding" not in answer.headers
    assert answer.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(answer.body.decode())}
    assert "http_requests" in families


def test_openmetrics_is_served_when_asked():
    reg = populated_registry()
    answer = call(metrics_app(reg), "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.body.rstrip().endswith(b"# EOF")


def test_metrics_can_be_filtered_by_name():
    reg = populated_registry()
    answer = call(metrics_app(reg), "GET", "/metrics?name[]=http_requests_total")
    assert b"http_requests_total{" in answer.body
    assert b"http_request_duration_seconds" not in answer.body


def test_metrics_answer_head_without_body_and_refuse_post():
    reg = populated_registry()
    head = call(metrics_app(reg), "HEAD", "/metrics")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 0
    assert call(metrics_app(reg), "POST", "/metrics").status == 405


def test_rendering_runs_off_the_event_loop(monkeypatch):
    import threading

    rendered_on = []
    original = asgi_module.render

    def spy(*args, **kwargs):
        rendered_on.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(asgi_module, "render", spy)
    loop_thread = []
    reg = populated_registry()

    async def scenario():
        loop_thread.append(threading.get_ident())
        await acall(metrics_app(reg), "GET", "/metrics")

    asyncio.run(scenario())
    assert rendered_on and rendered_on[0] != loop_thread[0]


def test_the_default_registry_serves_process_and_platform_metrics():
    answer = call(metrics_app(), "GET", "/metrics")
    assert b"process_cpu_seconds_total" in answer.body
    assert b"python_info" in answer.body


class RecordingApp:
    """A plain ASGI app object: its class defines __call__ in Python."""

    def __init__(self) -> None:
        self.called_on = []

    async def __call__(self, scope, receive, send):
        self.called_on.append(self)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("in_progress", [False, True])
def test_an_app_object_is_called_as_itself_and_recorded(registry, in_progress):
    inner = RecordingApp()
    app = instrument(inner, registry=registry, in_progress=in_progress)
    assert call(app, "GET", "/x").status == 204
    assert call(app, "GET", "/x").status == 204
    assert inner.called_on == [inner, inner]
    assert requests_by(registry) == {("GET", "<unmatched>", "204"): 2.0}
