"""``make run`` serves with gunicorn (one process, gthread): HTTP, Socket.IO over WebSocket and WebRTC media into the
aiortc loop all work inside its worker, nothing prints the Werkzeug "production deployment" warning, and Ctrl+C
stops it cleanly."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM, Server, api, chromium_args, sign_in, wait_until

pytestmark = [pytest.mark.chromium, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


class GunicornServer(Server):
    """The e2e server, served as ``make run`` serves it."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "RTUK_HTTP_SERVER": "gunicorn", "RTUK_HTTP_THREADS": "16"}


def session_events(server: Server, sid: str) -> list[str]:
    """The session's events as logged (the log holds ids and metadata in clear; no key is needed)."""
    path = server.var_dir / "evidence" / "log" / "entries.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        e = json.loads(line)
        if e.get("chain") == sid and e.get("type") == "session.event":
            out.append(e["metadata"]["event"])
    return out


def test_make_run_uses_gunicorn_and_it_carries_a_live_session(tmp_path: Path, fake_devices: Any) -> None:
    from playwright.sync_api import sync_playwright

    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\t.*-m remote_tuk serve --server gunicorn$", makefile, re.M), "make run must use gunicorn"

    server = GunicornServer(tmp_path / "server")
    server.tmp.mkdir()
    server.prepare()
    server.start()
    sid, base = server.cast.session_a, server.url()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(*fake_devices))
            try:
                assessor = browser.new_context().new_page()
                sign_in(assessor, base, "asesor_a", server.cast.totp["asesor_a"])
                for to in ("checking", "ready"):  # Socket.IO is not needed for this; the pages below use it
                    status, body = api(assessor, "POST", f"/api/v1/sessions/{sid}/transition", {"to": to})
                    assert status == 200, body
                candidate = browser.new_context().new_page()
                sign_in(candidate, base, "asesi_a")
                ws_urls: list[str] = []
                candidate.on("websocket", lambda ws: ws_urls.append(ws.url))
                candidate.goto(f"{base}/sesi/{sid}/langsung")
                assessor.goto(f"{base}/sesi/{sid}/langsung")
                # the candidate's camera reached the server's aiortc loop, which logged it (media.started), and
                # the assessor's viewer connection was answered by the same loop (a second peer.joined)
                events = wait_until(lambda: (lambda ev: ev if "media.started" in ev
                                             and ev.count("peer.joined") >= 2 else None)(session_events(server, sid)),
                                    60, "the candidate's media at the server and the assessor's viewer")
                assert "page.joined" in events
                assert any("/socket.io/" in u and "transport=websocket" in u for u in ws_urls), ws_urls
            finally:
                browser.close()
    finally:
        served = server.log_path.read_text(errors="replace")  # everything logged while serving
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)  # Ctrl+C
        code = server.proc.wait(timeout=30)
    assert "dengan gunicorn" in served
    assert "production deployment" not in served and "Traceback" not in served, served[-3000:]
    assert code == 0, server.log_tail()
