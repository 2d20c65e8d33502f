"""The one asyncio loop thread that owns every aiortc object.

aiortc objects are created and touched only on this thread. Other threads (Flask request handlers, Socket.IO handlers,
workers) hand coroutines to it with :meth:`RtcLoop.run` and wait with a timeout::

    loop = RtcLoop()
    loop.start()
    answer = loop.run(engine_coro(), timeout=10)
    loop.stop()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from proctor.errors import EngineNotRunning, EngineTimeout

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RtcLoop:
    """A dedicated event loop running in its own daemon thread."""

    def __init__(self, name: str = "proctor-rtc") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._loop is not None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise EngineNotRunning("the RTC loop is not started")
        return self._loop

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the loop thread (idempotent)."""
        with self._lock:
            if self.running:
                return
            self._ready.clear()
            self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
            self._thread.start()
        if not self._ready.wait(10):
            raise EngineNotRunning("the RTC loop thread did not start")

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                self._loop = None

    def stop(self, shutdown: Callable[[], Awaitable[Any]] | None = None, timeout: float = 10.0) -> None:
        """Stop the loop: optionally await *shutdown()* on it first, then cancel what is left and join the thread."""
        with self._lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None or not thread.is_alive():
                self._thread = None
                return
            if shutdown is not None:
                try:
                    asyncio.run_coroutine_threadsafe(_await(shutdown()), loop).result(timeout)
                except (concurrent.futures.TimeoutError, TimeoutError):
                    logger.warning("RTC loop shutdown hook did not finish in %.1f s", timeout)
                except Exception:
                    logger.exception("RTC loop shutdown hook failed")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("RTC loop thread did not stop in %.1f s", timeout)
            self._thread = None

    # -- handing work to the loop ----------------------------------------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule *coro* on the loop and return a concurrent future (does not wait)."""
        if not self.running:
            coro.close()
            raise EngineNotRunning("the RTC loop is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run *coro* on the loop from another thread and wait at most *timeout* seconds for its result.

        Exceptions raised by the coroutine propagate unchanged. On timeout the coroutine is cancelled and
        :class:`EngineTimeout` is raised. Calling this from the loop thread itself would deadlock and raises
        ``RuntimeError``.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("RtcLoop.run() called from the loop thread; await the coroutine instead")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except (concurrent.futures.TimeoutError, TimeoutError) as exc:
            future.cancel()
            raise EngineTimeout(f"the RTC loop did not answer within {timeout:.1f} s") from exc

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a plain callback on the loop thread (fire and forget)."""
        self.loop.call_soon_threadsafe(callback, *args)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
