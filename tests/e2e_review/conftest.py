"""Browser fixtures for the review room: one real server (``python -m remote_tuk serve``, from tests/e2e) whose
session A went live, was marked twice far into a synthetic 30-minute recording, and ended — written through the
product's own services before the server starts — and one Debian Chromium."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.components import require
from tests.e2e.conftest import CHROMIUM, Server, chromium_available

#: the synthetic recording: 30 minutes, one frame a second, a keyframe every 10 s (a long recording to seek in)
RECORDING_S = 30 * 60
#: where the two KUK marks point (seconds of session media time)
MARK_AT = (900.0, 1500.0)
#: where chunks are missing inside the browser recording's second run (26:40–26:43), as the join says
INNER_HOLE_MS = (1_600_000, 1_603_000)


def long_webm(seconds: int = RECORDING_S, fps: int = 1, size: tuple[int, int] = (64, 48), noise: bool = False) -> bytes:
    """A real WebM (VP8) of *seconds*, each frame's shade telling its second (with *noise*: random pixels, which
    compress about as badly as a camera's picture, for a realistic size)."""
    import av
    import numpy as np

    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="webm")
    stream = out.add_stream("libvpx", rate=fps, options={"g": "10", "deadline": "realtime", "cpu-used": "8"})
    w, h = size
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    rng = np.random.default_rng(7)
    for i in range(seconds * fps):
        pixels = rng.integers(0, 255, (h, w, 3), dtype=np.uint8) if noise else \
            np.full((h, w, 3), (i * 7) % 255, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buf.getvalue()


def write_reviewed_session(server: Server, webm: bytes | None = None, seconds: int = RECORDING_S,
                           with_hole: bool = True) -> dict[str, Any]:
    """Session A: live, two KUK marks at :data:`MARK_AT` on the session clock, ended; its joined recording (the
    synthetic 30 minutes) stored through the evidence store as the live joins store theirs. *with_hole*: the browser
    recording's join says its second recorder run began at 20:00 after the first ended at 10:00 (no picture between,
    where the first mark is) and lost chunks inside it (:data:`INNER_HOLE_MS`), and the server's copy is stored too
    (the same file: one clock)."""
    from sqlalchemy import select

    from remote_tuk.accounts.models import User
    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.models import AssessmentSession, SessionState, SessionTransition
    from remote_tuk.db import utcnow
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import scoring
    from remote_tuk.live import services as live
    from remote_tuk.live.models import SessionRecording, Verdict
    from remote_tuk.lsp.models import Kuk

    webm = webm if webm is not None else long_webm()
    with server.app_context():
        s = db.session
        store = evidence.store
        sess = s.scalar(select(AssessmentSession).where(AssessmentSession.public_id == server.cast.session_a))
        asr = s.get(User, server.cast.users["asesor_a"])
        for to in (SessionState.CHECKING, SessionState.READY, SessionState.LIVE):
            assessment.transition(s, sess, to, actor=asr)
        went_live = s.scalar(select(SessionTransition).where(SessionTransition.session_id == sess.id,
                                                             SessionTransition.to_state == SessionState.LIVE))
        kuks = list(s.scalars(select(Kuk).order_by(Kuk.id)).all())[:2]
        marks = []
        for kuk, at in zip(kuks, MARK_AT, strict=True):
            went_live.at = utcnow() - timedelta(seconds=at)  # the session has been live for *at* seconds
            s.commit()
            s.expire(sess, ["transitions"])
            marks.append(scoring.add_mark(s, store, sess, asr, kuk_id=kuk.id, verdict=Verdict.K, note="tepat",
                                          client_media_s=None).media_s)
        went_live.at = utcnow() - timedelta(seconds=seconds)
        s.commit()
        s.expire(sess, ["transitions"])
        assessment.transition(s, sess, SessionState.ENDED, actor=asr)
        runs = [{"seqs": [0, 299], "placed_ms": 0, "end_ms": 600_000, "packets": 600},
                {"seqs": [300, 899], "placed_ms": 1_200_000, "end_ms": seconds * 1000, "packets": 600,
                 "holes_ms": [list(INNER_HOLE_MS)]}]  # chunks missing inside the second run
        r = live.append_item(store, sess, live.FULL, webm, metadata={"version": 1, **({"runs": runs} if with_hole
                                                                                     else {})},
                             actor=live.SYSTEM, candidate_id=str(sess.candidate_id))
        s.add(SessionRecording(session_id=sess.id, source="browser", version=1, object_key=r.object_key,
                               log_index=r.log_index, duration_s=float(seconds), chunks=1, size=len(webm)))
        if with_hole:
            r = live.append_item(store, sess, live.SERVER_FULL, webm, metadata={"version": 1, "source": "server"},
                                 actor=live.SYSTEM, candidate_id=str(sess.candidate_id))
            s.add(SessionRecording(session_id=sess.id, source="server", version=1, object_key=r.object_key,
                                   log_index=r.log_index, duration_s=float(seconds), chunks=1, size=len(webm)))
        s.commit()
    return {"marks": marks, "size": len(webm)}


@pytest.fixture(scope="module")
def review_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    server = Server(tmp_path_factory.mktemp("review-server"))
    server.prepare()
    written = write_reviewed_session(server)
    server.start()
    try:
        yield server, written
    finally:
        server.stop()


@pytest.fixture(scope="module")
def review_browser(review_server: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(review_browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = review_browser.new_context(locale="id-ID", timezone_id="UTC")
    try:
        yield context.new_page()
    finally:
        context.close()
