"""The media engine: one aiortc peer connection per participant, the candidate's media relayed to the viewers.

Topology per assessment session (the server is every browser's only peer)::

    candidate ──video(VP8)+audio(Opus)──▶ server ──same packets──▶ assessor(s), witness(es)
    candidate ◀──────── audio ────────── server ◀──── mic audio ── the assessor who holds the floor

All public methods are synchronous and thread-safe: they hand a coroutine to the RTC loop thread
(:class:`proctor.rtc.loop.RtcLoop`) and wait at most ``call_timeout_s``. See docs/MEDIA.md for how the signaling
layer calls them. Callbacks (``on_event``, the evidence sink) run in order on one worker thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from config.settings import RtcSettings
from proctor.errors import (
    IceGatheringTimeout,
    InvalidSdp,
    ProctorError,
    SessionClosed,
    UnknownPeer,
    UnknownSession,
    UnsupportedCodec,
)
from proctor.recording import IvfSegmenter, Segment
from proctor.rtc.loop import RtcLoop
from proctor.rtc.relay import (
    Fanout,
    PacketTrack,
    check_aiortc_internals,
    is_vp8_keyframe,
    on_keyframe_request,
    request_keyframe_upstream,
    tap_receiver,
)
from proctor.rtc.sdp import MAX_SDP_BYTES, parse_offer
from proctor.sink import (
    EVENT_MEDIA_RESUMED,
    EVENT_MEDIA_STALLED,
    EVENT_MEDIA_STARTED,
    EVENT_PEER_JOINED,
    EVENT_PEER_LEFT,
    EVENT_PEER_STATE,
    EVENT_RECORDING_ERROR,
    EVENT_RECORDING_SEGMENT,
    EVENT_SESSION_CLOSED,
    EVIDENCE_SERVER_SEGMENT,
    EngineEvent,
    EventCallback,
    EvidenceSink,
    FrameSampleCallback,
    SampledFrame,
)

logger = logging.getLogger(__name__)

CANDIDATE = "candidate"

#: An Opus 20 ms CELT frame that decodes to silence. Sent to the candidate a few times a second while nobody talks, so
#: the candidate's RTCP receiver reports give the server a round-trip time for the candidate's link.
OPUS_SILENCE = b"\xf8\xff\xfe"
_SILENCE = object()
Role = Literal["candidate", "assessor", "witness"]
RelayMode = Literal["passthrough", "reencode"]


@dataclass(frozen=True)
class EngineOptions:
    """Engine knobs that are not deployment settings (tests and the benchmark change them)."""

    #: "passthrough" forwards encoded packets; "reencode" decodes once and re-encodes per viewer (benchmark only).
    relay_mode: RelayMode = "passthrough"
    #: Server-side secondary recording (IVF segments to the sink).
    record: bool = True
    segment_s: float = 4.0
    #: No candidate video for this long = a stall (evidence event, recording segment closed).
    stall_after_s: float = 2.0
    #: A session with nobody connected for this long is closed ("idle"): the web layer may never have said it ended.
    idle_close_s: float = 900.0
    #: Decoded frames per second handed to ``on_frame`` for analysis (0 = never decode the candidate's video).
    analysis_fps: float = 0.0
    #: How long a synchronous call waits for the loop thread.
    call_timeout_s: float = 20.0
    max_sdp_bytes: int = MAX_SDP_BYTES


def ice_configuration(settings: RtcSettings) -> RTCConfiguration:
    """RTCConfiguration with exactly the configured ICE servers (an empty list, never aiortc's public STUN default)."""
    servers: list[RTCIceServer] = []
    for entry in settings.ice_servers:
        urls = entry.get("urls")
        if not urls:
            raise ValueError(f"ICE server entry without 'urls': {entry!r}")
        servers.append(
            RTCIceServer(
                urls=urls,
                username=entry.get("username"),
                credential=entry.get("credential"),
                credentialType=entry.get("credentialType", "password"),
            )
        )
    return RTCConfiguration(iceServers=servers)


def _codecs(kind: str, name: str) -> list[Any]:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    wanted = [c for c in caps if c.mimeType.lower() == f"{kind}/{name}"]
    rtx = [c for c in caps if c.mimeType.lower() == f"{kind}/rtx"]
    return wanted + rtx


class _Rate:
    """Bytes and frames over a sliding window."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()
        self.total_bytes = 0
        self.total_frames = 0

    def add(self, now: float, size: int) -> None:
        self._samples.append((now, size))
        self.total_bytes += size
        self.total_frames += 1
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self.window_s:
            self._samples.popleft()

    def rates(self, now: float) -> tuple[float, float]:
        """(bits per second, frames per second) over the window."""
        self._trim(now)
        total = sum(s for _, s in self._samples)
        return total * 8 / self.window_s, len(self._samples) / self.window_s


@dataclass
class _Peer:
    peer_id: str
    role: Role
    pc: RTCPeerConnection
    can_talk: bool = False
    state: str = "new"
    joined_mono: float = field(default_factory=time.monotonic)
    receivers: dict[str, RTCRtpReceiver] = field(default_factory=dict)
    senders: dict[str, RTCRtpSender] = field(default_factory=dict)
    tracks: list[MediaStreamTrack] = field(default_factory=list)
    closing: bool = False
    last_sent: tuple[float, int] | None = None


class _Session:
    def __init__(self, session_id: str, engine: MediaEngine) -> None:
        self.id = session_id
        self.candidate: _Peer | None = None
        self.viewers: dict[str, _Peer] = {}
        self.video = Fanout("video", request_keyframe=self.request_keyframe)
        self.audio = Fanout("audio")
        self.talkback = Fanout("audio")
        self.talker: object | None = None
        self.talker_last = 0.0
        self.origin_mono: float | None = None
        self.origin_utc: float | None = None
        self.last_video_mono: float | None = None
        self.stalled = False
        self.video_rate = _Rate()
        self.audio_rate = _Rate()
        self.segmenter: IvfSegmenter | None = None
        self.last_recorder_pli = 0.0
        self.analysis_busy = False
        self.decoded_relay: MediaRelay | None = None
        self.decoded_track: MediaStreamTrack | None = None
        self.closed = False
        self.empty_since: float | None = time.monotonic()
        self._engine = engine

    def media_s(self, now_mono: float | None = None) -> float | None:
        if self.origin_mono is None:
            return None
        return (now_mono if now_mono is not None else time.monotonic()) - self.origin_mono

    def request_keyframe(self) -> None:
        """Ask the candidate for a keyframe (RTCP PLI on the candidate's video receiver)."""
        peer = self.candidate
        receiver = peer.receivers.get("video") if peer else None
        if receiver is not None:
            self._engine.spawn(request_keyframe_upstream(receiver))


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
    ) -> None:
        check_aiortc_internals()
        self._on_frame = on_frame
        self.settings = settings
        self.options = options or EngineOptions()
        self._sink = sink
        self._on_event = on_event
        self._loop = loop or RtcLoop()
        self._own_loop = loop is None
        self._sessions: dict[str, _Session] = {}
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
        if self._frames_pool is None and self._analysis_on:
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
    def _analysis_on(self) -> bool:
        return self._on_frame is not None and self.options.analysis_fps > 0 and self.options.relay_mode == "passthrough"

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
        parse_offer(sdp, CANDIDATE, self.options.max_sdp_bytes)
        return self._call(self._candidate_offer(session_id, sdp))

    def viewer_offer(self, session_id: str, viewer_id: str, sdp: str, can_talk: bool) -> str:
        """An assessor's (``can_talk=True``) or witness's (``False``) offer → answer SDP.

        The viewer receives the candidate's video and audio; with ``can_talk`` the viewer's microphone audio is
        forwarded to the candidate. A second offer with the same ``viewer_id`` replaces that viewer's connection.
        """
        if not viewer_id or viewer_id == CANDIDATE:
            raise UnknownPeer(f"invalid viewer id {viewer_id!r}")
        summary = parse_offer(sdp, "assessor" if can_talk else "witness", self.options.max_sdp_bytes)
        return self._call(self._viewer_offer(session_id, viewer_id, sdp, can_talk, summary.audio_direction is not None))

    def restart_ice(self, session_id: str, peer_id: str, sdp: str) -> str:
        """Reconnect *peer_id* (``"candidate"`` or a viewer id) with a fresh offer from a NEW RTCPeerConnection.

        aiortc cannot do an in-place ICE restart, so the page creates a new peer connection and sends its offer;
        the engine swaps connections without touching the session (relay, recording, other peers).
        """
        if peer_id == CANDIDATE:
            return self.candidate_offer(session_id, sdp)
        session = self._sessions.get(session_id)
        peer = session.viewers.get(peer_id) if session else None
        if peer is None:
            raise UnknownPeer(f"no viewer {peer_id!r} in session {session_id!r}")
        return self.viewer_offer(session_id, peer_id, sdp, peer.can_talk)

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

    # -- internals (loop thread) -----------------------------------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        """Run *coro* in the background on the loop thread (called on the loop thread), keeping a reference."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _call(self, coro: Any) -> Any:
        return self._loop.run(coro, self.options.call_timeout_s)

    def _emit(self, session: _Session, type_: str, peer_id: str | None, **data: Any) -> None:
        event = EngineEvent(
            session_id=session.id, type=type_, peer_id=peer_id, at_utc=time.time(), media_s=session.media_s(), data=data
        )
        logger.info("session %s: %s %s %s", session.id, type_, peer_id or "", data)
        if self._on_event is not None and self._dispatcher is not None:
            self._dispatcher.submit(self._deliver_event, event)

    def _deliver_event(self, event: EngineEvent) -> None:
        try:
            assert self._on_event is not None
            self._on_event(event)
        except Exception:
            logger.exception("on_event callback failed for %s", event.type)

    def _deliver_segment(self, session: _Session, segment: Segment) -> None:
        if self._sink is None:
            return
        try:
            self._sink.append(
                session.id, EVIDENCE_SERVER_SEGMENT, segment.data, segment.metadata(), segment.media_range
            )
        except Exception as exc:
            logger.exception("evidence sink failed for segment %d of %s", segment.index, session.id)
            self._emit(session, EVENT_RECORDING_ERROR, CANDIDATE, error=f"{type(exc).__name__}: {exc}")

    def _session(self, session_id: str, create: bool = False) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            if not create:
                raise UnknownSession(f"no live media for session {session_id!r}")
            session = self._sessions[session_id] = _Session(session_id, self)
            if self.options.record:
                session.segmenter = IvfSegmenter(
                    lambda seg, s=session: self._on_segment(s, seg), self.options.segment_s
                )
        if session.closed:
            raise SessionClosed(f"session {session_id!r} is closed")
        return session

    def _on_segment(self, session: _Session, segment: Segment) -> None:
        self._emit(
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

    async def _start_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            try:
                self._check_stalls()
                self._keep_talkback_alive()
                self._close_idle()
            except Exception:
                logger.exception("media watchdog failed")

    def _close_idle(self) -> None:
        now = time.monotonic()
        for session in list(self._sessions.values()):
            if session.candidate is not None or session.viewers or session.closed:
                session.empty_since = None
            elif session.empty_since is None:
                session.empty_since = now
            elif now - session.empty_since >= self.options.idle_close_s:
                self._finish_session(session, "idle")

    def _keep_talkback_alive(self) -> None:
        now = time.monotonic()
        for session in list(self._sessions.values()):
            peer = session.candidate
            if peer is None or peer.state != "connected" or session.closed:
                continue
            if session.talker is None or now - session.talker_last > 0.5:
                session.talker = None
                session.talkback.push(_SILENCE, OPUS_SILENCE, int(now * 48_000), False)

    def _check_stalls(self) -> None:
        now = time.monotonic()
        for session in list(self._sessions.values()):
            last = session.last_video_mono
            if last is None or session.stalled or session.closed:
                continue
            if now - last >= self.options.stall_after_s:
                session.stalled = True
                if session.segmenter is not None:
                    session.segmenter.close("stall")
                self._emit(session, EVENT_MEDIA_STALLED, CANDIDATE, kind="video", silent_s=round(now - last, 3))

    def _new_pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(ice_configuration(self.settings))

    async def _answer(self, pc: RTCPeerConnection, sdp: str) -> str:
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:  # noqa: BLE001 - aiortc: OperationError (no common codec), ValueError, InvalidStateError ...
            await pc.close()
            if "codec" in str(exc).lower() or "send parameters" in str(exc):
                raise UnsupportedCodec(f"no common codec: {exc}") from None
            raise InvalidSdp(f"the offer was refused: {type(exc).__name__}: {exc}") from None
        answer = await pc.createAnswer()
        try:
            # aiortc gathers every candidate inside setLocalDescription (no trickle ICE).
            await asyncio.wait_for(pc.setLocalDescription(answer), self.settings.ice_gathering_timeout_s)
        except TimeoutError:
            await pc.close()
            raise IceGatheringTimeout(
                f"ICE gathering did not complete in {self.settings.ice_gathering_timeout_s} s"
            ) from None
        return pc.localDescription.sdp

    def _watch_state(self, session: _Session, peer: _Peer) -> None:
        @peer.pc.on("connectionstatechange")
        async def _on_state() -> None:
            state = peer.pc.connectionState
            if state == peer.state:
                return
            peer.state = state
            self._emit(session, EVENT_PEER_STATE, peer.peer_id, role=peer.role, state=state)
            if state == "failed" and not peer.closing:
                await self._close_peer(session, peer, "failed")

    async def _candidate_offer(self, session_id: str, sdp: str) -> str:
        session = self._session(session_id, create=True)
        pc = self._new_pc()
        peer = _Peer(CANDIDATE, "candidate", pc)

        talkback = session.talkback.subscribe()
        peer.tracks.append(talkback)
        audio_t = pc.addTransceiver(talkback, direction="sendrecv")
        audio_t.setCodecPreferences(_codecs("audio", "opus"))
        video_t = pc.addTransceiver("video", direction="recvonly")
        video_t.setCodecPreferences(_codecs("video", "vp8"))
        peer.senders["audio"] = audio_t.sender

        reencode = self.options.relay_mode == "reencode"

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            peer.receivers[track.kind] = receiver
            if track.kind == "video":
                tap_receiver(receiver, lambda c, d, ts: self._on_candidate_video(session, peer, receiver, c, d, ts),
                             decode=reencode or self._analysis_on)
                if self._analysis_on:
                    self.spawn(self._sample_frames(session, peer, track))
                if reencode:
                    session.decoded_track = track
                    session.decoded_relay = MediaRelay()
            else:
                tap_receiver(receiver, lambda c, d, ts: self._on_candidate_audio(session, peer, receiver, d, ts))

        self._watch_state(session, peer)
        try:
            answer = await self._answer(pc, sdp)
        except BaseException:
            self._discard_failed(session, peer)
            raise

        previous = session.candidate
        session.candidate = peer
        if previous is not None:
            await self._close_peer(session, previous, "replaced")
        self._emit(session, EVENT_PEER_JOINED, CANDIDATE, role="candidate", can_talk=True,
                   replaced=previous is not None)
        return answer

    def _on_candidate_video(
        self, session: _Session, peer: _Peer, receiver: RTCRtpReceiver, codec: str, data: bytes, ts: int
    ) -> None:
        if session.candidate is not peer or session.closed:
            return
        if codec != "VP8":
            return
        now = time.monotonic()
        utc = time.time()
        if session.origin_mono is None:
            session.origin_mono, session.origin_utc = now, utc
        if session.last_video_mono is None:
            self._emit(session, EVENT_MEDIA_STARTED, CANDIDATE, kind="video", codec=codec)
        elif session.stalled:
            session.stalled = False
            self._emit(session, EVENT_MEDIA_RESUMED, CANDIDATE, kind="video",
                       downtime_s=round(now - session.last_video_mono, 3))
        session.last_video_mono = now
        session.video_rate.add(now, len(data))
        keyframe = is_vp8_keyframe(data)
        if self.options.relay_mode == "passthrough":
            session.video.push(receiver, data, ts, keyframe)
        media_s = now - session.origin_mono
        segmenter = session.segmenter
        if segmenter is not None:
            segmenter.add(receiver, data, ts, media_s, utc)
            if segmenter.wants_keyframe and not keyframe and now - session.last_recorder_pli > 1.0:
                session.last_recorder_pli = now
                self.spawn(request_keyframe_upstream(receiver))

    def _on_candidate_audio(self, session: _Session, peer: _Peer, receiver: RTCRtpReceiver, data: bytes,
                            ts: int) -> None:
        if session.candidate is not peer or session.closed:
            return
        now = time.monotonic()
        if session.origin_mono is None:
            session.origin_mono, session.origin_utc = now, time.time()
        session.audio_rate.add(now, len(data))
        session.audio.push(receiver, data, ts, False)

    def _on_viewer_audio(self, session: _Session, peer: _Peer, receiver: RTCRtpReceiver, data: bytes,
                         ts: int) -> None:
        if session.viewers.get(peer.peer_id) is not peer or session.closed:
            return
        now = time.monotonic()
        # One talker at a time (no mixing without decoding): the floor is held while packets keep coming.
        if session.talker is not receiver and session.talker is not None and now - session.talker_last < 1.0:
            return
        session.talker = receiver
        session.talker_last = now
        session.talkback.push(receiver, data, ts, False)

    async def _viewer_offer(self, session_id: str, viewer_id: str, sdp: str, can_talk: bool, has_audio: bool) -> str:
        session = self._session(session_id, create=True)
        pc = self._new_pc()
        role: Role = "assessor" if can_talk else "witness"
        peer = _Peer(viewer_id, role, pc, can_talk=can_talk)

        if self.options.relay_mode == "reencode":
            if session.decoded_relay is None or session.decoded_track is None:
                await pc.close()
                raise ProctorError("re-encode relay needs the candidate connected first")
            video_track: MediaStreamTrack = session.decoded_relay.subscribe(session.decoded_track, buffered=False)
        else:
            video_track = session.video.subscribe()
        peer.tracks.append(video_track)
        video_t = pc.addTransceiver(video_track, direction="sendonly")
        video_t.setCodecPreferences(_codecs("video", "vp8"))
        peer.senders["video"] = video_t.sender
        if isinstance(video_track, PacketTrack):
            on_keyframe_request(video_t.sender, video_track.request_keyframe)

        if has_audio:
            audio_track = session.audio.subscribe()
            peer.tracks.append(audio_track)
            audio_t = pc.addTransceiver(audio_track, direction="sendrecv" if can_talk else "sendonly")
            audio_t.setCodecPreferences(_codecs("audio", "opus"))
            peer.senders["audio"] = audio_t.sender

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            peer.receivers[track.kind] = receiver
            if track.kind == "audio" and can_talk:
                tap_receiver(receiver, lambda c, d, ts: self._on_viewer_audio(session, peer, receiver, d, ts))
            else:
                # A witness's (or any viewer's video) media is not wanted: drop it undecoded.
                tap_receiver(receiver, lambda c, d, ts: None)

        self._watch_state(session, peer)
        try:
            answer = await self._answer(pc, sdp)
        except BaseException:
            self._discard_failed(session, peer)
            raise

        previous = session.viewers.get(viewer_id)
        session.viewers[viewer_id] = peer
        if previous is not None:
            await self._close_peer(session, previous, "replaced")
        self._emit(session, EVENT_PEER_JOINED, viewer_id, role=role, can_talk=can_talk, replaced=previous is not None)
        if session.candidate is not None:
            session.video.want_keyframe()
        return answer

    def _discard_failed(self, session: _Session, peer: _Peer) -> None:
        """Undo a refused offer: its tracks go, and a session that only existed for it goes too."""
        peer.closing = True
        for track in peer.tracks:
            track.stop()
        if session.candidate is None and not session.viewers and session.origin_mono is None:
            self._sessions.pop(session.id, None)

    async def _sample_frames(self, session: _Session, peer: _Peer, track: MediaStreamTrack) -> None:
        """Read the decoded candidate video (decoded in aiortc's decoder thread) and hand some frames on."""
        interval = 1.0 / self.options.analysis_fps
        next_due = 0.0
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if now < next_due or session.analysis_busy or session.closed or self._frames_pool is None:
                    continue  # not due yet, or the analysis is still busy with the previous frame: drop
                next_due = now + interval
                session.analysis_busy = True
                media_s = session.media_s(now) or 0.0
                self._frames_pool.submit(self._deliver_frame, session, frame, media_s, time.time())
        except MediaStreamError:
            pass

    def _deliver_frame(self, session: _Session, frame: Any, media_s: float, utc: float) -> None:
        try:
            sample = SampledFrame(session_id=session.id, media_s=media_s, at_utc=utc, width=frame.width,
                                  height=frame.height, i420=frame.to_ndarray(format="yuv420p"))
            assert self._on_frame is not None
            self._on_frame(sample)
        except Exception:
            logger.exception("on_frame callback failed for session %s", session.id)
        finally:
            session.analysis_busy = False

    async def _close_peer(self, session: _Session, peer: _Peer, reason: str) -> None:
        if peer.closing:
            return
        peer.closing = True
        if peer.peer_id == CANDIDATE:
            if session.candidate is peer:
                session.candidate = None
        elif session.viewers.get(peer.peer_id) is peer:
            del session.viewers[peer.peer_id]
        if session.talker is not None and session.talker in peer.receivers.values():
            session.talker = None
        for track in peer.tracks:
            track.stop()
        try:
            await peer.pc.close()
        except Exception:
            logger.exception("closing %s's connection failed", peer.peer_id)
        self._emit(session, EVENT_PEER_LEFT, peer.peer_id, role=peer.role, reason=reason)

    async def _close_viewer(self, session_id: str, viewer_id: str, reason: str) -> None:
        session = self._session(session_id)
        peer = session.viewers.get(viewer_id)
        if peer is None:
            raise UnknownPeer(f"no viewer {viewer_id!r} in session {session_id!r}")
        await self._close_peer(session, peer, reason)

    async def _close_candidate(self, session_id: str, reason: str) -> None:
        session = self._session(session_id)
        if session.candidate is None:
            raise UnknownPeer(f"no candidate connected in session {session_id!r}")
        await self._close_peer(session, session.candidate, reason)

    async def _close_session(self, session_id: str, reason: str) -> None:
        session = self._sessions.get(session_id)
        if session is None:
            raise UnknownSession(f"no live media for session {session_id!r}")
        peers = ([session.candidate] if session.candidate else []) + list(session.viewers.values())
        for peer in peers:
            await self._close_peer(session, peer, "session_closed")
        self._finish_session(session, reason)

    def _finish_session(self, session: _Session, reason: str) -> None:
        """Close a session that has no connections left (loop thread)."""
        if session.segmenter is not None:
            session.segmenter.close("close")
        session.video.close()
        session.audio.close()
        session.talkback.close()
        self._emit(session, EVENT_SESSION_CLOSED, None, reason=reason)
        session.closed = True
        self._sessions.pop(session.id, None)

    async def _close_all(self) -> None:
        for session_id in list(self._sessions):
            await self._close_session(session_id, "engine_stopped")
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _stats(self, session_id: str) -> dict[str, Any]:
        session = self._session(session_id)
        now = time.monotonic()
        v_bps, v_fps = session.video_rate.rates(now)
        a_bps, _ = session.audio_rate.rates(now)
        out: dict[str, Any] = {
            "session_id": session_id,
            "media_s": session.media_s(now),
            "stalled": session.stalled,
            "candidate": None,
            "viewers": {},
            "recording": None,
        }
        if session.segmenter is not None:
            out["recording"] = {"segments": session.segmenter.segments, "bytes": session.segmenter.bytes}
        peer = session.candidate
        if peer is not None:
            inbound: dict[str, Any] = {}
            for kind, receiver in peer.receivers.items():
                report = await receiver.getStats()
                for stat in report.values():
                    if getattr(stat, "type", None) == "inbound-rtp":
                        inbound[kind] = {
                            "packets_received": stat.packetsReceived,
                            "packets_lost": stat.packetsLost,
                            "jitter": stat.jitter,
                        }
            rtt = None
            sender = peer.senders.get("audio")
            if sender is not None:
                rtt = _remote_inbound(await sender.getStats()).get("rtt_s")
            out["candidate"] = {
                "state": peer.state,
                "connected_s": now - peer.joined_mono,
                "video": {"bitrate_bps": v_bps, "fps": v_fps, "frames": session.video_rate.total_frames,
                          "keyframes": session.video.keyframes, **inbound.get("video", {})},
                "audio": {"bitrate_bps": a_bps, **inbound.get("audio", {})},
                "rtt_s": rtt,
            }
        for viewer_id, viewer in session.viewers.items():
            entry: dict[str, Any] = {"role": viewer.role, "state": viewer.state}
            sender = viewer.senders.get("video")
            if sender is not None:
                report = await sender.getStats()
                remote = _remote_inbound(report)
                sent = next((s for s in report.values() if getattr(s, "type", None) == "outbound-rtp"), None)
                bitrate = None
                if sent is not None:
                    sample = (now, sent.bytesSent)
                    if viewer.last_sent is not None and now > viewer.last_sent[0]:
                        bitrate = (sent.bytesSent - viewer.last_sent[1]) * 8 / (now - viewer.last_sent[0])
                    viewer.last_sent = sample
                entry["video"] = {
                    "packets_sent": sent.packetsSent if sent else 0,
                    "bytes_sent": sent.bytesSent if sent else 0,
                    "bitrate_bps": bitrate,
                    **remote,
                }
            track = viewer.tracks[0] if viewer.tracks else None
            if isinstance(track, PacketTrack):
                entry["forwarded_frames"] = track.forwarded
                entry["dropped_frames"] = track.dropped
            out["viewers"][viewer_id] = entry
        return out


def _remote_inbound(report: Any) -> dict[str, Any]:
    for stat in report.values():
        if getattr(stat, "type", None) == "remote-inbound-rtp":
            return {
                "rtt_s": stat.roundTripTime,
                "fraction_lost": stat.fractionLost / 256 if stat.fractionLost is not None else None,
                "packets_lost": stat.packetsLost,
            }
    return {}


__all__ = ["CANDIDATE", "EngineOptions", "MediaEngine", "ice_configuration"]

