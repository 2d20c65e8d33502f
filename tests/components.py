"""Real components the tests need (PostgreSQL, the S3 server, Chromium, ...).

On CI (``CI`` set in the environment) a missing component is a failure; on a developer's machine the test is skipped
with a reason that names what to install. Use :func:`require` from fixtures, never ``pytest.skip`` directly.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(available: bool, component: str, how: str) -> None:
    """Fail (on CI) or skip (elsewhere) unless *component* is available; *how* tells how to get it."""
    if available:
        return
    message = f"{component} is not available: {how}"
    if in_ci():
        pytest.fail(f"CI requires {message}", pytrace=False)
    pytest.skip(message)
