"""A recording join waiting in the background stops quietly when the evidence store closes (the app or process is
stopping): it used to fail on the closed log's lock file and log an error, even into the next test's log."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

from remote_tuk.live import hooks


class _Session:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def scalar(self, _query: object) -> int:
        self.calls.append("count")
        return 0

    def get(self, *_a: object) -> object:
        raise AssertionError("a closed store is not read")


class _ClosedStore:
    closed = True


def test_a_join_waiting_when_the_store_closes_stops_without_an_error(caplog):
    calls: list[str] = []
    key = (99, 1)
    hooks._JOINS_PENDING.add(key)
    with caplog.at_level(logging.INFO, logger="remote_tuk.live.hooks"):
        hooks._join_later(key, 1000, lambda: _Session(calls), _ClosedStore())
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("not joined" in r.getMessage() for r in caplog.records)
    assert calls == []  # it did not go on waiting for chunks
    assert key not in hooks._JOINS_PENDING  # a later chunk schedules a join again


def test_a_chain_close_retry_when_the_store_closes_stops_with_a_warning_not_an_error(caplog, monkeypatch):
    """The evidence-close retry (after a failed close at the decision) meets a closed store the same way: it leaves
    the chain to ``close-chains`` and says so, without a stack or an error."""
    calls: list[str] = []
    monkeypatch.setattr(hooks, "time", SimpleNamespace(sleep=lambda _s: None, monotonic=time.monotonic))
    with caplog.at_level(logging.INFO, logger="remote_tuk.live.hooks"):
        hooks._close_later(7, lambda: _Session(calls), _ClosedStore())
    assert calls == []  # the database is not asked: nothing to close into
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("close-chains" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
