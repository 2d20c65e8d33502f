"""The media-node process: ``python -m remote_tuk media-node --name media-1``.

It is the app (configuration, database, evidence store, Socket.IO as a client of the Redis message queue) without
HTTP: the real :class:`remote_tuk.live.media.MediaHub` with its engine (aiortc loop thread) and live proctoring,
a heartbeat in Redis carrying its load, and the requests of the app nodes (:mod:`.rpc`). Its engine events,
recording segments and proctoring findings are written and emitted here exactly as an app node's own engine does.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from typing import Any

from remote_tuk.medianode import rpc
from remote_tuk.medianode.registry import Registry

log = logging.getLogger(__name__)


class MediaNode:
    def __init__(self, app: Any, name: str) -> None:
        import redis

        settings = app.config["RTUK"]
        self.app = app
        self.name = name
        self.hub = app.extensions["rtuk_media"]
        self.hub.serve_locally()
        self.redis = redis.Redis.from_url(settings.media_nodes_redis_url)
        self.registry = Registry(self.redis, settings.media_nodes_prefix, settings.media_node_ttl_s)
        self.server = rpc.RpcServer(self.redis, self.registry.queue_key(name), f"{settings.media_nodes_prefix}:reply:",
                                    self._handlers())
        self._stop = threading.Event()
        self._cpu = (time.monotonic(), _cpu_seconds())
        self._threads: list[threading.Thread] = []

    # --- load and heartbeat -----------------------------------------------------------------------------------------

    def load(self) -> tuple[int, float]:
        """Engine sessions, and this process's CPU use since the last call (1.0 = one core busy)."""
        now, cpu = time.monotonic(), _cpu_seconds()
        then, before = self._cpu
        self._cpu = (now, cpu)
        used = (cpu - before) / (now - then) if now > then else 0.0
        sessions = len(self.hub.engine.session_ids()) if self.hub.running else 0
        return sessions, used

    def beat(self) -> None:
        sessions, cpu = self.load()
        self.registry.heartbeat(self.name, sessions, cpu, os.getpid())

    def _heartbeat_loop(self) -> None:
        every = self.registry.ttl_s / 3
        while not self._stop.wait(every):
            try:
                self.beat()
            except Exception:  # Redis away: the node counts as dead meanwhile, and beats again when it returns
                log.warning("media node %s: heartbeat failed", self.name, exc_info=True)

    # --- running ----------------------------------------------------------------------------------------------------

    def start(self) -> MediaNode:
        self.hub.engine  # noqa: B018 - start the engine (aiortc loop) before announcing the node
        self.beat()
        for target, label in ((self._heartbeat_loop, "heartbeat"), (self.server.serve, "requests")):
            thread = threading.Thread(target=target, name=f"media-node-{label}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("media node %s serving %s", self.name, self.registry.queue_key(self.name))
        return self

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass

    def stop(self) -> None:
        self._stop.set()
        self.server.stop()
        try:
            self.registry.leave(self.name)
        except Exception:
            log.warning("media node %s: could not leave the registry", self.name, exc_info=True)
        for thread in self._threads:
            thread.join(timeout=5)
        self.hub.stop()

    # --- the requests -----------------------------------------------------------------------------------------------

    def _in_app(self, fn: Any) -> Any:
        def run(args: Any) -> Any:
            with self.app.app_context():
                return fn(args)

        return run

    def _handlers(self) -> dict[str, Any]:
        from remote_tuk.assessment.models import SessionState

        hub = self.hub

        def state(args: Any) -> SessionState:
            try:
                return SessionState(args.state)
            except ValueError:
                raise rpc.RpcError("bad_request", "bad_args", f"unknown state {args.state!r}") from None

        def source(a: Any) -> str:
            from remote_tuk.sources.services import SOURCES

            if a.source not in SOURCES:
                raise rpc.RpcError("bad_request", "bad_args", f"unknown source {a.source!r}")
            return str(a.source)

        def has_session(a: Any) -> bool:
            return hub.running and a.session_id in hub.engine.session_ids()

        def measure(a: Any) -> dict[str, Any]:
            frames, camera = hub.measure_camera(a.session_id)
            if camera is None:
                return {"frames": frames, "camera": None}
            plain = dataclasses.asdict(camera)
            plain["resolution"] = [int(v) for v in camera.resolution]
            plain["face_visible"] = bool(camera.face_visible)
            for key in ("lighting", "lighting_min", "face_share", "multiple_faces_share", "covered_share"):
                plain[key] = float(plain[key])
            plain["fps"] = None if camera.fps is None else float(camera.fps)
            for key in ("frames_received", "frames_analysed"):
                plain[key] = int(plain[key])
            return {"frames": frames, "camera": plain}

        def sources_update(a: Any) -> dict[str, Any]:
            values = {k: getattr(a, k) for k in ("battery", "charging", "surface") if getattr(a, f"has_{k}")}
            return hub.sources.update(a.session_id, source(a), **values)

        def metrics(a: Any) -> Any:
            return None if hub.proctoring is None else {"metrics": hub.proctoring.metrics(a.session_id)}

        handlers = {
            "candidate_offer": lambda a: hub.engine.candidate_offer(a.session_id, a.sdp),
            "source_offer": lambda a: hub.engine.source_offer(a.session_id, a.sdp),
            "viewer_offer": lambda a: hub.engine.viewer_offer(a.session_id, a.viewer_id, a.sdp, a.can_talk,
                                                              full=a.full),
            "viewer_full": lambda a: hub.engine.viewer_full(a.session_id, a.viewer_id, a.on),
            "restart_ice": lambda a: hub.engine.restart_ice(a.session_id, a.peer_id, a.sdp),
            "close_viewer": lambda a: hub.engine.close_viewer(a.session_id, a.viewer_id, reason=a.reason),
            "close_candidate": lambda a: hub.engine.close_candidate(a.session_id, reason=a.reason),
            "has_session": has_session,
            "stats": lambda a: hub.stats(a.session_id),
            "prepare": lambda a: hub.prepare(a.session_id, state(a)),
            "follow_state": lambda a: hub.follow_state(a.session_id, state(a)),
            "prepare_source": lambda a: hub.prepare_source(a.session_id, source(a), state(a)),
            "watch": lambda a: hub.watch(a.session_id),
            "measure_camera": measure,
            "unwatch": lambda a: len(hub.take_frames(a.session_id)),
            "sources_of": lambda a: hub.sources.of(a.session_id),
            "sources_update": sources_update,
            "proctoring_quiet": lambda a: hub.proctoring is not None and hub.proctoring.set_quiet(a.session_id, a.on),
            "proctoring_metrics": metrics,
            "ping": lambda a: {"name": self.name, "pid": os.getpid()},
        }
        return {method: self._in_app(fn) for method, fn in handlers.items()}


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


#: The only paths a media node answers over HTTP (its operations endpoints; docs/DEPLOYMENT.md "Operations").
OPS_PATHS = ("/healthz", "/readyz", "/metrics")


def ops_only(app: Any) -> Any:
    """The app's WSGI callable restricted to :data:`OPS_PATHS` (everything else 404, the pages are not served)."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") not in OPS_PATHS or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"not found"]
        return app.wsgi_app(environ, start_response)

    return wsgi


def serve_ops(app: Any, host: str, port: int) -> Any:
    """``/healthz``, ``/readyz`` and ``/metrics`` of this node on *host*:*port* (a thread), for the operator's
    monitoring: the engine's sessions and inbound bitrate, evidence appends, the media loop."""
    from werkzeug.serving import make_server

    server = make_server(host, port, ops_only(app), threaded=True)
    threading.Thread(target=server.serve_forever, name="media-node-ops", daemon=True).start()
    return server


def run(app: Any, name: str, ops_port: int | None = None, ops_host: str = "127.0.0.1") -> None:
    """Serve as media node *name* until SIGTERM or SIGINT."""
    import signal

    node = MediaNode(app, name).start()
    ops = serve_ops(app, ops_host, ops_port) if ops_port else None

    def _stop(*_: Any) -> None:
        node._stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    node.wait()
    if ops is not None:
        ops.shutdown()
    node.stop()
