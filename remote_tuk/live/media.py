"""The process's media engine (``proctor.rtc.engine.MediaEngine``) wired to the evidence store, the database and
Socket.IO: recording segments become evidence, engine events become evidence events, downtime rows and page notices.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
from collections import deque
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from config import Settings
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.live import services

log = logging.getLogger(__name__)

NAMESPACE = "/live"
#: Decoded candidate frames per second handed to analysis (the TUK check's camera, light and face measurement).
ANALYSIS_FPS = 2.0
FRAMES_KEPT = 24

# Engine event types that go to the pages as they happen.
_PAGE_EVENTS = {"peer.joined", "peer.left", "peer.state", "media.stalled", "media.resumed", "media.started"}


class MediaHub:
    """Holds one MediaEngine per process, created on first use; ``init_app`` records what it needs."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._frames: dict[str, deque[Any]] = {}
        self.settings: Settings | None = None
        self.db: Any = None
        self.evidence: Any = None
        self.socketio: Any = None

    def init_app(self, app: Any, settings: Settings, db: Any, evidence: Any, socketio: Any) -> None:
        self.settings, self.db, self.evidence, self.socketio = settings, db, evidence, socketio
        app.extensions["rtuk_media"] = self

    @property
    def engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                assert self.settings is not None
                from proctor.rtc.engine import MediaEngine

                if self.settings.rtc.loopback_ice:
                    from proctor.rtc.testing import loopback_ice

                    self._stack.enter_context(loopback_ice())
                from proctor.rtc.engine import EngineOptions

                self._engine = MediaEngine(
                    self.settings.rtc,
                    sink=_Sink(self),
                    on_event=self._on_event,
                    on_frame=self._on_frame,
                    options=EngineOptions(analysis_fps=ANALYSIS_FPS),
                ).start()
                atexit.register(self.stop)
            return self._engine

    # --- sampled frames for the TUK check ------------------------------------------------------------------------

    def watch(self, public_id: str) -> None:
        """Keep the next sampled frames of this session (the TUK check's camera measurement)."""
        with self._lock:
            self._frames[public_id] = deque(maxlen=FRAMES_KEPT)

    def take_frames(self, public_id: str) -> list[Any]:
        with self._lock:
            frames = self._frames.pop(public_id, None)
        return list(frames or [])

    def _on_frame(self, frame: Any) -> None:
        with self._lock:
            kept = self._frames.get(frame.session_id)
            if kept is not None:
                kept.append(frame)

    @property
    def running(self) -> bool:
        return self._engine is not None

    def stop(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.stop()
                self._engine = None
            self._stack.close()

    def stats(self, public_id: str) -> dict[str, Any] | None:
        if self._engine is None or public_id not in self._engine.session_ids():
            return None
        return self._engine.stats(public_id)

    # --- engine callbacks (the engine's worker thread) ------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        try:
            with self.db.new_session() as db:
                session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == event.session_id))
                if session is None:
                    return
                data = dict(event.data)
                if event.type == "media.stalled":
                    services.downtime_started(db, session, _utc(event.at_utc), float(data.get("silent_s", 0)))
                elif event.type == "media.resumed":
                    services.downtime_ended(db, session, _utc(event.at_utc), float(data.get("downtime_s", 0)))
                services.record_event(
                    self.evidence.store,
                    session,
                    event.type,
                    data={"peer": event.peer_id, "engine_media_s": event.media_s, **data},
                    media_s=services.live_elapsed(session),
                )
                clock = services.clock(db, session)
            if event.type in _PAGE_EVENTS:
                self.socketio.emit(
                    "peer",
                    {
                        "type": event.type,
                        "role": data.get("role") or ("candidate" if event.peer_id == "candidate" else None),
                        "peer": event.peer_id,
                        "data": _jsonable(data),
                        "clock": clock,
                    },
                    to=room_of(event.session_id),
                    namespace=NAMESPACE,
                )
        except Exception:
            log.exception("media event %s for %s not recorded", event.type, event.session_id)


class _Sink:
    """``proctor.sink.EvidenceSink`` over the evidence store (server-side recording segments)."""

    def __init__(self, hub: MediaHub) -> None:
        self.hub = hub

    def append(self, session_id: str, type: str, data: bytes, metadata: Mapping[str, Any], media_range: Any) -> Any:
        with self.hub.db.new_session() as db:
            session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == session_id))
            if session is None:
                raise LookupError(f"unknown session {session_id}")
            store = self.hub.evidence.store
            services.ensure_evidence(store, session)
            rng = None
            if media_range is not None:
                rng = {"start_ms": int(media_range.start_s * 1000), "end_ms": int(media_range.end_s * 1000)}
                metadata = {
                    **metadata,
                    "start_utc_ms": int(media_range.start_utc * 1000),
                    "end_utc_ms": int(media_range.end_utc * 1000),
                }
            return store.append(
                session_id,
                type,
                data,
                metadata=services.entry_metadata(dict(metadata)),
                actor=services.SYSTEM,
                media_range=rng,
                candidate_id=str(session.candidate_id),
            )


def room_of(public_id: str) -> str:
    return f"live:{public_id}"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
