"""Everything the program declares, as files, for a before/after comparison of a refactor.

    python -m tests.support.snapshot DIR

runs the real `__main__.py` under mocks for the dev and ci stack files and a few variants, and
writes, per variant, every resource's URN, options and inputs (uploads as separate files) to DIR.
`diff -r BEFORE AFTER` then shows any change of rendered config, dashboard JSON or URN.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tests.support.pulumi_program import PROJECT_ROOT, RecordingMocks, run_program

SECRETS = {
    "mongodbUri": "mongodb://exporter:s3cret@mongo:27017/admin",
    "grafanaAdminPassword": "pw-for-snapshot",
}
# The ci stack's webhook receiver takes a token; web auth (bindAddress beyond loopback) a password.
RECEIVER_SECRETS = {"alertmanagerSecrets": {"team": "token-for-snapshot"}}
WEB_SECRETS = {"webPassword": "web-pw-for-snapshot"}


def stack_file(name: str) -> dict:
    text = (PROJECT_ROOT / f"Pulumi.{name}.yaml").read_text()
    return dict(yaml.safe_load(text)["config"])


VARIANTS = {
    "dev": lambda: stack_file("dev"),
    "ci": lambda: stack_file("ci"),
    "defaults": lambda: {},
    "all-off": lambda: {
        "monstack:grafana": {"enabled": False},
        "monstack:mongodbExporter": {"enabled": False},
        "monstack:nodeExporter": {"enabled": False},
        "monstack:cadvisor": {"enabled": False},
    },
    "ci-web-auth": lambda: {**stack_file("ci"), "monstack:bindAddress": "0.0.0.0"},
    "swarm": lambda: stack_file("swarm"),
}


def write_snapshot(out: Path) -> None:
    for variant, config in VARIANTS.items():
        secrets = {
            **SECRETS,
            **(RECEIVER_SECRETS if variant.startswith("ci") else {}),
            **(WEB_SECRETS if "web-auth" in variant else {}),
        }
        networks = ["monstack-ci-app", "helpdesk"]
        deployment = run_program(config(), secrets=secrets, mocks=RecordingMocks(existing_networks=networks))
        folder = out / variant
        (folder / "files").mkdir(parents=True, exist_ok=True)
        summary = []
        for index, resource in enumerate(deployment.resources):
            inputs = dict(resource.inputs)
            for upload in inputs.pop("uploads", None) or []:
                name = f"{resource.name}{upload['file']}".replace("/", "__")
                (folder / "files" / name).write_text(upload.get("content", ""))
            summary.append(
                {
                    "type": resource.typ,
                    "urn": resource.urn,
                    "parent": resource.parent,
                    "options": [resource.retain_on_delete, resource.protect, resource.delete_before_replace,
                                list(resource.replace_on_changes)],
                    "inputs": inputs,
                }
            )
        summary.sort(key=lambda r: r["urn"])
        (folder / "resources.json").write_text(json.dumps(summary, indent=1, sort_keys=True, default=str))
        (folder / "outputs.json").write_text(json.dumps(deployment.outputs, indent=1, sort_keys=True, default=str))


if __name__ == "__main__":
    write_snapshot(Path(sys.argv[1]))
