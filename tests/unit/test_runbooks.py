"""Every alert's runbook_url opens a section of docs/runbooks.md that says what to do."""

import re

import pytest

from stack.render import render_alert_rules
from stack.config import settings_from_mapping
from tests.support.pulumi_program import PROJECT_ROOT

RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks.md"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections() -> dict[str, str]:
    text = RUNBOOKS.read_text()
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {github_anchor(title): body for title, body in zip(parts[1::2], parts[2::2])}


def rendered_rules(config):
    settings = settings_from_mapping(config)
    return settings, [rule for group in render_alert_rules(settings)["groups"] for rule in group["rules"]]


@pytest.mark.parametrize(
    "config",
    [{}, {"alertRules": {"runbookBaseUrl": "https://wiki.example.com/monstack/runbooks.md"}}],
    ids=["default", "own-wiki"],
)
def test_every_runbook_url_anchor_exists_in_docs_runbooks(config):
    settings, rules = rendered_rules(config)
    anchors = sections()
    assert rules
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base == settings.alert_rules.runbook_base_url, url
        assert anchor in anchors, f"{rule['alert']}: no section '## ...' with anchor #{anchor} in {RUNBOOKS}"


def test_every_runbook_section_says_what_it_means_how_to_confirm_and_fix():
    _, rules = rendered_rules({})
    anchors = sections()
    for rule in rules:
        body = anchors[rule["annotations"]["runbook_url"].partition("#")[2]]
        for part in ("**Meaning.**", "**Confirm.**", "**Fix.**"):
            assert part in body, (rule["alert"], part)


def test_every_alert_has_summary_description_and_a_known_severity():
    _, rules = rendered_rules({})
    for rule in rules:
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info", "none"), rule["alert"]


def test_the_anchor_rule_matches_github():
    assert github_anchor("TargetDown") == "targetdown"
    assert github_anchor("Why node exporter listens on docker0") == "why-node-exporter-listens-on-docker0"
