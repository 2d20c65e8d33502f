"""The session media clock, gap ranges, where a recorder run is placed, and the WebM start check (no database)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from remote_tuk.assessment.models import AssessmentSession, SessionState, SessionTransition
from remote_tuk.live.clock import clock_at, live_elapsed
from remote_tuk.live.joins import _run_start_s
from remote_tuk.live.models import RecordingChunk
from remote_tuk.live.recording import gap_ranges, max_seq
from remote_tuk.live.webm import NotWebM, check_webm_start

S = SessionState
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _session(*moves: tuple[float, SessionState, SessionState], state: SessionState) -> AssessmentSession:
    s = AssessmentSession(state=state)
    for at, src, dst in moves:
        s.transitions.append(SessionTransition(from_state=src, to_state=dst, at=T0 + timedelta(seconds=at)))
    return s


def _paused_once() -> AssessmentSession:
    # ready for 30 s (the check, the identity step), live 0-60 s, paused 60-90 s, live again from 90 s, ended at 150 s
    return _session(
        (0, S.CHECKING, S.READY), (30, S.READY, S.LIVE), (90, S.LIVE, S.PAUSED), (120, S.PAUSED, S.LIVE),
        (180, S.LIVE, S.ENDED), state=S.ENDED,
    )


def test_the_session_clock_counts_live_time_only() -> None:
    s = _paused_once()
    assert clock_at(s, T0 + timedelta(seconds=10)) == 0  # before live: the pre-session check is not on the clock
    assert clock_at(s, T0 + timedelta(seconds=40)) == 10
    assert clock_at(s, T0 + timedelta(seconds=100)) == 60  # frozen while paused
    assert clock_at(s, T0 + timedelta(seconds=130)) == 70
    assert clock_at(s, T0 + timedelta(seconds=500)) == 120
    assert live_elapsed(s) == 120


def test_the_clock_runs_while_live() -> None:
    s = _session((0, S.READY, S.LIVE), state=S.LIVE)
    s.transitions[0].at = datetime.now(UTC) - timedelta(seconds=5)
    assert 4.9 < live_elapsed(s) < 6


def test_gaps_are_ranges_whatever_the_numbers() -> None:
    assert gap_ranges([]) == []
    assert gap_ranges([0, 1, 2]) == []
    assert gap_ranges([0, 5, 6, 9]) == [(1, 4), (7, 8)]
    t = time.perf_counter()
    assert gap_ranges([0, 999_999_999]) == [(1, 999_999_998)]
    assert time.perf_counter() - t < 0.01


def test_sequence_numbers_are_bounded_by_the_session() -> None:
    s = _paused_once()  # 120 s live, two starts, 2 s chunks: 60 chunks made
    limit = max_seq(s, 2000)
    assert 120 <= limit <= 400
    assert max_seq(_session(state=S.LIVE), 2000) >= 100  # slack for a session that just started


def _chunk(seq: int, client_start_ms: int | None, received: float) -> RecordingChunk:
    return RecordingChunk(seq=seq, client_start_ms=client_start_ms, received_at=T0 + timedelta(seconds=received))


def test_a_run_is_placed_where_it_began_even_with_a_wrong_page_clock() -> None:
    """Issue 13 #5: the page's clock is 500 s fast; chunks of 2 s, uploaded 0.1-0.4 s after they end. A run that
    began 25 s after the session went live (a reload) is placed at 25 s on the session clock."""
    s = _paused_once()  # live from T0+30 s
    skew_ms = 500_000
    began = (30 + 25) * 1000 + skew_ms  # page clock, ms after T0
    base = int(T0.timestamp() * 1000)
    rows = [
        _chunk(40, base + began, 30 + 25 + 2 + 0.4),
        _chunk(41, base + began + 2000, 30 + 25 + 4 + 0.1),
        _chunk(42, base + began + 4000, 30 + 25 + 6 + 0.3),
    ]
    assert _run_start_s(s, rows, 2000) == pytest.approx(25.0, abs=0.15)


def test_webm_start_check() -> None:
    from tests.integration.test_live_session import _webm

    check_webm_start(_webm(seconds=1.0)[:300])
    for bad in (b"", b"\x1a\x45\xdf\xa3", b"\x1a\x45\xdf\xa3" + b"webm" * 100, b"RIFF....AVI ", b"\x00" * 64):
        with pytest.raises(NotWebM):
            check_webm_start(bad)
