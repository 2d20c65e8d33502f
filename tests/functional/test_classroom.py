"""The classroom page and its socket events (issue 17): who may open it, what each tile carries, and that a witness
watching a classroom can neither talk nor act. The media and the group actions in real Chromium are in
tests/e2e/test_classroom.py."""

from __future__ import annotations

import json
import re

import pytest

from remote_tuk.extensions import socketio
from tests.conftest import login, satisfy_gate
from tests.functional.test_evidence_page import _move

NS = "/live"


@pytest.fixture
def backend():
    return "sqlite"


def _page_data(html: str) -> dict:
    m = re.search(r"data-classroom='([^']*)'", html)
    assert m, html[:500]
    return json.loads(m.group(1).replace("&#39;", "'").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&#34;", '"').replace("&quot;", '"'))


def test_the_assessor_opens_their_schedules_classroom(cast, login_as) -> None:
    c = login_as("asesor_a")
    r = c.get(f"/jadwal/{cast.schedule_a}/kelas")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert f'data-session="{cast.session_a}"' in html
    assert 'data-focused="0"' in html and 'data-alert-count="0"' in html
    data = _page_data(html)
    assert data["role"] == "assessor" and data["can_talk"] and data["can_control"]
    assert [t["session"] for t in data["tiles"]] == [cast.session_a]
    assert "data-broadcast" in html  # group actions for the assessor
    # reached from the schedule page and the dashboard
    assert f"/jadwal/{cast.schedule_a}/kelas" in c.get(f"/jadwal/{cast.schedule_a}").get_data(as_text=True)
    assert f"/jadwal/{cast.schedule_a}/kelas" in c.get("/asesor/").get_data(as_text=True)


def test_refusals(cast, login_as) -> None:
    # another schedule's assessor: the same 404 as an unknown schedule (no leak)
    assert login_as("asesor_b").get(f"/jadwal/{cast.schedule_a}/kelas").status_code == 404
    assert login_as("asesor_a").get("/jadwal/999999/kelas").status_code == 404
    # a candidate never opens a classroom, not even of their own schedule
    assert login_as("asesi_a").get(f"/jadwal/{cast.schedule_a}/kelas").status_code == 403
    # an auditor without a grant: 404; anonymous: sent to sign in
    assert login_as("auditor_b").get(f"/jadwal/{cast.schedule_a}/kelas").status_code == 404
    assert login_as(None).get(f"/jadwal/{cast.schedule_a}/kelas").status_code in (302, 401)


def test_a_granted_auditor_watches_read_only(cast, login_as) -> None:
    r = login_as("auditor_a").get(f"/jadwal/{cast.schedule_a}/kelas")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    data = _page_data(html)
    assert data["role"] == "witness" and not data["can_talk"] and not data["can_control"]
    assert "data-broadcast" not in html and 'data-tile-action="pause"' not in html


def test_the_focus_panel_is_the_live_page_framed_by_this_site_only(cast, login_as) -> None:
    c = login_as("asesor_a")
    framed = c.get(f"/sesi/{cast.session_a}/langsung?panel=1")
    assert framed.status_code == 200
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in framed.headers["Content-Security-Policy"]
    assert "live-panel" in framed.get_data(as_text=True)
    plain = c.get(f"/sesi/{cast.session_a}/langsung")
    assert plain.headers["X-Frame-Options"] == "DENY"
    # the candidate's page is never framed
    cand = login_as("asesi_a").get(f"/sesi/{cast.session_a}/langsung?panel=1")
    assert cand.headers["X-Frame-Options"] == "DENY"


def _sock(app, cast, username):
    http = app.test_client()
    login(http, cast, username)
    sc = socketio.test_client(app, namespace=NS, flask_test_client=http)
    assert sc.is_connected(NS)
    return sc


def test_a_witness_in_the_classroom_can_neither_talk_nor_act(app, cast, database, login_as) -> None:
    satisfy_gate(database[0], cast.session_a)
    _move(login_as("asesor_a"), cast, "checking", "ready", "live")
    sc = _sock(app, cast, "auditor_a")
    assert sc.emit("join", {"session": cast.session_a}, namespace=NS, callback=True)["ok"]
    chat = sc.emit("chat", {"session": cast.session_a, "text": "halo semua"}, namespace=NS, callback=True)
    assert not chat["ok"] and chat["error"] == "forbidden"
    for action in ("pause", "end"):
        ack = sc.emit("control", {"session": cast.session_a, "action": action}, namespace=NS, callback=True)
        assert not ack["ok"] and ack["error"] == "forbidden", ack
    # a candidate cannot steer a classroom's layers; bad payloads are refused with a message
    cand = _sock(app, cast, "asesi_a")
    ack = cand.emit("layer", {"session": cast.session_a, "full": True}, namespace=NS, callback=True)
    assert not ack["ok"] and ack["error"] == "forbidden"
    bad = sc.emit("layer", {"session": cast.session_a, "full": "ya"}, namespace=NS, callback=True)
    assert not bad["ok"] and bad["error"] == "validation_failed"
    other = _sock(app, cast, "asesor_b")
    ack = other.emit("layer", {"session": cast.session_a, "full": True}, namespace=NS, callback=True)
    assert not ack["ok"] and ack["error"] == "not_found"


def test_tile_and_panel_leave_are_accepted_and_validated(app, cast, database, login_as) -> None:
    satisfy_gate(database[0], cast.session_a)
    _move(login_as("asesor_a"), cast, "checking", "ready", "live")
    sc = _sock(app, cast, "asesor_a")
    assert sc.emit("join", {"session": cast.session_a}, namespace=NS, callback=True)["ok"]
    # a tile closing its media keeps following the session (still in its room: the next state change arrives)
    assert sc.emit("leave", {"session": cast.session_a, "tile": True}, namespace=NS, callback=True)["ok"]
    sc.get_received(NS)
    assert sc.emit("control", {"session": cast.session_a, "action": "pause"}, namespace=NS, callback=True)["ok"]
    assert any(m["name"] == "state" and m["args"][0]["session"] == cast.session_a for m in sc.get_received(NS))
    assert sc.emit("leave", {"session": cast.session_a, "panel": True}, namespace=NS, callback=True)["ok"]
    bad = sc.emit("leave", {"session": cast.session_a, "tile": "semua"}, namespace=NS, callback=True)
    assert not bad["ok"] and bad["error"] == "validation_failed"
