"""Readiness checks of one node. Each check takes what it probes as an argument and answers within a bounded time.

A node is *ready* (it may take traffic) when the database answers, every configured Redis answers, the evidence log's
directory takes a durable write and the media loop thread (when this node has started one) runs a task. The object
store is reported but does not make the node unready: appends are spooled locally while it is away and acknowledged
only once durable (docs/EVIDENCE.md), so taking every node out of the proxy would lose more than it saves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, text

#: How long one probe may take before it counts as failed.
PROBE_TIMEOUT_S = 3.0
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    #: "ok", "failed", "degraded" (reported, not blocking) or "off" (not configured here)
    status: str
    detail: str = ""
    ms: int = 0


@dataclass
class Readiness:
    node: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"node": self.node, "ready": self.ready, "checks": [asdict(c) for c in self.checks]}


def _timed(name: str, probe: Callable[[], str], *, blocking: bool = True) -> Check:
    """Run *probe* in a helper thread, at most PROBE_TIMEOUT_S; its return value is the detail of a passed check."""
    started = time.perf_counter()
    future = _pool.submit(probe)
    try:
        detail = future.result(timeout=PROBE_TIMEOUT_S)
        ok, status = True, "ok"
    except concurrent.futures.TimeoutError:
        detail, ok, status = f"no answer within {PROBE_TIMEOUT_S:.0f} s", False, "failed"
    except Exception as err:  # noqa: BLE001 - every failure of a probe is reported, none is raised
        detail, ok, status = f"{type(err).__name__}: {err}"[:300], False, "failed"
    if not ok and not blocking:
        ok, status = True, "degraded"
    return Check(name, ok, status, detail, int((time.perf_counter() - started) * 1000))


def check_database(engine: Engine) -> Check:
    def probe() -> str:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return engine.dialect.name

    return _timed("database", probe)


def check_redis(name: str, url: str) -> Check:
    """PING the Redis at *url* (the Socket.IO message queue or the rate-limit storage); "off" when not Redis."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return Check(name, True, "off", "in-process")

    def probe() -> str:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
        return "ping"

    return _timed(name, probe)


def check_evidence_log(store: Any) -> Check:
    """The evidence data directory (keys, spool, and the log unless it is shared) takes a synced write (an unnamed
    temporary file); a log shared in PostgreSQL (``RTUK_EVIDENCE_LOG_URL``) answers a query too."""

    def probe() -> str:
        with tempfile.TemporaryFile(dir=store.dir) as fh:
            fh.write(b"readyz")
            fh.flush()
            os.fsync(fh.fileno())
        if getattr(store.log, "shared", False):
            store.log.ping()
            return f"{store.dir}; log in PostgreSQL"
        return str(store.dir)

    return _timed("evidence_log", probe)


def check_object_store(store: Any) -> Check:
    """The S3 server answers a listing; while it does not, appends go to the spool (reported, not blocking)."""
    if store.backend.name != "s3":
        return Check("evidence_objects", True, "off", f"{store.backend.name} store in the evidence data directory")

    def probe() -> str:
        next(iter(store.backend.list_keys("readyz/")), None)
        return f"reachable, spool depth {store.spool_depth()}"

    return _timed("evidence_objects", probe, blocking=False)


def check_media(hub: Any) -> Check:
    """The media loop thread runs a task (only when this node has started its media engine). With media nodes: how
    many are alive (none is reported, not blocking: the app still serves everything but media)."""
    if getattr(hub, "remote", None) is not None:
        nodes = hub.remote.registry.nodes()
        names = ", ".join(f"{n.name} ({n.sessions} sessions)" for n in nodes)
        return Check("media_loop", True, "ok" if nodes else "degraded",
                     f"media nodes: {names}" if nodes else "no media node alive")
    if not hub.running:
        return Check("media_loop", True, "off", "media engine not started on this node")

    def probe() -> str:
        engine = hub.engine
        engine.loop.run(asyncio.sleep(0), timeout=PROBE_TIMEOUT_S)
        return f"{len(engine.session_ids())} sessions"

    return _timed("media_loop", probe)


def readiness(node: str, checks: dict[str, Callable[[], Check]]) -> Readiness:
    """Run the *checks* by name (callables, so that one failing to even start, e.g. the evidence store not
    opening, is a failed check too)."""
    result = Readiness(node)
    for name, run in checks.items():
        try:
            result.checks.append(run())
        except Exception as err:  # noqa: BLE001
            result.checks.append(Check(name, False, "failed", f"{type(err).__name__}: {err}"[:300]))
    return result
