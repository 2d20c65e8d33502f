"""Requests from app nodes to one media node over Redis.

A request is a JSON object pushed (``RPUSH``) on the node's list ``<p>:rpc:<name>``::

    {"id": "<32 hex>", "method": "candidate_offer", "args": {...}, "reply": "<p>:reply:<id>", "deadline": <unix s>}

The node takes requests with ``BLPOP``, validates each one (the method is one of :data:`METHODS`, its arguments match
the method's model exactly), runs it on a worker thread and pushes the reply on the request's own key, which
expires soon after::

    {"ok": true, "result": ...}
    {"ok": false, "error": {"kind": "bad_request" | "proctor" | "internal", "code": "...", "message": "..."}}

A request that cannot be parsed, names no method or carries bad arguments gets a ``bad_request`` reply when it names
a well-formed reply key, and is dropped (logged) otherwise; it never stops the node. A request whose deadline has
passed when the node takes it is dropped unrun (its caller has given up and may have re-placed the session).

The caller waits on its reply key in short steps and gives up early when the node's heartbeat has expired
(:class:`NodeGone`), so a killed node costs a caller the heartbeat's TTL, not the whole timeout.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

#: Largest request accepted by a node (an SDP offer is a few KiB; the engine refuses large ones itself).
MAX_REQUEST_BYTES = 256 * 1024
#: How long a reply waits for its caller.
REPLY_TTL_S = 30
_ID = re.compile(r"[0-9a-f]{32}")

SessionId = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_~\-]+$")
PeerId = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_:.\-]+$")
Sdp = Field(min_length=1, max_length=128 * 1024)
Reason = Field(default="left", min_length=1, max_length=40, pattern=r"^[a-z_]+$")
State = Field(pattern=r"^[a-z_]{1,20}$")
Source = Field(pattern=r"^[a-z]{1,20}$")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SessionArgs(_Args):
    session_id: str = SessionId


class OfferArgs(SessionArgs):
    sdp: str = Sdp


class ViewerOfferArgs(OfferArgs):
    viewer_id: str = PeerId
    can_talk: bool
    full: bool = True


class ViewerFullArgs(SessionArgs):
    viewer_id: str = PeerId
    on: bool


class RestartArgs(OfferArgs):
    peer_id: str = PeerId


class CloseViewerArgs(SessionArgs):
    viewer_id: str = PeerId
    reason: str = Reason


class CloseCandidateArgs(SessionArgs):
    reason: str = Reason


class StateArgs(SessionArgs):
    state: str = State


class SourceStateArgs(StateArgs):
    source: str = Source


class SourceUpdateArgs(SessionArgs):
    source: str = Source
    battery: float | None = Field(default=None, ge=0, le=1)
    charging: bool | None = None
    surface: str | None = Field(default=None, max_length=20)
    has_battery: bool = False
    has_charging: bool = False
    has_surface: bool = False


class QuietArgs(SessionArgs):
    on: bool


class NoArgs(_Args):
    pass


#: Every method a media node serves, with its arguments.
METHODS: dict[str, type[_Args]] = {
    "candidate_offer": OfferArgs,
    "source_offer": OfferArgs,
    "viewer_offer": ViewerOfferArgs,
    "viewer_full": ViewerFullArgs,
    "restart_ice": RestartArgs,
    "close_viewer": CloseViewerArgs,
    "close_candidate": CloseCandidateArgs,
    "has_session": SessionArgs,
    "stats": SessionArgs,
    "prepare": StateArgs,
    "follow_state": StateArgs,
    "prepare_source": SourceStateArgs,
    "watch": SessionArgs,
    "measure_camera": SessionArgs,
    "unwatch": SessionArgs,
    "sources_of": SessionArgs,
    "sources_update": SourceUpdateArgs,
    "proctoring_quiet": QuietArgs,
    "proctoring_metrics": SessionArgs,
    "ping": NoArgs,
}


class RpcError(RuntimeError):
    """A media node answered with an error (``kind``, ``code``, ``message`` as in its reply)."""

    def __init__(self, kind: str, code: str, message: str) -> None:
        super().__init__(f"{kind}/{code}: {message}")
        self.kind, self.code, self.message = kind, code, message


class RpcTimeout(RuntimeError):
    """No reply within the timeout."""


class NodeGone(RuntimeError):
    """The node's heartbeat expired while the caller waited."""


def _error(kind: str, code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": kind, "code": code, "message": message[:500]}}


class RpcServer:
    """Takes the requests of one node's list and runs them with *handlers* (``method -> fn(args model)``)."""

    def __init__(self, redis: Any, queue: str, reply_prefix: str, handlers: dict[str, Callable[[Any], Any]],
                 workers: int = 8) -> None:
        missing = set(METHODS) - set(handlers)
        if missing:
            raise ValueError(f"no handler for {sorted(missing)}")
        self.redis = redis
        self.queue = queue
        self.reply_prefix = reply_prefix
        self.handlers = handlers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="media-rpc")
        self._stop = threading.Event()
        self.served = 0

    def handle(self, raw: bytes | str) -> tuple[str | None, dict[str, Any] | None]:
        """One request → (reply key or None, reply or None). None reply: dropped (expired). Never raises."""
        if len(raw) > MAX_REQUEST_BYTES:
            return None, _error("bad_request", "too_large", "request too large")
        try:
            req = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None, _error("bad_request", "bad_json", "request is not JSON")
        if not isinstance(req, dict):
            return None, _error("bad_request", "bad_request", "request is not an object")
        rid, reply = req.get("id"), req.get("reply")
        key = reply if (isinstance(rid, str) and _ID.fullmatch(rid) and reply == f"{self.reply_prefix}{rid}") else None
        if key is None:
            return None, _error("bad_request", "bad_reply", "request has no valid id/reply key")
        deadline = req.get("deadline")
        if not isinstance(deadline, int | float) or isinstance(deadline, bool):
            return key, _error("bad_request", "bad_deadline", "deadline must be a number")
        if time.time() > deadline:
            return key, None
        method = req.get("method")
        model = METHODS.get(method) if isinstance(method, str) else None
        if model is None:
            return key, _error("bad_request", "unknown_method", f"unknown method {str(method)[:40]!r}")
        args = req.get("args", {})
        if not isinstance(args, dict):
            return key, _error("bad_request", "bad_args", "args must be an object")
        try:
            parsed = model.model_validate(args)
        except ValidationError as err:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or "args" for e in err.errors())
            return key, _error("bad_request", "bad_args", f"{method}: invalid {fields}")
        try:
            return key, {"ok": True, "result": self.handlers[method](parsed)}
        except RpcError as err:  # a handler's own refusal (e.g. an unknown state name)
            return key, _error(err.kind, err.code, err.message)
        except Exception as err:  # every failure is a reply; the node goes on
            from proctor.errors import ProctorError

            if isinstance(err, ProctorError):
                return key, _error("proctor", err.code, err.message)
            log.exception("media request %s failed", method)
            return key, _error("internal", type(err).__name__, str(err))

    def _run(self, raw: bytes) -> None:
        key, reply = self.handle(raw)
        self.served += 1
        if reply is None:
            log.info("media request dropped (its deadline passed)")
            return
        if key is None:
            log.warning("media request without a reply key dropped: %s", reply["error"])
            return
        try:
            body = json.dumps(reply, default=str)
        except (TypeError, ValueError) as err:
            body = json.dumps(_error("internal", "unserialisable", str(err)))
        pipe = self.redis.pipeline()
        pipe.rpush(key, body)
        pipe.expire(key, REPLY_TTL_S)
        pipe.execute()

    def serve(self) -> None:
        """Until :meth:`stop`: take requests (``BLPOP``, 1 s steps) and hand them to the workers."""
        while not self._stop.is_set():
            try:
                item = self.redis.blpop([self.queue], timeout=1)
            except Exception:  # Redis gone for a moment: retry, the heartbeat says whether we count as alive
                log.warning("media node: reading requests failed", exc_info=True)
                self._stop.wait(0.5)
                continue
            if item is not None:
                self._pool.submit(self._run, item[1])

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=False)


class RpcClient:
    def __init__(self, redis: Any, prefix: str, timeout_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.timeout_s = timeout_s

    def call(self, node: str, method: str, args: dict[str, Any], *, alive: Callable[[], bool] | None = None,
             timeout_s: float | None = None, queue_ttl_s: int = 60) -> Any:
        """Run *method* on *node*; returns its result or raises :class:`RpcError`, :class:`RpcTimeout` or
        :class:`NodeGone` (``alive()`` turned false while waiting)."""
        timeout = timeout_s or self.timeout_s
        rid = uuid.uuid4().hex
        reply = f"{self.prefix}:reply:{rid}"
        queue = f"{self.prefix}:rpc:{node}"
        body = json.dumps({"id": rid, "method": method, "args": args, "reply": reply,
                           "deadline": time.time() + timeout})
        pipe = self.redis.pipeline()
        pipe.rpush(queue, body)
        pipe.expire(queue, queue_ttl_s)  # a dead node's list does not grow for ever
        pipe.execute()
        end = time.monotonic() + timeout
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                self.redis.lrem(queue, 1, body)  # not taken yet: a node restarted under this name must not run it
                raise RpcTimeout(f"{method} on {node}: no reply in {timeout:.0f} s")
            got = self.redis.blpop([reply], timeout=max(0.01, min(0.5, remaining)))
            if got is not None:
                answer = json.loads(got[1])
                if answer.get("ok"):
                    return answer.get("result")
                error = answer.get("error") or {}
                raise RpcError(str(error.get("kind")), str(error.get("code")), str(error.get("message")))
            if alive is not None and not alive():
                self.redis.lrem(queue, 1, body)
                raise NodeGone(f"{method} on {node}: the node's heartbeat expired")
