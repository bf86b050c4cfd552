"""Finding the real programs a test needs, and saying so by name when one is missing."""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["in_ci", "require_binary"]


def in_ci() -> bool:
    """True on CI (`CI=true`), where nothing may be skipped."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(name: str) -> str:
    """Return the path of `name`, or stop the test: a skip with the reason locally, a failure on CI."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed (scripts/test installs it)"
    if in_ci():
        pytest.fail(f"{reason}; CI must run every test")
    pytest.skip(reason)
