"""Containers of the session recordings: a cheap check that a chunk can begin a WebM stream, the join of the browser's
recorder runs into one WebM on the session media clock, and the server's IVF copy remuxed into WebM. Packets are
copied, never re-encoded (PyAV, imported only when a join runs so the web app starts without it).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_HEADER = 0x1A45DFA3
_DOCTYPE = 0x4282
_SEGMENT = 0x18538067
#: Doc types a browser's MediaRecorder writes (Chromium and Firefox: webm; some write matroska for mkv).
WEBM_DOCTYPES = (b"webm", b"matroska")


class NotWebM(ValueError):
    """The bytes cannot be the start of a WebM stream."""


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at *pos*: (value, position after it)."""
    if pos >= len(data):
        raise NotWebM("data ends inside an element")
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise NotWebM("invalid variable-length integer")
    if pos + length > len(data):
        raise NotWebM("data ends inside an element")
    value = first if keep_marker else first & (mask - 1)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, pos + length


def check_webm_start(data: bytes) -> None:
    """Raise :class:`NotWebM` unless *data* begins like a WebM stream: an EBML header whose DocType is webm (or
    matroska), followed by a Segment. Reads a few dozen bytes; says nothing about what follows."""
    element, pos = _vint(data, 0, keep_marker=True)
    if element != _EBML_HEADER:
        raise NotWebM("no EBML header")
    size, pos = _vint(data, pos, keep_marker=False)
    end = pos + size
    if size > 4096 or end > len(data):
        raise NotWebM("EBML header size is implausible")
    doctype = None
    while pos < end:
        child, pos = _vint(data, pos, keep_marker=True)
        child_size, pos = _vint(data, pos, keep_marker=False)
        if pos + child_size > end:
            raise NotWebM("EBML header element overruns the header")
        if child == _DOCTYPE:
            doctype = data[pos : pos + child_size].rstrip(b"\0")
        pos += child_size
    if doctype not in WEBM_DOCTYPES:
        raise NotWebM(f"DocType {doctype!r} is not WebM")
    segment, _ = _vint(data, end, keep_marker=True)
    if segment != _SEGMENT:
        raise NotWebM("no Segment after the EBML header")


# --- joining -------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One recorder run: the bytes of its chunks in order, where it starts on the session media clock, and which
    chunk (sequence number) begins at which byte (to name a chunk the demuxer choked on)."""

    start_s: float
    data: bytes
    chunk_offsets: list[tuple[int, int]]  # (seq, first byte in data)

    def seq_at(self, offset: int) -> int:
        seq = self.chunk_offsets[0][0]
        for s, first in self.chunk_offsets:
            if first > offset:
                break
            seq = s
        return seq

    @property
    def seqs(self) -> tuple[int, int]:
        return self.chunk_offsets[0][0], self.chunk_offsets[-1][0]


#: a stretch without a video frame at least this long inside one recorder run is a hole (chunks missing inside the
#: run: the frames of the chunks before and after keep their times, so the picture jumps): the review room plays the
#: server's copy there. A recorder gives a frame every 1/30 s even of a still picture.
RUN_HOLE_S = 0.5


@dataclass
class RunOutcome:
    first_seq: int
    last_seq: int
    placed_s: float = 0.0
    end_s: float = 0.0
    packets: int = 0
    error: str | None = None
    bad_seq: int | None = None
    #: stretches inside the run with no video frame (chunks missing inside the run), on the session clock
    holes: list[tuple[float, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seqs": [self.first_seq, self.last_seq],
            "placed_ms": int(self.placed_s * 1000),
            "end_ms": int(self.end_s * 1000),
            "packets": self.packets,
        }
        if self.holes:
            out["holes_ms"] = [[int(a * 1000), int(b * 1000)] for a, b in self.holes]
        if self.error:
            out["error"] = self.error
            out["bad_seq"] = self.bad_seq
        return out


@dataclass
class Joined:
    data: bytes
    duration_s: float
    runs: list[RunOutcome] = field(default_factory=list)

    @property
    def failed_runs(self) -> list[RunOutcome]:
        return [r for r in self.runs if r.error]


class JoinFailed(Exception):
    """Nothing playable could be made; ``runs`` says why, per run."""

    def __init__(self, message: str, runs: list[RunOutcome]) -> None:
        super().__init__(message)
        self.runs = runs

    @property
    def bad_seq(self) -> int | None:
        return next((r.bad_seq for r in self.runs if r.bad_seq is not None), None)


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:300]


def join_runs(runs: Sequence[Run]) -> Joined:
    """Copy the packets of MediaRecorder WebM runs into one WebM, each run placed at its ``start_s`` on the session
    media clock (never overlapping the run before it), so the result has a duration and cues and a moment of the
    session is at the same time in the recording. A run the demuxer cannot read is left out from the chunk where it
    failed (said in its :class:`RunOutcome`); when nothing at all can be read, :class:`JoinFailed`."""
    import av

    outcomes = [RunOutcome(*run.seqs) for run in runs]
    templates: dict[str, Any] = {}
    sources: list[Any] = []
    buffers = [io.BytesIO(run.data) for run in runs]
    for run, outcome, buf in zip(runs, outcomes, buffers, strict=True):  # which runs open, which streams exist
        try:
            src = av.open(buf, format="webm")
        except Exception as err:  # noqa: BLE001 - any demuxer failure is a fact about this run, reported
            outcome.error, outcome.bad_seq = _reason(err), run.chunk_offsets[0][0]
            sources.append(None)
            continue
        sources.append(src)
        for st in src.streams:
            if st.type in ("video", "audio") and st.type not in templates:
                templates[st.type] = st
    try:
        if not templates:
            raise JoinFailed("no run of the recording could be read", outcomes)
        out_buf = io.BytesIO()
        dst = av.open(out_buf, mode="w", format="webm")
        outputs = {kind: dst.add_stream_from_template(st) for kind, st in templates.items()}
        last_dts: dict[str, int] = {}
        end_s = 0.0
        for run, outcome, src, buf in zip(runs, outcomes, sources, buffers, strict=True):
            if src is None:
                continue
            offset = max(run.start_s, end_s)
            outcome.placed_s = offset
            run_end = offset
            video_end: float | None = None  # where the last video frame of this run ends
            wanted = [st for st in src.streams if st.type in outputs]
            try:
                for packet in src.demux(*wanted):
                    if packet.dts is None or packet.size == 0 or packet.time_base is None:
                        continue
                    kind = packet.stream.type
                    tb = packet.time_base
                    shift = round(offset / tb)
                    packet.pts = (packet.pts if packet.pts is not None else packet.dts) + shift
                    packet.dts += shift
                    floor = last_dts.get(kind)
                    if floor is not None and packet.dts <= floor:
                        packet.dts = floor + 1
                        packet.pts = max(packet.pts, packet.dts)
                    last_dts[kind] = packet.dts
                    if kind == "video":
                        at = float(packet.pts * tb)
                        if video_end is not None and at - video_end >= RUN_HOLE_S:
                            outcome.holes.append((round(video_end, 3), round(at, 3)))
                        video_end = max(video_end or 0.0, float((packet.pts + (packet.duration or 0)) * tb))
                    run_end = max(run_end, float((packet.pts + (packet.duration or 0)) * tb))
                    packet.stream = outputs[kind]
                    dst.mux(packet)
                    outcome.packets += 1
            except Exception as err:  # noqa: BLE001 - keep what was read; say where it stopped
                outcome.error = _reason(err)
                # the demuxer reads ahead in blocks: the chunk named is the one being read when it failed
                outcome.bad_seq = run.seq_at(buf.tell())
            outcome.end_s = run_end
            end_s = max(end_s, run_end)
        if not any(o.packets for o in outcomes):
            dst.close()
            raise JoinFailed("no packet of the recording could be read", outcomes)
        dst.close()
        return Joined(out_buf.getvalue(), end_s, outcomes)
    finally:
        for src in sources:
            if src is not None:
                src.close()


def ivf_to_webm(ivf: bytes) -> tuple[bytes, float]:
    """Remux a VP8 IVF file (the server's joined copy) into WebM, frames copied, timestamps kept (the session media
    clock). Returns (bytes, end in seconds)."""
    import av

    out_buf = io.BytesIO()
    with av.open(io.BytesIO(ivf), format="ivf") as src:
        stream = src.streams.video[0]
        dst = av.open(out_buf, mode="w", format="webm")
        out = dst.add_stream_from_template(stream)
        end = 0.0
        for packet in src.demux(stream):
            if packet.dts is None or packet.size == 0 or packet.time_base is None:
                continue
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            packet.stream = out
            dst.mux(packet)
        dst.close()
    return out_buf.getvalue(), end
