"""What ``remote_tuk.extensions.media`` forwards to on an app node with ``RTUK_MEDIA_NODES=redis``.

Every call names a session; the session is placed on a node (:meth:`Registry.place`) by the calls that bring media
(offers, ``prepare``, a check's ``watch``, a source's state) and only looked up by the others (stats, closes, state
changes: no node holds media of an unplaced session, so there is nothing to do). A call whose node dies while it
waits is placed again and sent once more; with no node alive the page gets :class:`MediaUnavailable` (503), and its
reconnect loop (static/js/live-common.js ``keepConnected``) offers again after 1, 2, 4 … 10 s.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from remote_tuk.errors import DomainError
from remote_tuk.medianode import rpc
from remote_tuk.medianode.registry import NoMediaNode, Registry

log = logging.getLogger(__name__)


class MediaUnavailable(DomainError):
    status = 503
    code = "media_unavailable"


class MediaNodeError(DomainError):
    status = 502
    code = "media_node_error"


_UNAVAILABLE = "Server media sedang tidak tersedia; halaman akan mencoba lagi sendiri."


def _split(session_id: str) -> str:
    from remote_tuk.sources.services import split_engine_id

    return split_engine_id(session_id)[0]


def _proctor_error(code: str, message: str) -> Exception:
    """The node's ProctorError as the same class here (the web layer maps it as for a local engine)."""
    from proctor import errors

    classes = [errors.ProctorError]
    while classes:
        cls = classes.pop()
        if getattr(cls, "code", None) == code:
            return cls(message)  # type: ignore[no-any-return]
        classes.extend(cls.__subclasses__())
    err = errors.ProctorError(message)
    err.code = code
    return err


class RemoteMedia:
    def __init__(self, settings: Any) -> None:
        import redis

        self.redis = redis.Redis.from_url(settings.media_nodes_redis_url)
        self.registry = Registry(self.redis, settings.media_nodes_prefix, settings.media_node_ttl_s)
        self.client = rpc.RpcClient(self.redis, settings.media_nodes_prefix, settings.media_rpc_timeout_s)
        self.engine = RemoteEngine(self)
        self.sources = RemoteSources(self)
        self.proctoring = RemoteProctoring(self) if settings.rtc.proctoring else None

    def call(self, public_id: str, method: str, *, place: bool, default: Any = None, **args: Any) -> Any:
        """Run *method* on the node of *public_id* (placing the session first when *place*); *default* when the
        session is on no live node and *place* is false."""
        for attempt in (1, 2):
            try:
                node = self.registry.place(public_id) if place else self.registry.placed_alive(public_id)
            except NoMediaNode:
                raise MediaUnavailable(_UNAVAILABLE) from None
            except RedisError as err:  # Redis away
                log.warning("media nodes: placing %s failed: %s", public_id, err)
                raise MediaUnavailable(_UNAVAILABLE) from None
            if node is None:
                return default
            try:
                return self.client.call(node, method, args, alive=lambda node=node: self.registry.alive(node))
            except rpc.NodeGone:
                log.warning("media node %s died during %s of %s (attempt %d)", node, method, public_id, attempt)
                if not place:
                    return default
            except RedisError as err:
                log.warning("media nodes: %s of %s failed in Redis: %s", method, public_id, err)
                raise MediaUnavailable(_UNAVAILABLE) from None
            except rpc.RpcTimeout:
                log.warning("media node %s did not answer %s of %s", node, method, public_id)
                raise MediaUnavailable(_UNAVAILABLE) from None
            except rpc.RpcError as err:
                if err.kind == "proctor":
                    raise _proctor_error(err.code, err.message) from None
                log.error("media node %s refused %s: %s", node, method, err)
                raise MediaNodeError(f"Server media menolak permintaan: {err.code}") from None
        raise MediaUnavailable(_UNAVAILABLE)

    def node_of(self, public_id: str) -> str | None:
        return self.registry.placed_alive(public_id)


class _PlacedSessions:
    """``public_id in media.engine.session_ids()``: asks the session's node (never places)."""

    def __init__(self, remote: RemoteMedia) -> None:
        self.remote = remote

    def __contains__(self, session_id: object) -> bool:
        if not isinstance(session_id, str):
            return False
        return bool(self.remote.call(_split(session_id), "has_session", place=False, default=False,
                                     session_id=session_id))


class RemoteEngine:
    """The methods of ``proctor.rtc.engine.MediaEngine`` the routes and Socket.IO handlers call."""

    def __init__(self, remote: RemoteMedia) -> None:
        self.remote = remote

    def _on(self, session_id: str, method: str, place: bool = True, **args: Any) -> Any:
        return self.remote.call(_split(session_id), method, place=place, session_id=session_id, **args)

    def _placed(self, session_id: str, method: str, **args: Any) -> Any:
        from proctor.errors import UnknownSession

        missing = object()
        result = self.remote.call(_split(session_id), method, place=False, default=missing, session_id=session_id,
                                  **args)
        if result is missing:
            raise UnknownSession(f"no media node holds session {session_id!r}")
        return result

    def candidate_offer(self, session_id: str, sdp: str) -> str:
        return str(self._on(session_id, "candidate_offer", sdp=sdp))

    def source_offer(self, session_id: str, sdp: str) -> str:
        return str(self._on(session_id, "source_offer", sdp=sdp))

    def viewer_offer(self, session_id: str, viewer_id: str, sdp: str, can_talk: bool, full: bool = True) -> str:
        return str(self._on(session_id, "viewer_offer", viewer_id=viewer_id, sdp=sdp, can_talk=can_talk, full=full))

    def restart_ice(self, session_id: str, peer_id: str, sdp: str) -> str:
        # placed: after a node died, the candidate's restart is its new offer on another node (a viewer's finds no
        # peer there, answers unknown_peer, and the page offers anew)
        return str(self._on(session_id, "restart_ice", peer_id=peer_id, sdp=sdp))

    def viewer_full(self, session_id: str, viewer_id: str, on: bool) -> None:
        self._placed(session_id, "viewer_full", viewer_id=viewer_id, on=on)

    def close_viewer(self, session_id: str, viewer_id: str, reason: str = "left") -> None:
        self._placed(session_id, "close_viewer", viewer_id=viewer_id, reason=reason)

    def close_candidate(self, session_id: str, reason: str = "left") -> None:
        self._placed(session_id, "close_candidate", reason=reason)

    def session_ids(self) -> _PlacedSessions:
        return _PlacedSessions(self.remote)


class RemoteSources:
    """``remote_tuk.sources.services.SourceStatus`` held by the session's media node (its engine events update it)."""

    def __init__(self, remote: RemoteMedia) -> None:
        self.remote = remote

    def update(self, public_id: str, source: str, **values: Any) -> dict[str, Any]:
        args: dict[str, Any] = {"source": source}
        for key in ("battery", "charging", "surface"):
            if key in values:
                args[key], args[f"has_{key}"] = values[key], True
        return dict(self.remote.call(public_id, "sources_update", place=True, session_id=public_id, **args))

    def of(self, public_id: str) -> dict[str, dict[str, Any]]:
        from remote_tuk.sources.services import SOURCES

        nothing = {s: {"state": "none", "battery": None} for s in SOURCES}
        return dict(self.remote.call(public_id, "sources_of", place=False, default=nothing, session_id=public_id))

    def forget(self, public_id: str) -> None:
        """Forgotten on the node by ``follow_state`` at the session's end."""


class RemoteProctoring:
    """The two things the app asks of the live analysis: the quiet phase and the metrics the staff pages show."""

    def __init__(self, remote: RemoteMedia) -> None:
        self.remote = remote

    def set_quiet(self, public_id: str, on: bool) -> bool:
        return bool(self.remote.call(public_id, "proctoring_quiet", place=False, default=False, session_id=public_id,
                                     on=on))

    def metrics(self, public_id: str) -> dict[str, Any] | None:
        try:
            answer = self.remote.call(public_id, "proctoring_metrics", place=False, session_id=public_id)
        except MediaUnavailable:
            return None
        return None if not answer else answer.get("metrics")

    def stop(self) -> None:
        """Nothing runs here."""
