"""The review room of an ended session (issue 15 #1): who may open it and its recording (404 for the candidate,
strangers and other users' sessions, as everywhere), byte ranges decrypted from the evidence store, bad inputs, the
timeline's contract (``data-timeline-kind``, ``data-media-s``, ``data-review-player``) and the viewing logged as an
evidence read."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token, satisfy_gate
from tests.e2e_records.conftest import JPEG, small_webm


@pytest.fixture
def backend():
    return "sqlite"


def _move(client, public_id, *states):
    token = csrf_token(client, "/akun/kata-sandi")
    for to in states:
        r = client.post(f"/api/v1/sessions/{public_id}/transition", json={"to": to}, headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()


@pytest.fixture
def ended(app, cast, database, login_as):
    """Session A went live, was marked (one KUK twice), chatted, lost video for a moment and ended; its joined
    browser recording and KTP snapshot are in the evidence store."""
    from remote_tuk.accounts.models import User
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import scoring
    from remote_tuk.live import services as live
    from remote_tuk.live.models import SessionRecording, Verdict
    from remote_tuk.lsp.models import Kuk
    from remote_tuk.tuk.models import IdentityCheck

    satisfy_gate(database[0], cast.session_a)
    assessor = login_as("asesor_a")
    _move(assessor, cast.session_a, "checking", "ready", "live")
    webm = small_webm(3.0)
    with app.app_context():
        store = evidence.store
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        asr = db.session.get(User, cast.users["asesor_a"])
        cand = db.session.get(User, cast.users["asesi_a"])
        kuk = db.session.scalars(select(Kuk).order_by(Kuk.id)).first()
        m1 = scoring.add_mark(db.session, store, sess, asr, kuk_id=kuk.id, verdict=Verdict.BK, note="belum",
                              client_media_s=None)
        m2 = scoring.add_mark(db.session, store, sess, asr, kuk_id=kuk.id, verdict=Verdict.K, note="sudah tepat",
                              client_media_s=None)
        live.add_chat(db.session, store, sess, cand, "Apakah suara saya terdengar?")
        live.record_event(store, sess, "media.stalled", data={"silent_s": 3})
        live.record_event(store, sess, "media.resumed", data={"downtime_s": 4})
        ktp = store.append(sess.public_id, "identity.ktp_snapshot", JPEG, metadata={"mime": "image/jpeg"},
                           actor=live.actor(cand), candidate_id=str(cand.id))
        check = db.session.scalar(select(IdentityCheck).where(IdentityCheck.session_id == sess.id))
        check.ktp_object = ktp.object_key
        check.room_object = None
        db.session.commit()
        marks = [(m.media_s, m.version) for m in (m1, m2)]
    _move(assessor, cast.session_a, "ended")
    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        r = live.append_item(evidence.store, sess, live.FULL, webm, metadata={"version": 1},
                             actor=live.SYSTEM, candidate_id=str(sess.candidate_id))
        db.session.add(SessionRecording(session_id=sess.id, source="browser", version=1, object_key=r.object_key,
                                        log_index=r.log_index, duration_s=3.0, chunks=1, size=len(webm)))
        db.session.commit()
    return {"webm": webm, "marks": marks}


@pytest.mark.parametrize("who", ["admin", "asesor_a", "auditor_a"])
def test_the_assessor_the_lsp_and_the_granted_auditor_open_the_room(login_as, cast, ended, who):
    c = login_as(who)
    page = c.get(f"/sesi/{cast.session_a}/tinjauan")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-review-player" in html and "<video" in html
    got = [(k, float(s)) for k, s in re.findall(r'data-timeline-kind="(\w+)" data-media-s="([0-9.]+)"', html)]
    marks = sorted(s for k, s in got if k == "mark")
    assert marks == sorted(round(s, 3) for s, _v in ended["marks"])  # both versions, at their own media times
    assert {"mark", "chat", "event", "identity"} <= {k for k, _ in got}
    assert "Apakah suara saya terdengar?" in unescape(html)
    assert "diganti" in html  # the first version is shown as replaced
    r = c.get(f"/sesi/{cast.session_a}/tinjauan/rekaman/browser.webm")
    assert r.status_code == 200 and r.data == ended["webm"] and r.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("who", ["asesi_a", "asesi_b", "asesor_b", "auditor_b"])
def test_the_candidate_and_strangers_get_404(login_as, cast, ended, who):
    c = login_as(who)
    for path in ("", "/rekaman/browser.webm", "/rekaman/server.webm", "/identitas/ktp"):
        r = c.get(f"/sesi/{cast.session_a}/tinjauan{path}", headers={"Range": "bytes=0-10"})
        assert r.status_code == 404, (who, path, r.status_code)


def test_other_users_sessions_and_unknown_ids_are_404(login_as, cast, ended):
    for who in ("asesor_a", "auditor_a"):
        c = login_as(who)
        assert c.get(f"/sesi/{cast.session_b}/tinjauan").status_code == 404
        assert c.get(f"/sesi/{cast.session_b}/tinjauan/rekaman/browser.webm").status_code == 404
    assert login_as("admin").get("/sesi/tidak-ada/tinjauan").status_code == 404
    anon = login_as(None).get(f"/sesi/{cast.session_a}/tinjauan")
    assert anon.status_code in (302, 401)


def test_a_session_that_has_not_ended_has_no_review_room(login_as, cast, ended):
    r = login_as("asesor_b").get(f"/sesi/{cast.session_b}/tinjauan/rekaman/browser.webm")
    assert r.status_code == 409 and "setelah sesi selesai" in r.get_data(as_text=True)


def test_byte_ranges_are_exact_and_bad_ranges_refused(login_as, cast, ended):
    c = login_as("auditor_a")
    url = f"/sesi/{cast.session_a}/tinjauan/rekaman/browser.webm"
    data = ended["webm"]
    n = len(data)
    for header, (start, stop) in {"bytes=10-99": (10, 100), "bytes=0-": (0, n), f"bytes=-{n // 3}": (n - n // 3, n),
                                  f"bytes={n - 5}-{n + 1000}": (n - 5, n)}.items():
        r = c.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.data == data[start:stop], header
        assert r.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{n}"
        assert r.headers["Content-Type"] == "video/webm"
    for bad in ("bytes=abc", f"bytes={n}-", "bytes=5-2", "bytes=0-1,5-9", "bytes=-", "items=0-1"):
        assert c.get(url, headers={"Range": bad}).status_code == 416, bad
    assert c.get(f"/sesi/{cast.session_a}/tinjauan/rekaman/lain.webm").status_code == 422
    assert c.get(f"/sesi/{cast.session_a}/tinjauan/rekaman/server.webm").status_code == 404  # no server copy
    assert c.get(f"/sesi/{cast.session_a}/tinjauan/identitas/paspor").status_code == 422


def test_identity_evidence_is_one_click_away_and_read_is_logged(app, login_as, cast, ended):
    from remote_tuk.extensions import evidence

    c = login_as("auditor_a")
    r = c.get(f"/sesi/{cast.session_a}/tinjauan/identitas/ktp")
    assert r.status_code == 200 and r.data == JPEG and r.mimetype == "image/jpeg"
    assert c.get(f"/sesi/{cast.session_a}/tinjauan/identitas/room").status_code == 404  # none was given
    with app.app_context():
        reads = [e for e in evidence.store.list_entries(cast.session_a) if e["kind"] == "read"]
    assert {"role": "auditor", "id": str(cast.users["auditor_a"])} in [e["actor"] for e in reads]


def test_every_viewing_is_logged_as_an_evidence_read(app, login_as, cast, ended):
    from remote_tuk.extensions import evidence

    def reads():
        with app.app_context():
            return [e for e in evidence.store.list_entries(cast.session_a)
                    if e["kind"] == "read" and e["actor"] == {"role": "asesor", "id": str(cast.users["asesor_a"])}]

    before = len(reads())
    c = login_as("asesor_a")
    assert c.get(f"/sesi/{cast.session_a}/tinjauan").status_code == 200
    assert c.get(f"/sesi/{cast.session_a}/tinjauan").status_code == 200
    assert len(reads()) == before + 2  # who watched what, when: one read per viewing
    assert login_as("asesi_a").get(f"/sesi/{cast.session_a}/tinjauan").status_code == 404
    assert len(reads()) == before + 2


def test_a_recording_whose_key_was_destroyed_is_not_found(app, login_as, cast, ended):
    from remote_tuk.extensions import evidence

    with app.app_context():
        evidence.store.shred_candidate(str(cast.users["asesi_a"]), actor=("dpo", "1"))
    r = login_as("auditor_a").get(f"/sesi/{cast.session_a}/tinjauan/rekaman/browser.webm",
                                  headers={"Range": "bytes=0-99"})
    assert r.status_code == 404


def test_the_browser_recordings_holes_are_before_and_between_its_runs():
    from types import SimpleNamespace

    from remote_tuk.review.services import browser_holes

    runs = [{"placed_ms": 1000, "end_ms": 5000, "packets": 3},
            {"placed_ms": 5200, "end_ms": 9000, "packets": 2},  # 0.2 s later: not a hole
            {"placed_ms": 12000, "end_ms": 15000, "packets": 1},
            {"placed_ms": 16000, "end_ms": 17000, "packets": 0}]  # a run nothing could be read from: no picture
    store = SimpleNamespace(list_entries=lambda sid, include_related=False: [
        {"log_index": 4, "metadata": {}}, {"log_index": 5, "metadata": {"runs": runs}}])
    holes = browser_holes(store, SimpleNamespace(public_id="x"), SimpleNamespace(log_index=5))
    assert holes == [[0.0, 1.0], [9.0, 12.0]]
    assert browser_holes(store, SimpleNamespace(public_id="x"), SimpleNamespace(log_index=4)) == []


def test_the_browser_recordings_holes_inside_a_run_are_listed_too():
    from types import SimpleNamespace

    from remote_tuk.review.services import browser_holes

    runs = [{"placed_ms": 0, "end_ms": 9000, "packets": 3,
             "holes_ms": [[6000, 8000], [1000, 1200], "x", [1, 2, 3], [2000, 3000.5]]},  # too short, malformed
            {"placed_ms": 12000, "end_ms": 15000, "packets": 1}]
    store = SimpleNamespace(list_entries=lambda sid, include_related=False: [
        {"log_index": 5, "metadata": {"runs": runs}}])
    holes = browser_holes(store, SimpleNamespace(public_id="x"), SimpleNamespace(log_index=5))
    assert holes == [[6.0, 8.0], [9.0, 12.0]]
