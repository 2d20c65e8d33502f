"""Browser fixtures for the evidence pages: one real server (``python -m remote_tuk serve``, from tests/e2e) and one
Debian Chromium shared by the tests of a module. Before the server starts, the LSP is set to WITA with its own
domain and session A gets a closed evidence chain written through the product's own services."""

from __future__ import annotations

import io
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.components import require
from tests.e2e.conftest import CHROMIUM, Server, chromium_available, fake_devices  # noqa: F401 - a fixture

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(400)
DOMAIN = "lsp-uji.example"


def small_webm(seconds: float = 1.0, fps: int = 10) -> bytes:
    """A real WebM (VP8) as the browser's MediaRecorder writes it."""
    import av
    import numpy as np

    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="webm")
    stream = out.add_stream("libvpx", rate=fps)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i in range(int(seconds * fps)):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20 % 255, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buf.getvalue()


def write_session_evidence(server: Server) -> dict[str, bytes]:
    """Session A's evidence, closed (an auditor verifies closed chains): what was written, by type."""
    from sqlalchemy import select

    from remote_tuk.accounts.models import User
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import services as live
    from remote_tuk.lsp.models import Lsp

    webm = small_webm()
    with server.app_context():
        lsp = db.session.scalar(select(Lsp))
        lsp.time_zone, lsp.domain = "Asia/Makassar", DOMAIN
        db.session.commit()
        store = evidence.store
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == server.cast.session_a))
        cand = db.session.get(User, server.cast.users["asesi_a"])
        live.record_event(store, sess, "page.joined", by=cand, data={"role": "candidate"})
        store.append(sess.public_id, "identity.ktp_snapshot", JPEG, metadata={"mime": "image/jpeg"},
                     actor=live.actor(cand), candidate_id=str(cand.id))
        store.append(sess.public_id, "recording.browser_full", webm, metadata={"chunks": 1},
                     actor=("system", "remote_tuk"), candidate_id=str(cand.id))
        live.close_evidence(store, sess)
    return {"identity.ktp_snapshot": JPEG, "recording.browser_full": webm}


@pytest.fixture(scope="module")
def records_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, bytes]]]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    server = Server(tmp_path_factory.mktemp("records-server"))
    server.prepare()
    written = write_session_evidence(server)
    server.start()
    try:
        yield server, written
    finally:
        server.stop()


@pytest.fixture(scope="module")
def records_browser(records_server: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(records_browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = records_browser.new_context(accept_downloads=True, locale="id-ID", timezone_id="UTC")
    try:
        yield context.new_page()
    finally:
        context.close()
