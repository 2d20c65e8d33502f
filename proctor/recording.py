"""Server-side secondary recording: the received encoded VP8 written as IVF segments, no re-encode.

A segment starts at a keyframe (so each one plays on its own) and is closed at the first keyframe after
``segment_s`` seconds; :class:`IvfSegmenter` tells its owner when it wants a keyframe (the engine then sends a PLI to
the candidate, whose browser otherwise sends keyframes rarely). A closed segment is handed to ``on_segment`` with its
media time range. Pure Python, no aiortc: the engine feeds it from the RTC loop thread.

IVF (libvpx): 32-byte file header ``DKIF``, version 0, header size 32, fourcc ``VP80``, width, height, time base
denominator and numerator (here 90000/1, the RTP clock), frame count; then per frame a 12-byte header (size u32,
pts u64, little endian) and the frame.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from proctor.sink import MediaRange

IVF_CLOCK = 90_000


def ivf_file_header(width: int, height: int, frame_count: int, rate: int = IVF_CLOCK, scale: int = 1) -> bytes:
    return struct.pack("<4sHH4sHHIII", b"DKIF", 0, 32, b"VP80", width, height, rate, scale, frame_count) + b"\0" * 4


def ivf_frame_header(size: int, pts: int) -> bytes:
    return struct.pack("<IQ", size, pts)


def _is_keyframe(data: bytes) -> bool:
    return len(data) >= 10 and not (data[0] & 0x01) and data[3:6] == b"\x9d\x01\x2a"


def _keyframe_size(data: bytes) -> tuple[int, int]:
    return (
        int.from_bytes(data[6:8], "little") & 0x3FFF,
        int.from_bytes(data[8:10], "little") & 0x3FFF,
    )


@dataclass
class Segment:
    """A closed IVF segment."""

    index: int
    data: bytes
    frames: int
    width: int
    height: int
    media_range: MediaRange
    #: why it was closed: "duration", "source_change", "stall", "close"
    reason: str

    def metadata(self) -> dict[str, object]:
        return {
            "container": "ivf",
            "codec": "vp8",
            "index": self.index,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
            "closed_because": self.reason,
            "time_base": f"1/{IVF_CLOCK}",
            "source": "server",
        }


@dataclass
class _Open:
    index: int
    width: int
    height: int
    first_ts: int
    start_s: float
    start_utc: float
    chunks: list[bytes] = field(default_factory=list)
    frames: int = 0
    last_ts: int = 0
    last_s: float = 0.0
    last_utc: float = 0.0


class IvfSegmenter:
    """Cuts a VP8 frame stream into self-contained IVF segments of about ``segment_s`` seconds."""

    def __init__(self, on_segment: Callable[[Segment], None], segment_s: float = 4.0) -> None:
        self._on_segment = on_segment
        self.segment_s = segment_s
        self._open: _Open | None = None
        self._next_index = 0
        self._source: object | None = None
        self.segments = 0
        self.bytes = 0
        self.skipped_frames = 0

    @property
    def wants_keyframe(self) -> bool:
        """True when the next keyframe would be used: no segment is open, or the open one is due."""
        if self._open is None:
            return True
        return self._open.last_s - self._open.start_s >= self.segment_s

    def add(self, source: object, data: bytes, timestamp: int, media_s: float, utc: float) -> None:
        """Add one encoded VP8 frame (*timestamp* in the 90 kHz RTP clock of *source*)."""
        if source is not self._source:
            self._source = source
            self.close("source_change")
        keyframe = _is_keyframe(data)
        seg = self._open
        if seg is not None and keyframe and media_s - seg.start_s >= self.segment_s:
            self.close("duration")
            seg = None
        if seg is None:
            if not keyframe:
                self.skipped_frames += 1
                return
            width, height = _keyframe_size(data)
            seg = self._open = _Open(
                index=self._next_index, width=width, height=height, first_ts=timestamp, start_s=media_s, start_utc=utc
            )
            self._next_index += 1
        pts = timestamp - seg.first_ts
        if pts < 0:
            pts = seg.last_ts + 1
        # Where the segment starts: each frame implies a start (its time minus its RTP time into the segment); the
        # earliest is kept. The engine hands in capture times (the connection's CaptureClock), on which every frame
        # implies nearly the same start; given arrival times, the earliest is the least delayed frame's.
        into_s = pts / IVF_CLOCK
        if media_s - into_s < seg.start_s:
            seg.start_s, seg.start_utc = media_s - into_s, utc - into_s
        seg.chunks.append(ivf_frame_header(len(data), pts))
        seg.chunks.append(data)
        seg.frames += 1
        seg.last_ts = pts
        seg.last_s = media_s
        seg.last_utc = utc

    def close(self, reason: str = "close") -> Segment | None:
        """Close the open segment (if any) and hand it on."""
        seg = self._open
        self._open = None
        if seg is None or seg.frames == 0:
            return None
        # The frames span their RTP times; the last frame lasts as long as the average frame before it.
        span_s = seg.last_ts / IVF_CLOCK
        frame_s = span_s / (seg.frames - 1) if seg.frames > 1 else 1 / 30
        end_s = seg.start_s + span_s + frame_s
        end_utc = seg.start_utc + span_s + frame_s
        data = ivf_file_header(seg.width, seg.height, seg.frames) + b"".join(seg.chunks)
        segment = Segment(
            index=seg.index,
            data=data,
            frames=seg.frames,
            width=seg.width,
            height=seg.height,
            media_range=MediaRange(start_s=seg.start_s, end_s=end_s, start_utc=seg.start_utc, end_utc=end_utc),
            reason=reason,
        )
        self.segments += 1
        self.bytes += len(data)
        self._on_segment(segment)
        return segment


def join_ivf(segments: list[tuple[bytes, float]], origin: float | None = None) -> bytes:
    """Join IVF segments into one IVF file, each placed at its media start time (seconds), in order.

    *segments* are ``(ivf_bytes, media_start_s)`` as handed to the sink (``MediaRange.start_s``). Gaps (downtime)
    stay gaps in the timeline; a segment that would start before the previous one ended is moved after it. Frames are
    copied, never re-encoded. Time 0 of the result is *origin* (default: the first segment's start; 0.0 keeps the
    start times as they are, e.g. on the session media clock). Raises ``ValueError`` on a file that is not VP8 IVF.
    """
    out: list[bytes] = []
    frames = 0
    width = height = 0
    last_pts = -1
    for data, start_s in sorted(segments, key=lambda s: s[1]):
        if data[:4] != b"DKIF" or data[8:12] != b"VP80":
            raise ValueError("not a VP8 IVF file")
        header_len = int.from_bytes(data[6:8], "little")
        rate = int.from_bytes(data[16:20], "little")
        scale = int.from_bytes(data[20:24], "little") or 1
        if not width:
            width, height = int.from_bytes(data[12:14], "little"), int.from_bytes(data[14:16], "little")
        if origin is None:
            origin = start_s
        base = max(round(max(0.0, start_s - origin) * IVF_CLOCK), last_pts + 1)
        pos = header_len
        while pos + 12 <= len(data):
            size = int.from_bytes(data[pos : pos + 4], "little")
            pts = int.from_bytes(data[pos + 4 : pos + 12], "little")
            frame = data[pos + 12 : pos + 12 + size]
            if len(frame) != size:
                raise ValueError("truncated IVF frame")
            out_pts = base + pts * IVF_CLOCK * scale // rate
            out_pts = max(out_pts, last_pts + 1)
            out.append(ivf_frame_header(size, out_pts))
            out.append(frame)
            last_pts = out_pts
            frames += 1
            pos += 12 + size
    return ivf_file_header(width, height, frames) + b"".join(out)
