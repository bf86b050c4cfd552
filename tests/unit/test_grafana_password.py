"""The Grafana admin password in the stack's output always logs in: applied at every start.

Grafana applies GF_SECURITY_ADMIN_PASSWORD only when it creates its database; with the data
volume kept across `pulumi destroy` + `pulumi up` (a new generated password) or a changed secret,
the output would not log in. The start script resets it from the secret file at every start.
Grafana itself cannot run here (no package, no registry): the script runs for real under busybox
in a chroot, with a stand-in `grafana` that records how it was called.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from stack.grafana import ADMIN_PASSWORD_FILE, START_SCRIPT_FILE
from stack.render import GRAFANA_IMAGE_ENTRYPOINT, render_grafana_start_script
from tests.support.tools import in_ci, require_binary

PASSWORD = "s3cret-Password-from-pulumi"


def grafana(deployment):
    return deployment.containers["monstack-dev-grafana"]


def uploads(container):
    return {u["file"]: u["content"] for u in container.inputs["uploads"]}


def test_grafana_starts_through_the_script_that_applies_the_password(deploy):
    container = grafana(deploy(secrets={"mongodbUri": "mongodb://m:27017", "grafanaAdminPassword": PASSWORD}))
    assert container.inputs["entrypoints"] == ["/bin/sh", START_SCRIPT_FILE]
    files = uploads(container)
    assert files[START_SCRIPT_FILE] == render_grafana_start_script(ADMIN_PASSWORD_FILE)
    assert files[ADMIN_PASSWORD_FILE] == PASSWORD
    inspectable = repr(container.inputs.get("envs")) + repr(container.inputs["entrypoints"]) + files[START_SCRIPT_FILE]
    assert PASSWORD not in inspectable


def test_a_changed_password_replaces_grafana_so_the_new_one_is_applied(deploy):
    first = grafana(deploy(secrets={"mongodbUri": "mongodb://m:27017", "grafanaAdminPassword": "first-password"}))
    second = grafana(deploy(secrets={"mongodbUri": "mongodb://m:27017", "grafanaAdminPassword": "second-password"}))
    assert uploads(first)[ADMIN_PASSWORD_FILE] != uploads(second)[ADMIN_PASSWORD_FILE]  # uploads force a new container


@pytest.fixture
def root(tmp_path):
    """A tiny root filesystem: busybox, a stand-in `grafana` and the image's /run.sh, both recording."""
    busybox = require_binary("busybox")  # Debian's busybox-static (scripts/install-test-deps); fails on CI if missing
    if os.geteuid() != 0:
        reason = "chroot needs root (CI runs as root)"
        pytest.fail(reason) if in_ci() else pytest.skip(reason)
    for directory in ("dev", "bin", "usr/bin", "var/lib/grafana", "etc/grafana", "run/secrets", "out", "tmp"):
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
    os.mknod(tmp_path / "dev" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    shutil.copy(busybox, tmp_path / "bin" / "busybox")
    for applet in ("sh", "cat", "echo"):
        (tmp_path / "bin" / applet).symlink_to("busybox")
    (tmp_path / "usr/bin/grafana").write_text('#!/bin/sh\necho "$@" >/out/cli-args\ncat >/out/cli-stdin\n')
    (tmp_path / GRAFANA_IMAGE_ENTRYPOINT.lstrip("/")).write_text('#!/bin/sh\necho "server $*" >/out/server\n')
    for script in (tmp_path / "usr/bin/grafana", tmp_path / GRAFANA_IMAGE_ENTRYPOINT.lstrip("/")):
        script.chmod(0o755)
    (tmp_path / ADMIN_PASSWORD_FILE.lstrip("/")).write_text(PASSWORD)
    (tmp_path / START_SCRIPT_FILE.lstrip("/")).write_text(render_grafana_start_script(ADMIN_PASSWORD_FILE))
    return tmp_path


def start(root: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "GF_PATHS_DATA": "/var/lib/grafana", "GF_PATHS_HOME": "/usr/share/grafana",
           "GF_PATHS_CONFIG": "/etc/grafana/grafana.ini"}
    return subprocess.run([require_binary("chroot"), str(root), "/bin/sh", START_SCRIPT_FILE, "--extra"], env=env,
                          capture_output=True, text=True, timeout=30)


def test_with_an_existing_database_the_password_is_reset_from_the_file_then_grafana_starts(root):
    (root / "var/lib/grafana/grafana.db").write_bytes(b"SQLite format 3\0")
    result = start(root)
    assert result.returncode == 0, result.stderr
    args = (root / "out/cli-args").read_text().split()
    assert args[:1] == ["cli"] and "reset-admin-password" in args and "--password-from-stdin" in args
    assert PASSWORD not in " ".join(args)  # never on a command line (ps, /proc)
    assert (root / "out/cli-stdin").read_text() == PASSWORD
    assert (root / "out/server").read_text().strip() == "server --extra"


def test_on_first_start_grafana_creates_the_admin_itself(root):
    result = start(root)
    assert result.returncode == 0, result.stderr
    assert not (root / "out/cli-args").exists()
    assert (root / "out/server").exists()


def test_a_failed_reset_is_reported_and_grafana_still_starts(root):
    (root / "var/lib/grafana/grafana.db").write_bytes(b"SQLite format 3\0")
    (root / "usr/bin/grafana").write_text("#!/bin/sh\nexit 1\n")
    result = start(root)
    assert result.returncode == 0
    assert "could not apply the admin password" in result.stderr
    assert (root / "out/server").exists()
