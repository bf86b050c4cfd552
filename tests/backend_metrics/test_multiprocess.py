"""Multiprocess mode: loud failures at start, and totals summed over every worker's files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backend_metrics import multiprocess
from backend_metrics.exposition import render
from backend_metrics.multiprocess import MultiprocessConfigError, check_multiprocess_dir

REPO_ROOT = Path(__file__).resolve().parents[2]

BUILD_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from backend_metrics.asgi import instrument
    instrument(FastAPI())
    print("built")
    """
)


def run_python(code: str, env_updates: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != multiprocess.ENV_VAR}
    env.update(env_updates)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)


def test_a_missing_multiprocess_dir_fails_at_start(tmp_path):
    result = run_python(BUILD_APP, {multiprocess.ENV_VAR: str(tmp_path / "does-not-exist")})
    assert result.returncode != 0
    assert "built" not in result.stdout
    assert "MultiprocessConfigError" in result.stderr and "does not exist" in result.stderr


def test_a_multiprocess_path_that_is_a_file_fails_at_start(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    result = run_python(BUILD_APP, {multiprocess.ENV_VAR: str(not_a_dir)})
    assert result.returncode != 0
    assert "not a directory" in result.stderr


def test_an_unwritable_multiprocess_dir_fails_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv(multiprocess.ENV_VAR, str(tmp_path))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(multiprocess.tempfile, "NamedTemporaryFile", refuse)  # root may write anywhere
    with pytest.raises(MultiprocessConfigError, match="not writable"):
        check_multiprocess_dir()


def test_setting_the_variable_after_prometheus_client_was_imported_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(multiprocess.ENV_VAR, str(tmp_path))
    with pytest.raises(MultiprocessConfigError, match="imported before"):
        check_multiprocess_dir()


def test_single_process_mode_needs_no_directory(monkeypatch):
    monkeypatch.delenv(multiprocess.ENV_VAR, raising=False)
    assert check_multiprocess_dir() is None


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from fastapi import FastAPI
    from backend_metrics.asgi import instrument
    from backend_metrics.business import BusinessMetrics
    api = FastAPI()
    @api.get("/tickets/{ticket_id}")
    def get_ticket(ticket_id: int):
        return {}
    app = instrument(api)
    business = BusinessMetrics()
    async def one(i):
        scope = {"type": "http", "method": "GET", "path": f"/tickets/{i}", "root_path": "", "headers": [],
                 "query_string": b"", "http_version": "1.1", "scheme": "http"}
        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}
        async def send(message):
            pass
        await app(scope, receive, send)
    async def main(n):
        for i in range(n):
            await one(i)
    asyncio.run(main(int(sys.argv[1])))
    business.ticket_created(int(sys.argv[1]))
    """
)


def test_scrapes_sum_every_workers_values(tmp_path, monkeypatch):
    for count in (7, 11, 13):
        env = {k: v for k, v in os.environ.items() if k != multiprocess.ENV_VAR}
        env.update({multiprocess.ENV_VAR: str(tmp_path), "PYTHONPATH": str(REPO_ROOT)})
        subprocess.run([sys.executable, "-c", WORKER, str(count)], check=True, env=env, cwd=REPO_ROOT, timeout=60)
    monkeypatch.setenv(multiprocess.ENV_VAR, str(tmp_path))
    body, _ = render(None)  # no registry given: a fresh one over the directory
    text = body.decode()
    assert 'http_requests_total{method="GET",route="/tickets/{ticket_id}",status="200"} 31.0' in text
    assert "tickets_created_total 31.0" in text
