"""scripts/up-dev sets itself up: what it says when no Docker engine answers, how it installs the Pulumi CLI.

Run with a PATH of its own (the tools it needs, a fake `docker`, no `pulumi`) and a HOME of its
own.  Pulumi's installer downloads from get.pulumi.com, which is not reachable here, so the
install is checked through MONSTACK_UP_DEV_DRY_RUN=1 (the command it would run), not run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.pulumi_program import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "up-dev"
TOOLS = ("bash", "sh", "env", "dirname", "sed", "head", "printf", "python3")
PINNED = re.search(r"^pulumi==([0-9.]+)$", (PROJECT_ROOT / "requirements.txt").read_text(), re.M)[1]


def _fake(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    home = tmp_path / "home"
    home.mkdir()

    def run(docker: str | None, *, dry_run: bool = True, extra_env: dict | None = None):
        if docker is not None:
            _fake(bin_dir / "docker", docker)
        env = {"PATH": str(bin_dir), "HOME": str(home), "PULUMI_CONFIG_PASSPHRASE": "x", **(extra_env or {})}
        if dry_run:
            env["MONSTACK_UP_DEV_DRY_RUN"] = "1"
        return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)

    run.bin_dir, run.home = bin_dir, home
    return run


DOWN = 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1\n'
DENIED = ('echo "Got permission denied while trying to connect to the Docker daemon socket at '
          'unix:///var/run/docker.sock" >&2; exit 1\n')
UP = 'echo 20.10.24; exit 0\n'


def test_no_engine_answering_is_said_with_the_address_and_the_fix(sandbox):
    proc = sandbox(DOWN)
    assert proc.returncode == 1
    assert "no Docker engine answers at unix:///var/run/docker.sock" in proc.stderr
    assert "Cannot connect to the Docker daemon" in proc.stderr  # docker's own words, passed on
    assert "sudo systemctl start docker" in proc.stderr and "DOCKER_HOST" in proc.stderr
    assert "would run" not in proc.stdout  # stops before installing anything


def test_the_address_is_the_one_docker_host_names(sandbox):
    proc = sandbox(DOWN, extra_env={"DOCKER_HOST": "tcp://10.0.0.5:2376"})
    assert "no Docker engine answers at tcp://10.0.0.5:2376" in proc.stderr


def test_a_permission_problem_names_the_docker_group(sandbox):
    proc = sandbox(DENIED)
    assert proc.returncode == 1
    assert "usermod -aG docker" in proc.stderr


def test_no_docker_cli_says_how_to_install_docker(sandbox):
    proc = sandbox(None)
    assert proc.returncode == 1
    assert "docker CLI is not installed" in proc.stderr and "apt-get install docker.io" in proc.stderr


def test_a_missing_pulumi_cli_is_installed_at_the_pinned_version_into_home(sandbox):
    proc = sandbox(UP)
    assert proc.returncode == 0, proc.stderr
    assert f"installing version {PINNED} into {sandbox.home}/.pulumi" in proc.stderr
    assert f"would run: sh -c curl -fsSL https://get.pulumi.com | sh -s -- --version {PINNED}" in proc.stdout
    # Then the deploy, with refresh so that a container removed by hand is re-created.
    assert proc.stdout.strip().splitlines()[-1] == "up-dev: would run: pulumi up --refresh --stack dev"
    assert "mongodb://" not in proc.stdout  # the secret is never printed


def test_a_pulumi_cli_installed_earlier_in_home_is_used_not_installed_again(sandbox):
    pulumi_bin = sandbox.home / ".pulumi" / "bin"
    pulumi_bin.mkdir(parents=True)
    _fake(pulumi_bin / "pulumi", "exit 0\n")
    proc = sandbox(UP)
    assert proc.returncode == 0, proc.stderr
    assert "installing" not in proc.stderr and "get.pulumi.com" not in proc.stdout

