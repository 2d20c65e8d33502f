"""What the media engine hands out: evidence items and session events.

The engine does not depend on ``evidence_store``; the web layer adapts its store to :class:`EvidenceSink`.
Both callbacks are called from ONE engine worker thread (never the RTC loop thread), in order, so they may block
on I/O (encryption, upload) without stalling media.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class MediaRange:
    """Where an item sits in the session's media time.

    ``start_s``/``end_s`` are seconds since the session's media clock origin (the first media packet the server
    received for the session, on a monotonic clock, so it keeps running across candidate reconnects).
    ``start_utc``/``end_utc`` are the same instants as Unix timestamps (server clock).
    """

    start_s: float
    end_s: float
    start_utc: float
    end_utc: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


class EvidenceSink(Protocol):
    """Where closed recording segments go (the web layer adapts ``evidence_store`` to this)."""

    def append(
        self,
        session_id: str,
        type: str,  # the evidence item type, e.g. "recording.server_segment"
        data: bytes,
        metadata: Mapping[str, Any],
        media_range: MediaRange | None,
    ) -> Any: ...


@dataclass(frozen=True)
class EngineEvent:
    """A session event for the evidence log and the pages (join, leave, state changes, downtime ...).

    ``type`` is one of the ``EVENT_*`` constants below; ``peer_id`` is the candidate's ``"candidate"`` or a viewer id.
    ``at_utc`` is the server's Unix time; ``media_s`` the session media time (None before the first packet).
    """

    session_id: str
    type: str
    peer_id: str | None
    at_utc: float
    media_s: float | None
    data: Mapping[str, Any] = field(default_factory=dict)


EventCallback = Callable[[EngineEvent], None]


@dataclass(frozen=True)
class SampledFrame:
    """A decoded frame of the candidate's video, sampled for proctoring analysis (``EngineOptions.analysis_fps``).

    ``i420`` is the frame as ``av.VideoFrame.to_ndarray(format="yuv420p")`` returns it: a uint8 array of shape
    (H*3/2, W) (Y plane, then U, then V), which ``proctor.analysis.frames.prepare(frame, "yuv420p")`` accepts.
    """

    session_id: str
    media_s: float
    at_utc: float
    width: int
    height: int
    i420: Any


FrameSampleCallback = Callable[[SampledFrame], None]
#: on_audio(session_id, opus_packet, at_utc): the candidate's encoded audio (Opus, 48 kHz), in arrival order, while
#: the web layer listens (``MediaEngine.listen_audio``); called on the engine's analysis worker thread.
AudioCallback = Callable[[str, bytes, float], None]

EVENT_PEER_JOINED = "peer.joined"  # data: role, can_talk, replaced (bool: a rejoin replaced a connection)
EVENT_PEER_STATE = "peer.state"  # data: role, state (new|connecting|connected|failed|closed)
EVENT_PEER_LEFT = "peer.left"  # data: role, reason
EVENT_MEDIA_STARTED = "media.started"  # data: kind, codec
EVENT_MEDIA_STALLED = "media.stalled"  # data: kind, silent_s (no candidate video packets for that long)
EVENT_MEDIA_RESUMED = "media.resumed"  # data: kind, downtime_s
#: The candidate closed their connection on purpose (``close_candidate``): their media ended, it did not stall.
EVENT_MEDIA_ENDED = "media.ended"  # data: kind, reason
EVENT_RECORDING_SEGMENT = "recording.segment"  # data: index, frames, bytes (also appended to the sink)
EVENT_RECORDING_ERROR = "recording.error"  # data: error
EVENT_SESSION_CLOSED = "session.closed"  # data: reason

#: Evidence item type of the server's secondary recording segments (IVF, VP8, no re-encode).
EVIDENCE_SERVER_SEGMENT = "recording.server_segment"
