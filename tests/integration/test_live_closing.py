"""The end of a session: work after a transition never disagrees with the state (issue 12 #2), a decided session is
read-only but answers (issue 12 #7, issue 13 #6), late chunks make a new version of the joined recording (13 #5)."""

from __future__ import annotations

import hashlib
import json
import logging
import time

import pytest
from sqlalchemy import select

from remote_tuk.extensions import evidence, socketio
from tests.conftest import csrf_token, login, satisfy_gate
from tests.integration.test_live_session import _webm

pytestmark = pytest.mark.slow


@pytest.fixture
def backend():
    """The live flow runs on SQLite; the chunk claims are covered on both backends in test_live_chunks.py."""
    return "sqlite"


def _client(app, cast, who):
    c = app.test_client()
    login(c, cast, who)
    return c, csrf_token(c, "/akun/kata-sandi")


def _move(http, token, cast, *states, reason=None):
    for to in states:
        body = {"to": to} if reason is None else {"to": to, "reason": reason}
        r = http.post(f"/api/v1/sessions/{cast.session_a}/transition", json=body, headers={"X-CSRFToken": token})
        assert r.status_code == 200, (to, r.status_code, r.get_json())


def _chunk(http, token, cast, seq, body):
    return http.post(
        f"/api/v1/sessions/{cast.session_a}/recording/chunks",
        data=body,
        headers={"X-CSRFToken": token, "X-Chunk-Seq": str(seq), "X-Chunk-SHA256": hashlib.sha256(body).hexdigest(),
                 "X-Chunk-Start": str(int(time.time() * 1000)), "Content-Type": "application/octet-stream"},
    )


def _entries(app, cast):
    with app.app_context():
        return evidence.store.list_entries(cast.session_a)


def _events(entries, name):
    return [e for e in entries if (e.get("metadata") or {}).get("event") == name]


def _decide_all_bk(app, http, token, cast):
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    with app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        units = [u.id for u in session.schedule.scheme.units]
    for uid in units:
        r = http.post(f"/api/v1/sessions/{cast.session_a}/decisions", headers={"X-CSRFToken": token},
                      json={"unit_id": uid, "verdict": "BK", "reason": "Bukti belum memadai."})
        assert r.status_code == 201, r.get_json()


def _verify(app, cast, tmp_path):
    from evidence_store.verifier import verify_bundle

    with app.app_context():
        store = evidence.store
        bundle = store.export_bundle(cast.session_a, tmp_path / "bundle.zip")
        key = store.describe_parameters()["verifier_key"]
    return verify_bundle(bundle, key)


def _not_webm_after_header() -> bytes:
    """Starts like a WebM stream (EBML header, Segment), then noise: passes the upload check, cannot be joined."""
    real = _webm(seconds=1.0)
    assert real[:4] == b"\x1a\x45\xdf\xa3" and real[4] & 0x80  # the EBML header, its size in one byte
    end = 5 + (real[4] & 0x7F)
    noise = hashlib.sha256(b"noise").digest() * 80
    return real[:end] + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + noise


def test_a_chunk_that_is_not_webm_never_leaves_a_decided_session_unverifiable(live_app, cast, tmp_path):
    """Issue 12 #2: the join failed, deciding answered 500 although the state was committed, and the chain was never
    closed (NOT VERIFIED for ever). Now decided answers 200, the failed join is evidence, the chain is closed."""
    satisfy_gate(live_app.config["RTUK"].sqlalchemy_url, cast.session_a)
    assessor, a_token = _client(live_app, cast, "asesor_a")
    cand, c_token = _client(live_app, cast, "asesi_a")
    _move(assessor, a_token, cast, "checking", "ready", "live")
    assert _chunk(cand, c_token, cast, 0, _not_webm_after_header()).status_code == 201
    assert _chunk(cand, c_token, cast, 1, b"more noise" * 100).status_code == 201
    _move(assessor, a_token, cast, "ended")
    _decide_all_bk(live_app, assessor, a_token, cast)
    _move(assessor, a_token, cast, "decided")  # 200, whatever the join does

    entries = _entries(live_app, cast)
    assert entries[-1]["kind"] == "close"
    failed = _events(entries, "recording.join_failed")
    assert failed, [(e.get("metadata") or {}).get("event") for e in entries]
    with live_app.app_context():
        body = json.loads(evidence.store.read(failed[0]["object"]["key"], ("auditor", "test")))
    assert body["data"]["source"] == "browser" and body["data"]["bad_seq"] == 0 and body["data"]["reason"]
    status = assessor.get(f"/api/v1/sessions/{cast.session_a}/recording").get_json()
    assert status["full"] is None and status["join_error"]
    report = _verify(live_app, cast, tmp_path)
    assert report.ok, report.render()


def test_a_failing_listener_never_turns_a_committed_transition_into_an_error(live_app, cast, tmp_path, monkeypatch):
    from remote_tuk.assessment import events as assessment_events

    def broken(session, record):
        raise RuntimeError("a listener that fails")

    monkeypatch.setattr(assessment_events, "TRANSITION_LISTENERS", [broken, *assessment_events.TRANSITION_LISTENERS])
    satisfy_gate(live_app.config["RTUK"].sqlalchemy_url, cast.session_a)
    assessor, a_token = _client(live_app, cast, "asesor_a")
    _move(assessor, a_token, cast, "checking", "ready", "live")
    _move(assessor, a_token, cast, "cancelled", reason="Asesi sakit.")
    assert assessor.get(f"/api/v1/sessions/{cast.session_a}").get_json()["state"] == "cancelled"
    entries = _entries(live_app, cast)
    assert entries[-1]["kind"] == "close"  # the live hook ran after the broken listener
    assert _verify(live_app, cast, tmp_path).ok


def test_after_decided_pages_may_look_and_leave_but_nothing_is_written(live_app, cast, caplog):
    """Issue 12 #7 and 13 #6: a /live join after decided never answered (it wrote to the closed chain and raised), a
    page closing raised "SessionError: session X is closed" in the disconnect handler and page.left was lost."""
    satisfy_gate(live_app.config["RTUK"].sqlalchemy_url, cast.session_a)
    assessor, a_token = _client(live_app, cast, "asesor_a")
    cand, c_token = _client(live_app, cast, "asesi_a")
    _move(assessor, a_token, cast, "checking", "ready", "live")
    a_sock = socketio.test_client(live_app, namespace="/live", flask_test_client=assessor)
    c_sock = socketio.test_client(live_app, namespace="/live", flask_test_client=cand)
    for sock in (a_sock, c_sock):  # both pages are open when the session is decided
        assert sock.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)["ok"]
    _move(assessor, a_token, cast, "ended")
    _decide_all_bk(live_app, assessor, a_token, cast)
    _move(assessor, a_token, cast, "decided")
    closed = _entries(live_app, cast)
    assert closed[-1]["kind"] == "close"

    caplog.set_level(logging.INFO)
    sid = cast.session_a
    late = socketio.test_client(live_app, namespace="/live", flask_test_client=cand)
    ack = late.emit("join", {"session": sid}, namespace="/live", callback=True)
    assert ack["ok"] and ack["state"] == "decided" and ack["read_only"] is True
    # each state allows what makes sense, and says so
    refusals = {
        "offer": late.emit("offer", {"session": sid, "sdp": "v=0\r\n" + "x" * 20}, namespace="/live",
                           callback=True),
        "chat": late.emit("chat", {"session": sid, "text": "halo"}, namespace="/live", callback=True),
        "control": a_sock.emit("control", {"session": sid, "action": "resume"}, namespace="/live", callback=True),
    }
    assert {k: v["error"] for k, v in refusals.items()} == {
        "offer": "invalid_state", "chat": "invalid_state", "control": "invalid_transition",
    }
    assert a_sock.emit("stats", {"session": sid}, namespace="/live", callback=True)["ok"]
    assert _chunk(cand, c_token, cast, 0, _webm(seconds=1.0)[:3000]).status_code == 409
    r = assessor.post(f"/api/v1/sessions/{sid}/marks", json={"kuk_id": 1, "verdict": "K"},
                      headers={"X-CSRFToken": a_token})
    assert r.status_code == 409 and r.get_json()["error"] == "invalid_state"
    assert late.emit("leave", {"session": sid}, namespace="/live", callback=True)["ok"]
    for sock in (a_sock, c_sock, late):  # pages closing after the end
        sock.disconnect(namespace="/live")
    assert _entries(live_app, cast) == closed  # nothing written to the closed chain
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def test_chunks_after_the_join_make_a_new_version(live_app, cast, monkeypatch):
    """Issue 13 #5: chunks arriving after the 30 s join window never entered the joined recording."""
    from remote_tuk.live import hooks

    monkeypatch.setattr(hooks, "QUIET_S", 0.5)
    satisfy_gate(live_app.config["RTUK"].sqlalchemy_url, cast.session_a)
    assessor, a_token = _client(live_app, cast, "asesor_a")
    cand, c_token = _client(live_app, cast, "asesi_a")
    _move(assessor, a_token, cast, "checking", "ready", "live")
    webm = _webm(seconds=4.0)
    size = len(webm) // 4 + 1
    pieces = [webm[i : i + size] for i in range(0, len(webm), size)]
    assert len(pieces) >= 3
    for seq, piece in enumerate(pieces[:-1]):
        assert _chunk(cand, c_token, cast, seq, piece).status_code == 201
    _move(assessor, a_token, cast, "ended")

    def status():
        return assessor.get(f"/api/v1/sessions/{cast.session_a}/recording").get_json()

    deadline = time.monotonic() + 30
    while not (status()["full"] or {}).get("version") and time.monotonic() < deadline:
        time.sleep(0.2)
    first = status()["full"]
    assert first["version"] == 1 and first["chunks"] == len(pieces) - 1

    # the last chunk comes late (the candidate's network was slow): a new version, the old one kept
    assert _chunk(cand, c_token, cast, len(pieces) - 1, pieces[-1]).status_code == 201
    deadline = time.monotonic() + 30
    while status()["full"]["version"] < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    second = status()["full"]
    assert second["version"] == 2 and second["chunks"] == len(pieces)
    fulls = [e for e in _entries(live_app, cast) if e.get("type") == "recording.browser_full"]
    assert [e["metadata"]["version"] for e in fulls] == [1, 2]
    assert fulls[1]["metadata"]["replaces_log_index"] == fulls[0]["log_index"]


def test_a_chain_left_open_is_closed_by_the_operator_command(live_app, cast, tmp_path, monkeypatch):
    """The process stopped between the decision and the close (here: the close fails and its retries never run): the
    chain stays open and the bundle says so; ``close-chains`` joins what is new and closes it, and says what it did."""
    from remote_tuk.live import hooks, services

    real_close = services.close_evidence
    monkeypatch.setattr(services, "close_evidence", lambda store, session: (_ for _ in ()).throw(OSError("disk")))
    monkeypatch.setattr(hooks, "_close_later", lambda *args: None)  # the process is gone before its retries
    satisfy_gate(live_app.config["RTUK"].sqlalchemy_url, cast.session_a)
    assessor, a_token = _client(live_app, cast, "asesor_a")
    cand, c_token = _client(live_app, cast, "asesi_a")
    _move(assessor, a_token, cast, "checking", "ready", "live")
    assert _chunk(cand, c_token, cast, 0, _webm(seconds=1.0)).status_code == 201
    _move(assessor, a_token, cast, "ended")
    _decide_all_bk(live_app, assessor, a_token, cast)
    _move(assessor, a_token, cast, "decided")
    assert _entries(live_app, cast)[-1]["kind"] != "close"
    assert not _verify(live_app, cast, tmp_path).ok  # chain_not_closed: what an auditor would see

    monkeypatch.setattr(services, "close_evidence", real_close)
    runner = live_app.test_cli_runner()
    result = runner.invoke(args=["close-chains"])
    assert result.exit_code == 0, result.output
    assert f"{cast.session_a}: ditutup" in result.output
    assert _entries(live_app, cast)[-1]["kind"] == "close"
    (tmp_path / "again").mkdir()
    assert _verify(live_app, cast, tmp_path / "again").ok
    again = runner.invoke(args=["close-chains"])  # nothing left to do
    assert again.exit_code == 0 and cast.session_a not in again.output and again.output.startswith("0 ")
