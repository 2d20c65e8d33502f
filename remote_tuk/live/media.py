"""The process's media engine (``proctor.rtc.engine.MediaEngine``) wired to the evidence store, the database and
Socket.IO: recording segments become evidence on the session media clock, engine events become evidence events,
downtime rows and page notices.

What counts as downtime (docs/LIVE-PROTOCOL.md): only a loss of the candidate's media while the session is ``live``
or ``paused`` — a stall (the network dropped) or the candidate's page leaving — until their media is back. The
pre-session media test ending (the check page leaves) is its own event, ``media.ended`` in state checking/ready.
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
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.live import clock, services

log = logging.getLogger(__name__)
S = SessionState

NAMESPACE = "/live"
#: Decoded candidate frames per second handed to analysis (the TUK check's camera, light and face measurement).
ANALYSIS_FPS = 2.0
FRAMES_KEPT = 24
#: A watch for frames lasts at most this long (it also ends when the frames are taken or the candidate leaves).
WATCH_MAX_S = 120.0
#: States in which the candidate's missing media is downtime of the session.
SESSION_STATES = (S.LIVE, S.PAUSED)

# Engine event types that go to the pages as they happen.
_PAGE_EVENTS = {"peer.joined", "peer.left", "peer.state", "media.stalled", "media.resumed", "media.started",
                "media.ended"}


class MediaHub:
    """Holds one MediaEngine per process, created on first use; ``init_app`` records what it needs."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._frames: dict[str, deque[Any]] = {}
        self._watch_timers: dict[str, threading.Timer] = {}
        #: where each analysed frame's lag goes (the node's rtuk_analysis_lag_seconds; remote_tuk.ops sets it)
        self.lag_observer: Any = None
        self.settings: Settings | None = None
        self.db: Any = None
        self.evidence: Any = None
        self.socketio: Any = None
        #: live proctoring (issue 14): the analysis pool fed with the sampled frames of live sessions
        self.proctoring: Any = None
        #: the extra sources' (phone camera, screen share) latest connection state and battery (issue 19)
        from remote_tuk.sources.services import SourceStatus

        self._local_sources = SourceStatus()
        self.sources: Any = self._local_sources
        #: with ``RTUK_MEDIA_NODES=redis`` (remote_tuk/medianode/): the media nodes this process signals through
        #: Redis instead of running an engine itself
        self.remote: Any = None

    def init_app(self, app: Any, settings: Settings, db: Any, evidence: Any, socketio: Any) -> None:
        self.settings, self.db, self.evidence, self.socketio = settings, db, evidence, socketio
        if settings.media_nodes == "redis":
            from remote_tuk.medianode.proxy import RemoteMedia

            if self._engine is not None:
                self.stop()  # an earlier app of this process ran the engine here (tests)
            if self.proctoring is not None:
                self.proctoring.stop()
            self.remote = RemoteMedia(settings)
            self.proctoring, self.sources = self.remote.proctoring, self.remote.sources
        else:
            self.serve_locally()
        app.extensions["rtuk_media"] = self

    def serve_locally(self) -> None:
        """Run the engine and the live analysis in this process (the default; a media node's own process)."""
        from remote_tuk.proctoring.runner import LiveProctoring

        assert self.settings is not None
        if self.proctoring is not None:
            self.proctoring.stop()
        self.remote, self.sources = None, self._local_sources
        evidence = self.evidence
        self.proctoring = (LiveProctoring(self.db.new_session, lambda: evidence.store, self._emit_staff)
                           if self.settings.rtc.proctoring else None)
        if self.proctoring is not None:
            self.proctoring.lag_observer = self._observe_lag

    def _observe_lag(self, lag_s: float) -> None:
        """Each analysed frame's lag, to the node's metric (``lag_observer``, set by ops) when there is one."""
        observer = self.lag_observer
        if observer is not None:
            observer(lag_s)

    def _emit_staff(self, event: str, payload: dict[str, Any], public_id: str, staff_only: bool = True) -> None:
        room = staff_room_of(public_id) if staff_only else room_of(public_id)
        self.socketio.emit(event, payload, to=room, namespace=NAMESPACE)

    @property
    def engine(self) -> Any:
        if self.remote is not None:
            return self.remote.engine
        with self._lock:
            if self._engine is None:
                assert self.settings is not None
                from proctor.rtc.engine import EngineOptions, MediaEngine

                if self.settings.rtc.loopback_ice:
                    from proctor.rtc.testing import loopback_ice

                    self._stack.enter_context(loopback_ice())
                self._engine = MediaEngine(
                    self.settings.rtc,
                    sink=_Sink(self),
                    on_event=self._on_event,
                    on_frame=self._on_frame,
                    on_audio=self._on_audio,
                    # decode nothing unless a watch asks for frames; record only while the session is live
                    options=EngineOptions(analysis_fps=0.0, record_from_start=False),
                ).start()
                atexit.register(self.stop)
            return self._engine

    @property
    def running(self) -> bool:
        """This process runs an engine (false on an app node whose media are on media nodes)."""
        return self._engine is not None

    @property
    def engaged(self) -> bool:
        """Media may exist for this process to close: its own engine runs, or media nodes hold them."""
        return self.remote is not None or self._engine is not None

    def stop(self) -> None:
        with self._lock:
            for timer in self._watch_timers.values():
                timer.cancel()
            self._watch_timers.clear()
            self._frames.clear()
            engine, self._engine = self._engine, None
        if self.proctoring is not None:
            self.proctoring.stop()
        if engine is not None:
            # outside the lock: stopping delivers the last events, whose callback takes the lock (unwatch)
            engine.stop()
        with self._lock:
            self._stack.close()

    def stats(self, public_id: str) -> dict[str, Any] | None:
        if self.remote is not None:
            return self.remote.call(public_id, "stats", place=False, session_id=public_id)  # type: ignore[no-any-return]
        if self._engine is None or public_id not in self._engine.session_ids():
            return None
        return self._engine.stats(public_id)

    # --- what the session's state asks of the engine ------------------------------------------------------------

    def prepare(self, public_id: str, state: SessionState) -> None:
        """Before an offer: the engine records while the session is live (also after a server restart), and the
        session is analysed while live (the candidate's media coming back after it ended opens it again)."""
        if self.remote is not None:
            self.remote.call(public_id, "prepare", place=True, session_id=public_id, state=state.value)
            return
        self.engine.record(public_id, state is S.LIVE)
        if state is S.LIVE:
            self.start_proctoring(public_id)

    def follow_state(self, public_id: str, state: SessionState) -> None:
        """After a transition: record and analyse while live; at the end, close the media and forget any watch."""
        if self.remote is not None:
            self.remote.call(public_id, "follow_state", place=False, session_id=public_id, state=state.value)
            return
        if state in (S.ENDED, S.DECIDED, S.CANCELLED):
            self.unwatch(public_id)
        if state is S.LIVE:
            self.start_proctoring(public_id)
        else:
            self.stop_proctoring(public_id)
        if state in (S.ENDED, S.DECIDED, S.CANCELLED) and self.proctoring is not None:
            self.proctoring.forget(public_id)
        if state in (S.ENDED, S.DECIDED, S.CANCELLED):
            self.sources.forget(public_id)
        if self._engine is None:
            return
        from remote_tuk.sources.services import SOURCES, engine_id

        for sid in (public_id, *(engine_id(public_id, s) for s in SOURCES)):
            if state in (S.ENDED, S.CANCELLED):
                if sid in self._engine.session_ids():
                    self._engine.close_session(sid, reason=state.value)
            elif sid == public_id or sid in self._engine.session_ids():
                self._engine.record(sid, state is S.LIVE)

    # --- live proctoring: the sampled frames of a live session go to the analysis pool ---------------------------

    def start_proctoring(self, public_id: str) -> None:
        """Analyse the session's candidate video at its profile's rate, with the KTP snapshot as the identity
        reference (idempotent)."""
        if self.proctoring is None or self._engine is None:
            return  # no media in this process yet: the first offer (prepare) starts it
        if not self.proctoring.is_open(public_id):
            try:
                self.proctoring.open(public_id, ktp=lambda: self._ktp(public_id))
            except Exception:  # e.g. the pool is full: the media goes on, the page says the analysis is not running
                log.exception("the live analysis of %s could not start", public_id)
                return
        self._apply_sampling(public_id)
        self._listen(public_id, True)

    def stop_proctoring(self, public_id: str) -> None:
        if self.proctoring is not None and self.proctoring.close(public_id):
            self._apply_sampling(public_id)
            self._listen(public_id, False)

    def _listen(self, public_id: str, on: bool) -> None:
        if self._engine is None:
            return
        try:
            self._engine.listen_audio(public_id, on)
        except Exception:
            log.debug("could not switch the audio analysis of %s", public_id, exc_info=True)

    def _on_audio(self, session_id: str, packet: bytes, at_utc: float) -> None:
        if self.proctoring is not None:
            self.proctoring.offer_audio(session_id, packet, at_utc)

    def _ktp(self, public_id: str) -> bytes | None:
        from remote_tuk.tuk.identity import find

        with self.db.new_session() as db:
            session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
            row = find(db, session) if session is not None else None
            if row is None or row.ktp_object is None:
                return None
            return bytes(self.evidence.store.read(row.ktp_object, services.SYSTEM))

    def _sampling_fps(self, public_id: str) -> float:
        with self._lock:
            watched = public_id in self._frames
        analysed = self.proctoring.fps(public_id) if self.proctoring is not None else 0.0
        return max(ANALYSIS_FPS if watched else 0.0, analysed)

    def _apply_sampling(self, public_id: str) -> None:
        if self._engine is None:
            return
        try:
            self._engine.sample_frames(public_id, self._sampling_fps(public_id))
        except Exception:
            log.debug("could not set the sampling of %s", public_id, exc_info=True)

    # --- sampled frames for the TUK check ------------------------------------------------------------------------

    def watch(self, public_id: str) -> None:
        """Decode the candidate's video and keep the next sampled frames (the TUK check's camera measurement). The
        watch ends when the frames are taken, when the candidate's media leaves, or after ``WATCH_MAX_S``; then the
        video is no longer decoded and the kept frames are freed."""
        if self.remote is not None:
            self.remote.call(public_id, "watch", place=True, session_id=public_id)
            return
        with self._lock:
            self._frames[public_id] = deque(maxlen=FRAMES_KEPT)
            old = self._watch_timers.pop(public_id, None)
            timer = threading.Timer(WATCH_MAX_S, self.unwatch, args=(public_id,))
            timer.daemon = True
            self._watch_timers[public_id] = timer
        if old is not None:
            old.cancel()
        timer.start()
        self.engine.sample_frames(public_id, self._sampling_fps(public_id))

    def take_frames(self, public_id: str) -> list[Any]:
        """The frames kept so far; the watch ends (see :meth:`watch`). On an app node with media nodes the frames stay
        on the node (measure them there with :meth:`measure_camera`): this only ends the watch."""
        if self.remote is not None:
            self.remote.call(public_id, "unwatch", place=False, session_id=public_id)
            return []
        with self._lock:
            frames = self._frames.get(public_id)
            taken = list(frames or [])
        self.unwatch(public_id)
        return taken

    def measure_camera(self, public_id: str) -> tuple[int, Any]:
        """The TUK check's camera measurement over the frames kept since :meth:`watch` (which ends): (frames, a
        ``proctor.analysis.CameraMeasurement`` or None without frames). Measured where the frames are."""
        if self.remote is not None:
            answer = self.remote.call(public_id, "measure_camera", place=False, session_id=public_id)
            if not answer or not answer.get("camera"):
                return (int(answer["frames"]) if answer else 0), None
            from proctor.analysis.tuk import CameraMeasurement

            return int(answer["frames"]), CameraMeasurement(**{**answer["camera"],
                                                                "resolution": tuple(answer["camera"]["resolution"])})
        frames = self.take_frames(public_id)
        if not frames:
            return 0, None
        from proctor.analysis import measure_camera_frames

        return len(frames), measure_camera_frames([f.i420 for f in frames], [f.media_s for f in frames],
                                                  fmt="yuv420p")

    def unwatch(self, public_id: str) -> None:
        with self._lock:
            self._frames.pop(public_id, None)
            timer = self._watch_timers.pop(public_id, None)
        if timer is not None:
            timer.cancel()
        self._apply_sampling(public_id)  # 0 unless the live analysis still wants frames

    def watching(self) -> dict[str, int]:
        """Sessions with a watch, and how many frames each keeps (diagnostics and tests)."""
        with self._lock:
            return {sid: len(frames) for sid, frames in self._frames.items()}

    def _on_frame(self, frame: Any) -> None:
        with self._lock:
            kept = self._frames.get(frame.session_id)
            if kept is not None:
                kept.append(frame)
        if self.proctoring is not None:
            self.proctoring.offer(frame)  # returns at once (the pool drops under overload)

    # --- engine callbacks (the engine's worker thread) ------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        from remote_tuk.sources.services import split_engine_id

        public_id, source = split_engine_id(event.session_id)
        if source is not None:
            self._on_source_event(event, public_id, source)
            return
        if event.type in ("session.closed", "media.ended") or (
            event.type == "peer.left" and event.peer_id == "candidate"
        ):
            self.unwatch(event.session_id)  # the media the watch was for has gone
        if event.type in ("session.closed", "media.ended"):
            self.stop_proctoring(event.session_id)  # nothing left to analyse (a rejoin's offer opens it again)
        try:
            page = self._record_event(event)
        except Exception:
            log.exception("media event %s for %s not recorded", event.type, event.session_id)
            return
        if page is not None:
            self.socketio.emit("peer", page, to=room_of(event.session_id), namespace=NAMESPACE)

    def _record_event(self, event: Any) -> dict[str, Any] | None:
        """The event as evidence (and downtime, during the session); returns what the pages are told."""
        with self.db.new_session() as db:
            session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == event.session_id))
            if session is None:
                return None
            store = self.evidence.store
            if not services.evidence_open(store, session):
                log.info("session %s is closed: media event %s not recorded", session.public_id, event.type)
                return None
            at = _utc(event.at_utc)
            data = dict(event.data)
            in_session = session.state in SESSION_STATES
            kind = event.type
            if kind == "media.stalled" and in_session:
                clock.downtime_started(db, session, at, float(data.get("silent_s", 0)))
            elif kind == "media.ended" and in_session:
                clock.downtime_started(db, session, at)  # the candidate's page left during the session
            elif kind in ("media.resumed", "media.started"):
                measured = float(data["downtime_s"]) if kind == "media.resumed" else None
                seconds = clock.downtime_ended(db, session, at, measured) if (
                    in_session or clock.open_downtime(db, session) is not None
                ) else None
                if seconds is not None:
                    data["downtime_s"] = round(seconds, 3)
            if not in_session and kind in ("media.ended", "media.stalled", "media.resumed"):
                data["phase"] = "pre_session" if session.state in (S.CHECKING, S.READY, S.SCHEDULED) else "after"
            services.record_event(
                store,
                session,
                kind,
                data={"peer": event.peer_id, "engine_media_s": event.media_s, "state": session.state.value, **data},
                media_s=clock.clock_at(session, at),
            )
            if kind not in _PAGE_EVENTS:
                return None
            return {
                "type": kind,
                "role": data.get("role") or ("candidate" if event.peer_id == "candidate" else None),
                "peer": event.peer_id,
                "data": _jsonable(data),
                "clock": clock.clock(db, session),
            }


    def _on_source_event(self, event: Any, public_id: str, source: str) -> None:
        """An extra source's media event (issue 19): evidence as ``source.<event>``, never downtime of the session;
        the pages are told its state (``source`` to the whole room: the candidate's page shows it is connected)."""
        if event.peer_id not in ("candidate", None):
            return  # a viewer of the source (the assessor's page): its own page events cover it
        data = dict(event.data)
        if event.type == "peer.state":
            status = self.sources.update(public_id, source, state=data.get("state"))
        elif event.type in ("peer.joined", "media.started", "media.resumed"):
            status = self.sources.update(public_id, source, state="connected" if event.type != "peer.joined"
                                         else "connecting", flowing=event.type != "peer.joined")
        elif event.type in ("peer.left", "media.ended", "media.stalled", "session.closed"):
            status = self.sources.update(public_id, source, state="stalled" if event.type == "media.stalled"
                                         else "left", flowing=False)
        else:
            status = self.sources.of(public_id)[source]
        try:
            with self.db.new_session() as db:
                session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
                if session is None or not services.evidence_open(self.evidence.store, session):
                    return
                if event.type != "recording.segment":  # the segment itself is the evidence
                    services.record_event(
                        self.evidence.store, session, f"source.{event.type}",
                        data={"source": source, "peer": event.peer_id, "engine_media_s": event.media_s,
                              "state": session.state.value, **_jsonable(data)},
                        media_s=clock.clock_at(session, _utc(event.at_utc)),
                    )
        except Exception:
            log.exception("source event %s of %s not recorded", event.type, event.session_id)
        self.socketio.emit("source", {"source": source, "type": event.type, **_jsonable(status)},
                           to=room_of(public_id), namespace=NAMESPACE)

    def prepare_source(self, public_id: str, source: str, state: SessionState) -> str:
        """Before an extra source's offer: its engine session records while the session is live."""
        from remote_tuk.sources.services import engine_id

        if self.remote is not None:
            return str(self.remote.call(public_id, "prepare_source", place=True, session_id=public_id, source=source,
                                        state=state.value))
        sid = engine_id(public_id, source)
        self.engine.record(sid, state is S.LIVE)
        return sid


class _Sink:
    """``proctor.sink.EvidenceSink`` over the evidence store (server-side recording segments), placing each segment on
    the session media clock by its server time (the engine's own clock starts at its first packet and restarts with
    the process)."""

    def __init__(self, hub: MediaHub) -> None:
        self.hub = hub

    def append(self, session_id: str, type: str, data: bytes, metadata: Mapping[str, Any], media_range: Any) -> Any:
        from remote_tuk.sources.services import SOURCE_SEGMENT, split_engine_id

        session_id, source = split_engine_id(session_id)
        if source is not None:
            # an extra source's server copy: its own type, so the webcam's joins never mix it in
            type, metadata = SOURCE_SEGMENT, {**metadata, "stream": source}
        with self.hub.db.new_session() as db:
            session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == session_id))
            if session is None:
                raise LookupError(f"unknown session {session_id}")
            rng = None
            if media_range is not None:
                start_s = clock.clock_at_utc(session, media_range.start_utc)
                rng = {"start_ms": int(start_s * 1000), "end_ms": int((start_s + media_range.duration_s) * 1000)}
                metadata = {
                    **metadata,
                    "clock": "session",
                    "engine_start_s": media_range.start_s,
                    "start_utc_ms": int(media_range.start_utc * 1000),
                    "end_utc_ms": int(media_range.end_utc * 1000),
                }
            return services.append_item(
                self.hub.evidence.store,
                session,
                type,
                data,
                metadata=services.entry_metadata(dict(metadata)),
                actor=services.SYSTEM,
                media_range=rng,
                candidate_id=str(session.candidate_id),
            )


def room_of(public_id: str) -> str:
    return f"live:{public_id}"


def staff_room_of(public_id: str) -> str:
    """The session's assessor and witness pages (proctoring alerts are not shown to the candidate)."""
    return f"live:{public_id}:staff"


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
