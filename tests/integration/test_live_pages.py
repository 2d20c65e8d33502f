"""Issue 13 #9: pages without dead ends. The session page's buttons follow the order of the work (the step at hand
is the primary one), and the assessor is told the next step; the live page gives the assessor what the next step
needs (its data; the browser test clicks through it)."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from tests.conftest import csrf_token, login, satisfy_gate


@pytest.fixture
def backend():
    return "sqlite"


def _actions(html: str) -> list[tuple[str, bool]]:
    """(data-step, primary?) of the session page's action buttons, in page order."""
    row = re.search(r"<p class=\"row\" data-session-actions>(.*?)</p>", html, re.S)
    assert row, "no action row"
    links = re.findall(r'<a class="button ?([^"]*)" data-step="([a-z]+)"', row.group(1))
    return [(step, "primary" in cls) for cls, step in links]


def test_session_page_buttons_follow_the_order_of_the_work(app, cast):
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, cast.session_a)
    http = app.test_client()
    login(http, cast, "asesor_a")
    token = csrf_token(http, "/akun/kata-sandi")
    url = f"/sesi/{cast.session_a}"

    def page() -> str:
        return http.get(url).get_data(as_text=True)

    def move(to: str) -> None:
        r = http.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": to}, headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()

    assert _actions(page())[0] == ("check", True)
    move("checking")
    html = page()
    assert _actions(html)[:2] == [("check", True), ("live", False)]  # check first, the live page after it
    assert 'data-next-step="checking"' in html
    move("ready")
    html = page()
    assert _actions(html)[:2] == [("check", False), ("live", True)]
    assert 'data-next-step="ready"' in html
    for to in ("live", "ended"):
        move(to)
    html = page()
    assert _actions(html)[0] == ("live", True) and 'data-next-step="ended"' in html


def test_the_live_page_knows_the_next_step_and_the_evidence_urls(app, cast):
    http = app.test_client()
    login(http, cast, "asesor_a")
    html = unescape(http.get(f"/sesi/{cast.session_a}/langsung").get_data(as_text=True))
    data = json.loads(re.search(r"data-live='([^']+)'", html).group(1))
    assert data["urls"]["gate"].endswith("/tuk/status") and data["urls"]["transition"].endswith("/transition")
    assert data["urls"]["unit_evidence"].endswith("/units/evidence")
    assert "data-live-next" in html and 'data-action="ready"' in html
    assert data["fullscreen"] == "mandatory"  # the product's standard profile requires fullscreen
