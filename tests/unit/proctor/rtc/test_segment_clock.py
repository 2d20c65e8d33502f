"""The server's recording segments sit on the capture clock of the candidate's connection: a segment whose frames all
arrive late (the sender's encoder queue, a busy loop) is placed where its frames were captured, as the frames before
it were, not where they arrived (proctor/rtc/candidate.py ``on_video``)."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace

import pytest

from proctor.rtc import candidate
from proctor.rtc.options import EngineOptions
from proctor.rtc.session import MediaSession, Peer

KEY = bytes([0x00, 0, 0]) + b"\x9d\x01\x2a" + (640).to_bytes(2, "little") + (480).to_bytes(2, "little") + b"\0" * 20
DELTA = bytes([0x01]) + b"\0" * 30
UTC_AT_MONO_0 = 1_800_000_000.0


class FakeTime:
    def __init__(self) -> None:
        self.mono = 1000.0

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return UTC_AT_MONO_0 + self.mono


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    clock = FakeTime()
    monkeypatch.setattr(candidate, "time", clock)
    return clock


def _run(fake_time: FakeTime, delays: list[float]) -> tuple[list, list[float], float]:
    """Send 30 fps frames (a keyframe every 10th) captured 1/30 s apart from mono 1000, frame i arriving delays[i]
    after its capture; returns (segments, capture times, the session's origin)."""
    segments: list = []
    host = SimpleNamespace(
        options=EngineOptions(record=True, segment_s=1.0, record_from_start=True),
        on_segment=lambda _session, seg: segments.append(seg),
        emit=lambda *a, **k: None,
        spawn=lambda coro: coro.close(),
    )
    session = MediaSession("s1", host)
    peer = Peer(peer_id="c", role="candidate", pc=None)
    session.candidate = peer
    receiver = object()
    captures = []
    for i, delay in enumerate(delays):
        capture = 1000.0 + i / 30
        captures.append(capture)
        fake_time.mono = max(fake_time.mono, capture + delay)  # frames arrive in order
        candidate.on_video(session, peer, receiver, "VP8", KEY if i % 10 == 0 else DELTA, i * 3000)
    session.segmenter.close("close")
    return segments, captures, session.origin_mono


def test_a_segment_whose_frames_all_arrive_late_is_placed_where_they_were_captured(fake_time: FakeTime) -> None:
    # 2 s arriving 20 ms after capture, then 2 s arriving 600 ms after (each segment of the second half has none
    # arriving sooner), then 20 ms again
    delays = [0.02] * 60 + [0.6] * 60 + [0.02] * 30
    segments, captures, _origin = _run(fake_time, delays)
    assert len(segments) >= 4
    first = 0  # the frame each segment starts with: every frame is recorded, segments in order
    for seg in segments:
        assert first % 10 == 0, seg.index  # a keyframe
        expected = captures[first] - captures[0]  # the session's origin is the first frame's arrival
        assert seg.media_range.start_s == pytest.approx(expected, abs=0.01), seg.index
        assert seg.media_range.start_utc == pytest.approx(UTC_AT_MONO_0 + captures[first] + 0.02, abs=0.01)
        first += seg.frames
    assert first == len(delays)


def test_segments_of_a_steady_stream_follow_each_other_without_gaps_or_overlap(fake_time: FakeTime) -> None:
    segments, _captures, _origin = _run(fake_time, [0.05 + 0.03 * ((i * 7) % 5) for i in range(150)])
    for a, b in pairwise(segments):
        assert b.media_range.start_s == pytest.approx(a.media_range.end_s, abs=0.01)
