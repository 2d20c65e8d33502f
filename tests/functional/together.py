"""Run calls at the same moment (a barrier releases all threads at once), for race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_together(calls: list[Callable[[], Any]], timeout: float = 60) -> list[Any]:
    """Each call's result, or the exception it raised, in the order of *calls*."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def go(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as err:  # noqa: BLE001 - handed back to the test
            results[i] = err

    threads = [threading.Thread(target=go, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results
