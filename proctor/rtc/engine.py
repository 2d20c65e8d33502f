"""The media engine: one aiortc peer connection per participant, the candidate's media relayed to the viewers.

Topology per assessment session (the server is every browser's only peer)::

    candidate ──video(VP8)+audio(Opus)──▶ server ──same packets──▶ assessor(s), witness(es)
    candidate ◀──────── audio ────────── server ◀──── mic audio ── the assessor who holds the floor

All public methods are synchronous and thread-safe: they hand a coroutine to the RTC loop thread
(:class:`proctor.rtc.loop.RtcLoop`) and wait at most ``call_timeout_s``. See docs/MEDIA.md for how the signaling
layer calls them. Callbacks (``on_event``, the evidence sink) run in order on one worker thread, never on the loop.

The engine is the public face and the lifecycle (threads, the session registry, the watchdog, delivery of events,
segments and frames); the work per session lives beside it: ``session`` (a session's media state), ``peers`` (peer
connections), ``candidate`` (the candidate's media), ``viewers`` (assessors and witnesses), ``stats``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from typing import Any

from config.settings import RtcSettings
from proctor.errors import ProctorError, SdpMissingMedia, SessionClosed, UnknownPeer, UnknownSession
from proctor.recording import Segment
from proctor.rtc import candidate as candidate_media
from proctor.rtc import peers
from proctor.rtc import viewers as viewer_media
from proctor.rtc.loop import RtcLoop
from proctor.rtc.options import EngineOptions, RelayMode, ice_configuration
from proctor.rtc.relay import check_aiortc_internals
from proctor.rtc.sdp import parse_offer
from proctor.rtc.session import CANDIDATE, MediaSession, Role
from proctor.rtc.stats import session_stats
from proctor.sink import (
    EVENT_MEDIA_ENDED,
    EVENT_MEDIA_STALLED,
    EVENT_RECORDING_ERROR,
    EVENT_RECORDING_SEGMENT,
    EVENT_SESSION_CLOSED,
    EVIDENCE_SERVER_SEGMENT,
    AudioCallback,
    EngineEvent,
    EventCallback,
    EvidenceSink,
    FrameSampleCallback,
    SampledFrame,
)

logger = logging.getLogger(__name__)


class MediaEngine:
    """The media engine the signaling layer drives. Create once per process, ``start()``, then call from any thread."""

    def __init__(
        self,
        settings: RtcSettings,
        sink: EvidenceSink | None = None,
        on_event: EventCallback | None = None,
        options: EngineOptions | None = None,
        loop: RtcLoop | None = None,
        on_frame: FrameSampleCallback | None = None,
        on_audio: AudioCallback | None = None,
    ) -> None:
        check_aiortc_internals()
        self._on_frame = on_frame
        self._on_audio = on_audio
        self.settings = settings
        self.options = options or EngineOptions()
        self._sink = sink
        self._on_event = on_event
        self._loop = loop or RtcLoop()
        self._own_loop = loop is None
        self._sessions: dict[str, MediaSession] = {}
        #: What the web layer asked of a session (recording, sampling), kept until the session closes; applied when
        #: the session comes into existence, so it may be said before the first offer.
        self._wanted: dict[str, dict[str, Any]] = {}
        self._dispatcher: concurrent.futures.ThreadPoolExecutor | None = None
        self._frames_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def loop(self) -> RtcLoop:
        return self._loop

    def start(self) -> MediaEngine:
        if self._dispatcher is None:
            self._dispatcher = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="proctor-sink")
        if self._frames_pool is None and (self.analysis_on or self._on_audio is not None):
            self._frames_pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="proctor-frames"
            )
        self._loop.start()
        self._loop.run(self._start_watchdog(), self.options.call_timeout_s)
        return self

    def stop(self) -> None:
        """Close every session (flushing recordings to the sink) and stop the loop thread."""
        if self._loop.running:
            try:
                self._loop.run(self._close_all(), self.options.call_timeout_s)
            except ProctorError:
                logger.exception("closing sessions on stop failed")
            if self._own_loop:
                self._loop.stop()
        if self._frames_pool is not None:
            self._frames_pool.shutdown(wait=True, cancel_futures=True)
            self._frames_pool = None
        if self._dispatcher is not None:
            self._dispatcher.shutdown(wait=True)
            self._dispatcher = None

    @property
    def analysis_on(self) -> bool:
        """Whether decoded frames can be sampled at all (an ``on_frame`` callback, pass-through relay)."""
        return self._on_frame is not None and self.options.relay_mode == "passthrough"

    def __enter__(self) -> MediaEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the API for the signaling layer (any thread) --------------------------------------------------------------

    def candidate_offer(self, session_id: str, sdp: str) -> str:
        """The candidate's offer (audio+video, sending) → the server's answer SDP (ICE candidates included).

        A second offer for the same session replaces the candidate's connection (rejoin after a drop); the viewers
        keep their connections and the stream continues.
        """
        summary = parse_offer(sdp, CANDIDATE, self.options.max_sdp_bytes)
        return self._call(self._candidate_offer(session_id, sdp, summary.video_sections == 2))

    def source_offer(self, session_id: str, sdp: str) -> str:
        """An extra candidate-side source (a phone's rear camera, a screen share): a video-only sending offer → answer.

        The signaling layer gives each extra source its own engine session id (e.g. ``<session>~phone``), so it is
        relayed, recorded and watched exactly like the candidate's webcam, and viewers subscribe to it with
        :meth:`viewer_offer` on that id. A second offer replaces the source's connection.
        """
        summary = parse_offer(sdp, "source", self.options.max_sdp_bytes)
        return self._call(self._candidate_offer(session_id, sdp, audio=summary.audio_direction is not None))

    def viewer_offer(self, session_id: str, viewer_id: str, sdp: str, can_talk: bool, full: bool = True) -> str:
        """An assessor's (``can_talk=True``) or witness's (``False``) offer → answer SDP.

        The viewer receives the candidate's video and audio; with ``can_talk`` the viewer's microphone audio is
        forwarded to the candidate. A second offer with the same ``viewer_id`` replaces that viewer's connection.
        An offer with two video sections receives the small layer in the second (a classroom tile); ``full=False``
        starts the full video paused until :meth:`viewer_full` turns it on.
        """
        if not viewer_id or viewer_id == CANDIDATE:
            raise UnknownPeer(f"invalid viewer id {viewer_id!r}")
        summary = parse_offer(sdp, "assessor" if can_talk else "witness", self.options.max_sdp_bytes)
        return self._call(self._viewer_offer(session_id, viewer_id, sdp, can_talk, summary.audio_direction is not None,
                                             summary.video_sections == 2, full))

    def viewer_full(self, session_id: str, viewer_id: str, on: bool) -> None:
        """Forward the candidate's full video to *viewer_id* (the classroom's focused tile), or pause it."""
        self._call(self._viewer_full(session_id, viewer_id, on))

    def restart_ice(self, session_id: str, peer_id: str, sdp: str) -> str:
        """Reconnect *peer_id* (``"candidate"`` or a viewer id) with a fresh offer from a NEW RTCPeerConnection.

        aiortc cannot do an in-place ICE restart, so the page creates a new peer connection and sends its offer;
        the engine swaps connections without touching the session (relay, recording, other peers).
        """
        if peer_id == CANDIDATE:
            try:
                return self.candidate_offer(session_id, sdp)
            except SdpMissingMedia:
                return self.source_offer(session_id, sdp)  # a video-only source reconnecting
        session = self._sessions.get(session_id)
        peer = session.viewers.get(peer_id) if session else None
        if peer is None:
            raise UnknownPeer(f"no viewer {peer_id!r} in session {session_id!r}")
        return self.viewer_offer(session_id, peer_id, sdp, peer.can_talk, peer.full_on)

    def record(self, session_id: str, on: bool) -> None:
        """Record the session's candidate video (IVF segments to the sink) from now on, or stop and hand over the open
        segment. With ``EngineOptions.record_from_start`` false nothing is recorded until this says so."""
        self._call(self._want(session_id, record=on))

    def sample_frames(self, session_id: str, fps: float) -> None:
        """Decode the session's candidate video and hand ``on_frame`` up to *fps* frames per second; 0 stops decoding
        (decoding is the one costly thing the engine does per session). May be called before the candidate joins."""
        if not self.analysis_on:
            raise ProctorError("frame sampling needs an on_frame callback and the pass-through relay")
        self._call(self._want(session_id, sample_fps=max(0.0, float(fps))))

    def listen_audio(self, session_id: str, on: bool) -> None:
        """Hand the session's candidate audio (Opus packets, not decoded here) to ``on_audio``, or stop. May be called
        before the candidate joins."""
        if self._on_audio is None:
            raise ProctorError("listening to audio needs an on_audio callback")
        self._call(self._want(session_id, audio=bool(on)))

    def close_viewer(self, session_id: str, viewer_id: str, reason: str = "left") -> None:
        self._call(self._close_viewer(session_id, viewer_id, reason))

    def close_candidate(self, session_id: str, reason: str = "left") -> None:
        self._call(self._close_candidate(session_id, reason))

    def close_session(self, session_id: str, reason: str = "ended") -> None:
        """Close every connection of the session; the last recording segment is handed to the sink before return."""
        self._call(self._close_session(session_id, reason))
        self.flush()

    def stats(self, session_id: str) -> dict[str, Any]:
        """Connection quality as the server sees it (see docs/MEDIA.md for the shape)."""
        return self._call(self._stats(session_id))

    def session_ids(self) -> list[str]:
        return list(self._sessions)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every event and segment handed out so far has been delivered to the callbacks."""
        if self._dispatcher is None or threading.current_thread().name.startswith("proctor-sink"):
            return  # from a callback itself, waiting for the dispatcher would deadlock
        self._dispatcher.submit(lambda: None).result(timeout or self.options.call_timeout_s)

    # -- what the session's parts call (loop thread): proctor.rtc.session.Host -------------------------------------

    def spawn(self, coro: Any) -> None:
        """Run *coro* in the background on the loop thread (called on the loop thread), keeping a reference."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def emit(self, session: MediaSession, type_: str, peer_id: str | None, **data: Any) -> None:
        event = EngineEvent(
            session_id=session.id, type=type_, peer_id=peer_id, at_utc=time.time(), media_s=session.media_s(), data=data
        )
        logger.info("session %s: %s %s %s", session.id, type_, peer_id or "", data)
        if self._on_event is not None and self._dispatcher is not None:
            self._dispatcher.submit(self._deliver_event, event)

    def on_segment(self, session: MediaSession, segment: Segment) -> None:
        self.emit(
            session,
            EVENT_RECORDING_SEGMENT,
            CANDIDATE,
            index=segment.index,
            frames=segment.frames,
            bytes=len(segment.data),
            start_s=round(segment.media_range.start_s, 3),
            end_s=round(segment.media_range.end_s, 3),
            closed_because=segment.reason,
        )
        if self._dispatcher is not None:
            self._dispatcher.submit(self._deliver_segment, session, segment)

    def submit_frame(self, session: MediaSession, frame: Any, media_s: float, utc: float) -> bool:
        """Hand a decoded frame to the analysis worker; False when there is none."""
        if self._frames_pool is None:
            return False
        self._frames_pool.submit(self._deliver_frame, session, frame, media_s, utc)
        return True

    def submit_audio(self, session: MediaSession, data: bytes, utc: float) -> bool:
        """Hand an encoded audio packet to ``on_audio`` on the analysis worker (in order); False when there is none."""
        if self._frames_pool is None or self._on_audio is None:
            return False
        self._frames_pool.submit(self._deliver_audio, session.id, data, utc)
        return True

    # -- delivery (worker threads) ---------------------------------------------------------------------------------

    def _deliver_event(self, event: EngineEvent) -> None:
        try:
            assert self._on_event is not None
            self._on_event(event)
        except Exception:
            logger.exception("on_event callback failed for %s", event.type)

    def _deliver_segment(self, session: MediaSession, segment: Segment) -> None:
        if self._sink is None:
            return
        try:
            self._sink.append(
                session.id, EVIDENCE_SERVER_SEGMENT, segment.data, segment.metadata(), segment.media_range
            )
        except Exception as exc:
            logger.exception("evidence sink failed for segment %d of %s", segment.index, session.id)
            self.emit(session, EVENT_RECORDING_ERROR, CANDIDATE, error=f"{type(exc).__name__}: {exc}")

    def _deliver_frame(self, session: MediaSession, frame: Any, media_s: float, utc: float) -> None:
        try:
            sample = SampledFrame(session_id=session.id, media_s=media_s, at_utc=utc, width=frame.width,
                                  height=frame.height, i420=frame.to_ndarray(format="yuv420p"))
            assert self._on_frame is not None
            self._on_frame(sample)
        except Exception:
            logger.exception("on_frame callback failed for session %s", session.id)
        finally:
            session.analysis_busy = False

    def _deliver_audio(self, session_id: str, data: bytes, utc: float) -> None:
        try:
            assert self._on_audio is not None
            self._on_audio(session_id, data, utc)
        except Exception:
            logger.exception("on_audio callback failed for session %s", session_id)

    # -- internals (loop thread) -----------------------------------------------------------------------------------

    def _call(self, coro: Any) -> Any:
        return self._loop.run(coro, self.options.call_timeout_s)

    def _session(self, session_id: str, create: bool = False) -> MediaSession:
        session = self._sessions.get(session_id)
        if session is None:
            if not create:
                raise UnknownSession(f"no live media for session {session_id!r}")
            session = self._sessions[session_id] = MediaSession(session_id, self)
            self._apply_wanted(session)
        if session.closed:
            raise SessionClosed(f"session {session_id!r} is closed")
        return session

    async def _want(self, session_id: str, **wanted: Any) -> None:
        entry = self._wanted.setdefault(session_id, {})
        entry.update(wanted)
        defaults = {"record": self.options.record_from_start, "sample_fps": self.options.analysis_fps, "audio": False}
        if all(defaults[k] == v for k, v in entry.items()):
            del self._wanted[session_id]  # nothing to remember: the defaults apply (keeps the map small)
        session = self._sessions.get(session_id)
        if session is not None and not session.closed:
            for key, value in wanted.items():
                if key == "record":
                    session.set_recording(value)
                elif key == "audio":
                    session.listen_audio = value
                else:
                    session.set_sampling(value)

    def _apply_wanted(self, session: MediaSession) -> None:
        wanted = self._wanted.get(session.id, {})
        if "record" in wanted:
            session.set_recording(wanted["record"])
        if "sample_fps" in wanted:
            session.set_sampling(wanted["sample_fps"])
        if "audio" in wanted:
            session.listen_audio = wanted["audio"]

    async def _candidate_offer(self, session_id: str, sdp: str, small: bool = False, audio: bool = True) -> str:
        return await candidate_media.offer(self._session(session_id, create=True), sdp, self._sessions, small, audio)

    async def _viewer_offer(self, session_id: str, viewer_id: str, sdp: str, can_talk: bool, has_audio: bool,
                            small: bool = False, full: bool = True) -> str:
        session = self._session(session_id, create=True)
        return await viewer_media.offer(session, viewer_id, sdp, can_talk, has_audio, self._sessions, small, full)

    async def _viewer_full(self, session_id: str, viewer_id: str, on: bool) -> None:
        viewer_media.set_full(self._session(session_id), viewer_id, on)

    async def _close_viewer(self, session_id: str, viewer_id: str, reason: str) -> None:
        session = self._session(session_id)
        peer = session.viewers.get(viewer_id)
        if peer is None:
            raise UnknownPeer(f"no viewer {viewer_id!r} in session {session_id!r}")
        await peers.close_peer(session, peer, reason)

    async def _close_candidate(self, session_id: str, reason: str) -> None:
        session = self._session(session_id)
        if session.candidate is None:
            raise UnknownPeer(f"no candidate connected in session {session_id!r}")
        await peers.close_peer(session, session.candidate, reason)
        # Said by the web layer (the page left): the media ended, it did not stall; a rejoin starts it again.
        had_media = session.last_video_mono is not None
        session.candidate_left(reason)
        if had_media:
            self.emit(session, EVENT_MEDIA_ENDED, CANDIDATE, kind="video", reason=reason)

    async def _close_session(self, session_id: str, reason: str) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            raise UnknownSession(f"no live media for session {session_id!r}")
        connected = ([session.candidate] if session.candidate else []) + list(session.viewers.values())
        for peer in connected:
            await peers.close_peer(session, peer, "session_closed")
        self._finish_session(session, reason)

    def _finish_session(self, session: MediaSession, reason: str) -> None:
        """Close a session that has no connections left (loop thread)."""
        if session.segmenter is not None:
            session.segmenter.close("close")
        session.video.close()
        session.video_small.close()
        session.audio.close()
        session.talkback.close()
        self.emit(session, EVENT_SESSION_CLOSED, None, reason=reason)
        session.closed = True
        self._sessions.pop(session.id, None)
        self._wanted.pop(session.id, None)

    async def _close_all(self) -> None:
        for session_id in list(self._sessions):
            await self._close_session(session_id, "engine_stopped")
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _stats(self, session_id: str) -> dict[str, Any]:
        return await session_stats(self._session(session_id))

    async def _start_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            try:
                now = time.monotonic()
                for session in list(self._sessions.values()):
                    self._check_stall(session, now)
                    viewer_media.keep_talkback_alive(session, now)
                    self._close_if_idle(session, now)
            except Exception:
                logger.exception("media watchdog failed")

    def _close_if_idle(self, session: MediaSession, now: float) -> None:
        if session.candidate is not None or session.viewers or session.closed:
            session.empty_since = None
        elif session.empty_since is None:
            session.empty_since = now
        elif now - session.empty_since >= self.options.idle_close_s:
            self._finish_session(session, "idle")

    def _check_stall(self, session: MediaSession, now: float) -> None:
        last = session.last_video_mono
        if last is None or session.stalled or session.closed:
            return
        if now - last >= self.options.stall_after_s:
            session.stalled = True
            if session.segmenter is not None:
                session.segmenter.close("stall")
            self.emit(session, EVENT_MEDIA_STALLED, CANDIDATE, kind="video", silent_s=round(now - last, 3))


__all__ = ["CANDIDATE", "EngineOptions", "MediaEngine", "RelayMode", "Role", "ice_configuration"]
