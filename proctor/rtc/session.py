"""One assessment session's media state in the engine: its peers, its relay fan-outs, its clock and recording.

Everything here lives on the RTC loop thread. The parts of the engine that act on a session (candidate media,
viewers, stats) reach the engine through :class:`Host`, the narrow interface :class:`proctor.rtc.engine.MediaEngine`
implements, so each part can be read (and replaced) on its own.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.contrib.media import MediaRelay

from config.settings import RtcSettings
from proctor.recording import IvfSegmenter, Segment
from proctor.rtc.capture_clock import CaptureClock
from proctor.rtc.options import EngineOptions
from proctor.rtc.relay import Fanout, TapQueue, request_keyframe_upstream

CANDIDATE = "candidate"
Role = Literal["candidate", "assessor", "witness"]


class Host(Protocol):
    """What the session's parts need from the engine."""

    settings: RtcSettings
    options: EngineOptions

    @property
    def analysis_on(self) -> bool: ...

    def emit(self, session: MediaSession, type_: str, peer_id: str | None, **data: Any) -> None: ...

    def spawn(self, coro: Any) -> None: ...

    def on_segment(self, session: MediaSession, segment: Segment) -> None: ...

    def submit_frame(self, session: MediaSession, frame: Any, media_s: float, utc: float) -> bool: ...

    def submit_audio(self, session: MediaSession, data: bytes, utc: float) -> bool: ...


class Rate:
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
class Peer:
    """One participant's peer connection."""

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
    #: A viewer's track of the candidate's full video, and whether it forwards (the classroom pauses it when the
    #: candidate is not in focus; the single-session page always has it on).
    full_track: Any = None
    full_on: bool = True
    #: When the candidate's audio packets were captured (their RTP clock, 48 kHz), for the voice activity timeline.
    audio_clock: CaptureClock = field(default_factory=lambda: CaptureClock(rate=48_000))
    #: When the candidate's encoded video frames were captured (their RTP clock, 90 kHz), for the server recording.
    video_clock: CaptureClock = field(default_factory=CaptureClock)


class MediaSession:
    def __init__(self, session_id: str, host: Host) -> None:
        self.id = session_id
        self.host = host
        self.candidate: Peer | None = None
        self.viewers: dict[str, Peer] = {}
        self.video = Fanout("video", request_keyframe=self.request_keyframe)
        #: The small layer the candidate's page sends as a second video track (classroom tiles); never recorded.
        self.video_small = Fanout("video", request_keyframe=self.request_small_keyframe)
        self.audio = Fanout("audio")
        self.talkback = Fanout("audio")
        self.talker: object | None = None
        self.talker_last = 0.0
        self.origin_mono: float | None = None
        self.origin_utc: float | None = None
        self.last_video_mono: float | None = None
        self.stalled = False
        self.video_rate = Rate()
        self.audio_rate = Rate()
        self.segmenter: IvfSegmenter | None = None
        #: Whether the candidate's video goes into the segmenter now (the web layer records only while live).
        self.recording = host.options.record_from_start
        self.last_recorder_pli = 0.0
        #: Decoded frames per second wanted for analysis (0: the candidate's video is not decoded at all).
        self.sample_fps = host.options.analysis_fps
        self.video_tap: TapQueue | None = None
        self.decoded_frames = 0
        self.analysis_busy = False
        #: Whether the candidate's encoded audio goes to ``on_audio`` (voice activity analysis of a live session).
        self.listen_audio = False
        self.decoded_relay: MediaRelay | None = None
        self.decoded_track: MediaStreamTrack | None = None
        self.closed = False
        self.empty_since: float | None = time.monotonic()
        if host.options.record:
            self.segmenter = IvfSegmenter(lambda seg: host.on_segment(self, seg), host.options.segment_s)

    def media_s(self, now_mono: float | None = None) -> float | None:
        if self.origin_mono is None:
            return None
        return (now_mono if now_mono is not None else time.monotonic()) - self.origin_mono

    def set_recording(self, on: bool) -> None:
        """Record the candidate's video from the next keyframe on, or close the open segment and stop."""
        if on == self.recording:
            return
        self.recording = on
        if self.segmenter is None:
            return
        if on:
            self.request_keyframe()
        else:
            self.segmenter.close("paused")

    def set_sampling(self, fps: float) -> None:
        """Decode the candidate's video for analysis at *fps* frames per second (0: stop decoding)."""
        self.sample_fps = fps
        if self.video_tap is not None and self.host.options.relay_mode == "passthrough":
            self.video_tap.set_decode(fps > 0)
            if fps > 0:
                self.request_keyframe()  # the decoder starts at a keyframe

    def candidate_left(self, reason: str) -> None:
        """The candidate closed their connection on purpose: their media ended, it did not stall."""
        if self.segmenter is not None:
            self.segmenter.close(reason)
        self.last_video_mono = None
        self.stalled = False

    def request_small_keyframe(self) -> None:
        """Ask the candidate for a keyframe of the small layer."""
        peer = self.candidate
        receiver = peer.receivers.get("video_small") if peer else None
        if receiver is not None:
            self.host.spawn(request_keyframe_upstream(receiver))

    def request_keyframe(self) -> None:
        """Ask the candidate for a keyframe (RTCP PLI on the candidate's video receiver)."""
        peer = self.candidate
        receiver = peer.receivers.get("video") if peer else None
        if receiver is not None:
            self.host.spawn(request_keyframe_upstream(receiver))
