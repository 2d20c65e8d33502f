from __future__ import annotations

import asyncio
import threading

import pytest

from proctor.errors import EngineNotRunning, EngineTimeout
from proctor.rtc.loop import RtcLoop


@pytest.fixture
def loop():
    rtc = RtcLoop("test-loop")
    rtc.start()
    yield rtc
    rtc.stop()


def test_run_executes_on_the_loop_thread_and_returns(loop: RtcLoop) -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert loop.run(where(), timeout=5) == "test-loop"
    assert loop.run(where(), timeout=5) == "test-loop"  # the same thread every time


def test_exceptions_propagate(loop: RtcLoop) -> None:
    async def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        loop.run(boom(), timeout=5)


def test_timeout_cancels_the_coroutine(loop: RtcLoop) -> None:
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(EngineTimeout):
        loop.run(slow(), timeout=0.2)
    assert cancelled.wait(2)


def test_run_from_the_loop_thread_is_refused(loop: RtcLoop) -> None:
    async def nested() -> None:
        async def inner() -> int:
            return 1

        loop.run(inner(), timeout=1)

    with pytest.raises(RuntimeError, match="loop thread"):
        loop.run(nested(), timeout=5)


def test_stop_runs_shutdown_then_cancels_pending_tasks() -> None:
    rtc = RtcLoop("test-stop")
    rtc.start()
    rtc.start()  # idempotent
    seen: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    rtc.submit(forever())

    async def shutdown() -> None:
        seen.append("shutdown")

    rtc.stop(shutdown)
    assert seen == ["shutdown", "cancelled"]
    assert not rtc.running

    async def nothing() -> None:
        return None

    with pytest.raises(EngineNotRunning):
        rtc.run(nothing(), timeout=1)
    rtc.stop()  # stopping twice is harmless
