"""Issue 19 #4 in Debian Chromium against the real server: the admin sends the invitation from the outbox page, the
``send-mail`` command (a separate process, as in production) delivers it to an SMTP server on a socket, and the
candidate's browser opens the link from the mail: it signs in once, and the same link is refused afterwards."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.components import require
from tests.e2e.conftest import CHROMIUM, ROOT, Server, chromium_available, sign_in
from tests.functional.smtp_server import SmtpServer

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

CANDIDATE_MAIL = "asesi.a@contoh.example"


class MailServer(Server):
    smtp_port: int = 0

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(RTUK_MAIL_HOST="127.0.0.1", RTUK_MAIL_PORT=str(self.smtp_port), RTUK_MAIL_SECURITY="none",
                   RTUK_MAIL_FROM_ADDRESS="tuk@lsp-uji.example")
        return env

    def prepare(self) -> None:
        super().prepare()
        engine = create_engine(self.db_url)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)  # outside the reminder windows
        with engine.begin() as conn:
            conn.execute(text("update users set email = :e where username = 'asesi_a'"), {"e": CANDIDATE_MAIL})
            conn.execute(text("update schedules set starts_at = :s, ends_at = :e"),
                         {"s": start, "e": start + timedelta(hours=3)})
        engine.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(tmp_path, smtp) -> Iterator[MailServer]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    srv = MailServer(tmp_path / "server")
    srv.smtp_port = smtp.port
    srv.tmp.mkdir(parents=True)
    srv.prepare()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_the_mailed_link_signs_the_candidate_in_once(server: MailServer, smtp: SmtpServer, chromium: Any):
    base, cast = server.url(), server.cast
    admin = chromium.new_context().new_page()
    sign_in(admin, base, "admin", cast.totp["admin"])
    admin.goto(f"{base}/admin/jadwal/{cast.schedule_a}")
    with admin.expect_navigation():
        admin.click("[data-outbox-link]")
    with admin.expect_navigation():
        admin.click(f"[data-invite='{cast.session_a}']")
    shown = admin.text_content("[data-join-link]")
    assert shown and "/gabung/" in shown  # to copy into WhatsApp
    assert admin.get_attribute("[data-mail]", "data-mail-status") == "queued"
    assert smtp.received == []

    done = subprocess.run([sys.executable, "-m", "remote_tuk", "send-mail"], cwd=ROOT, env=server.env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (got,) = smtp.received
    assert got.rcpt_to == [CANDIDATE_MAIL]
    body = got.message.get_body(preferencelist=("plain",)).get_content()
    (link,) = set(re.findall(r"http://[^\s]+/gabung/[A-Za-z0-9_.\-]+", body))
    assert link.startswith(base)  # the address the admin's browser used
    assert link.rsplit("/", 1)[1] not in server.log_tail(400) + done.stdout + done.stderr

    admin.goto(f"{base}/admin/jadwal/{cast.schedule_a}/surel")  # (not a reload: that would post the form again)
    assert admin.get_attribute("[data-mail]", "data-mail-status") == "sent"

    candidate = chromium.new_context().new_page()
    candidate.goto(link)
    assert "Asesi A" in candidate.text_content("main")
    with candidate.expect_navigation():
        candidate.click("[data-join-redeem] button")
    assert candidate.url.endswith(f"/sesi/{cast.session_a}")

    other = chromium.new_context().new_page()
    response = other.goto(link)
    assert response is not None and response.status == 410
    assert "sudah dipakai" in other.text_content("main")
