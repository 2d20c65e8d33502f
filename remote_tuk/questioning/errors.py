from __future__ import annotations

from remote_tuk.errors import Conflict


class TestClosed(Conflict):
    """The written test is closed (time up, submitted, closed by the assessor, or the session left live)."""

    code = "test_closed"


class NoTest(Conflict):
    code = "no_test"
