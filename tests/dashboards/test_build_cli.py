"""`python -m dashboards build --out DIR`: the JSON the stack uploads, plus a reviewable summary."""

from __future__ import annotations

import json
import subprocess
import sys

import dashboards
from dashboards.adapter import iter_panels
from tests.support.live import REPO_ROOT


def test_build_writes_the_rendered_json_and_one_summary_per_dashboard(tmp_path):
    out = tmp_path / "built"
    result = subprocess.run([sys.executable, "-m", "dashboards", "build", "--out", str(out)], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rendered = dashboards.render_dashboards()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*rendered, *(name.replace(".json", ".md") for name in rendered)]
    )
    for name, text in rendered.items():
        assert (out / name).read_text() == text


def test_summary_lists_every_panel_with_its_unit_and_queries():
    summaries = dashboards.render_summaries()
    for filename, doc in dashboards.render_documents().items():
        summary = summaries[filename.replace(".json", ".md")]
        assert summary.startswith(f"# {doc['title']}\n")
        for panel in iter_panels(doc["panels"]):
            if panel["type"] == "row":
                assert f"## {panel['title']}\n" in summary
                continue
            section = summary.split(f"### {panel['title']}\n", 1)[1].split("\n### ", 1)[0]
            assert f"unit `{panel['fieldConfig']['defaults']['unit']}`" in section
            for target in panel["targets"]:
                assert f"```promql\n{target['expr']}\n```" in section


def test_build_without_out_fails_with_usage():
    result = subprocess.run([sys.executable, "-m", "dashboards", "build"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "--out" in result.stderr


def test_rendered_json_round_trips():
    for text in dashboards.render_dashboards().values():
        assert json.loads(text)["uid"]
