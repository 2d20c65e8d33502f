"""Issue 19 items 1-2 (functional): the phone link is single use, short-lived and bound to its session; the phone's
grant works for that session only; a refused window/tab share is evidence; the screen share ending is an alert."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import cv2
import numpy as np
import pytest
from sqlalchemy import select, update

from remote_tuk.extensions import socketio
from tests.conftest import csrf_token, login, satisfy_gate
from tests.functional.test_evidence_page import _move
from tests.media.qr import decode_qr


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def checking(app, cast, database, login_as):
    satisfy_gate(database[0], cast.session_a)
    _move(login_as("asesor_a"), cast, "checking")
    return cast.session_a


def _candidate(login_as):
    c = login_as("asesi_a")
    c.token = csrf_token(c, "/akun/kata-sandi")
    return c


def _new_link(c, session):
    r = c.post(f"/api/v1/sessions/{session}/sources/phone/link", headers={"X-CSRFToken": c.token})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _decode_qr(data_uri: str) -> str:
    png = base64.b64decode(data_uri.split(",", 1)[1])
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return decode_qr(img)


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _redeem(phone, path):
    page = phone.get(path)
    if page.status_code != 200:
        return page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return phone.post(path, data={"csrf_token": token})


def _events(app, session, name):
    from remote_tuk.extensions import evidence

    with app.app_context():
        return [e for e in evidence.store.list_entries(session)
                if e.get("type") == "session.event" and (e.get("metadata") or {}).get("event") == name]


def test_the_phone_link_works_once_for_its_session(app, cast, checking, login_as):
    c = _candidate(login_as)
    link = _new_link(c, checking)
    assert link["expires_in_s"] == 15 * 60
    assert _decode_qr(link["qr"]) == link["url"]  # the QR image on the page is the link
    path = _path(link["url"])
    assert path.startswith(f"/sesi/{checking}/kamera-hp/")

    phone = app.test_client()  # no account, no password
    assert phone.get(f"/sesi/{checking}/kamera-hp").status_code == 403  # nothing before the link is used
    r = _redeem(phone, path)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/sesi/{checking}/kamera-hp")
    page = phone.get(f"/sesi/{checking}/kamera-hp")
    assert page.status_code == 200 and b"data-phone=" in page.data and b"phone-camera.js" in page.data

    # a second opening is refused (GET and POST), on the same phone and on another device
    again = phone.get(path)
    assert again.status_code == 410 and b'data-phone-refused="link_used"' in again.data
    other = app.test_client()
    assert _redeem(other, path).status_code == 410
    token = csrf_token(phone, f"/sesi/{checking}/kamera-hp")
    assert other.post(path, data={"csrf_token": csrf_token(other, "/masuk")}).status_code == 410

    # the phone's status is accepted for its session and tells it the session's state
    r = phone.post(f"/api/v1/sessions/{checking}/sources/phone/status", json={"battery": 0.42, "charging": False},
                   headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.get_json()["state"] == "checking"
    bad = phone.post(f"/api/v1/sessions/{checking}/sources/phone/status", json={"battery": 4.2},
                     headers={"X-CSRFToken": token})
    assert bad.status_code == 422
    assert [e["metadata"]["event"] for e in _events(app, checking, "source.link_used")] == ["source.link_used"]
    refused = _events(app, checking, "source.link_refused")
    assert refused and refused[0]["metadata"]["event"] == "source.link_refused"  # the refused POST (a GET only looks)


def test_the_link_is_refused_for_another_session_and_after_expiry(app, cast, checking, login_as, database):
    c = _candidate(login_as)
    link = _new_link(c, checking)
    token_part = _path(link["url"]).rsplit("/", 1)[1]
    phone = app.test_client()
    # the same token at another session's address: unknown there
    r = _redeem(phone, f"/sesi/{cast.session_b}/kamera-hp/{token_part}")
    assert r.status_code == 404
    assert phone.get(f"/sesi/{cast.session_b}/kamera-hp").status_code == 403

    # a grant of session A does not open session B's media or status
    assert _redeem(phone, _path(link["url"])).status_code == 302
    token = csrf_token(phone, f"/sesi/{checking}/kamera-hp")
    for path, body in ((f"/api/v1/sessions/{cast.session_b}/sources/phone/status", {}),
                       (f"/api/v1/sessions/{cast.session_b}/sources/phone/offer", {"sdp": "v=0 xxxxxxxxxx"})):
        r = phone.post(path, json=body, headers={"X-CSRFToken": token})
        assert r.status_code == 403, (path, r.get_json())

    # expiry: a link older than 15 minutes is refused
    late = _new_link(c, checking)
    from remote_tuk.db import utcnow
    from remote_tuk.extensions import db
    from remote_tuk.sources.models import SourceLink

    with app.app_context():
        db.session.execute(update(SourceLink).where(SourceLink.used_at.is_(None))
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    r = _redeem(app.test_client(), _path(late["url"]))
    assert r.status_code == 410 and b'data-phone-refused="link_expired"' in r.data


def test_only_the_candidate_makes_links_and_shares_the_screen(app, cast, checking, login_as):
    assessor = login_as("asesor_a")
    token = csrf_token(assessor, "/akun/kata-sandi")
    assert assessor.post(f"/api/v1/sessions/{checking}/sources/phone/link",
                         headers={"X-CSRFToken": token}).status_code == 403
    other = login_as("asesi_b")
    token_b = csrf_token(other, "/akun/kata-sandi")
    assert other.post(f"/api/v1/sessions/{checking}/sources/phone/link",
                      headers={"X-CSRFToken": token_b}).status_code == 404
    assert other.post(f"/api/v1/sessions/{checking}/sources/screen/event", json={"kind": "refused"},
                      headers={"X-CSRFToken": token_b}).status_code == 404

    c = _candidate(login_as)
    r = c.post(f"/api/v1/sessions/{checking}/sources/screen/event", json={"kind": "refused", "surface": "browser"},
               headers={"X-CSRFToken": c.token})
    assert r.status_code == 201
    assert _events(app, checking, "screen.share_refused")
    r = c.post(f"/api/v1/sessions/{checking}/sources/screen/event", json={"kind": "stolen"},
               headers={"X-CSRFToken": c.token})
    assert r.status_code == 422
    # the assessor's status of the sources
    st = assessor.get(f"/api/v1/sessions/{checking}/sources").get_json()
    assert set(st) == {"phone", "screen", "session_state"} and st["phone"]["chunks"] == 0
    assert c.get(f"/api/v1/sessions/{checking}/sources").status_code == 200  # the check page waits for the phone
    assert other.get(f"/api/v1/sessions/{checking}/sources").status_code == 404


def test_the_screen_share_ending_is_an_alert_for_the_assessor(app, cast, checking, login_as):
    _move(login_as("asesor_a"), cast, "ready", "live")
    http = app.test_client()
    login(http, cast, "asesi_a")
    cand = socketio.test_client(app, namespace="/live", flask_test_client=http)
    assert cand.emit("join", {"session": checking}, namespace="/live", callback=True)["ok"]
    base = {"session": checking, "page": "page-screen-test"}
    ended = cand.emit("signal", {**base, "seq": 0, "kind": "screen_share_ended", "client_ms": 1}, namespace="/live",
                      callback=True)
    assert ended["ok"] and ended["alert"], ended
    again = cand.emit("signal", {**base, "seq": 1, "kind": "screen_share_started", "client_ms": 2},
                      namespace="/live", callback=True)
    assert again["ok"], again


def test_a_profile_that_requires_the_phone_camera_is_checked_by_the_server(app, cast):
    """The TUK check measures the phone camera itself (connected, video reaching the engine): without it the
    requirement fails and the gate stays closed; with the phone's video flowing it passes."""
    from config import DEFAULT_TUK_PROFILE
    from remote_tuk.extensions import db, media
    from remote_tuk.tuk.models import RequirementProfileRecord
    from tests.functional.test_tuk_api import Client, started

    data = DEFAULT_TUK_PROFILE.model_dump()
    data["requirements"].append({"key": "phone_camera", "mandatory": True})
    data["requirements"].append({"key": "screen_share", "mandatory": False})
    with app.app_context():
        db.session.add(RequirementProfileRecord(name="Praktik", data=data, is_default=True))
        db.session.commit()
    c = app.test_client()
    login(c, cast, "asesi_a")
    cand = Client(c, cast)
    page = c.get(f"/sesi/{cast.session_a}/pemeriksaan").get_data(as_text=True)
    assert "data-phone-qr" in page and "Kamera HP (kamera kedua)" in page

    check_id = started(cand)
    res = {r["key"]: r for r in cand.post("tuk/finish", {"check_id": check_id}).get_json()["results"]}
    assert res["phone_camera"]["pass"] is False and res["phone_camera"]["source"] == "server"
    assert res["phone_camera"]["mandatory"] is True and "QR" in res["phone_camera"]["hint"]
    assert res["screen_share"]["pass"] is False and res["screen_share"]["mandatory"] is False

    # what the engine's events say once the phone's video reaches the server (remote_tuk.live.media)
    media.sources.update(cast.session_a, "phone", state="connected", flowing=True)
    media.sources.update(cast.session_a, "screen", state="connected", flowing=True, surface="monitor")
    check_id = cand.post("tuk/start", {}).get_json()["check_id"]
    res = {r["key"]: r for r in cand.post("tuk/finish", {"check_id": check_id}).get_json()["results"]}
    assert res["phone_camera"]["pass"] is True and res["screen_share"]["pass"] is True
    media.sources.forget(cast.session_a)


def _sources_section(html: str) -> str:
    start = html.index("data-sources ")
    return html[html.rfind("<section", 0, start): html.index("</section>", start)]


def test_the_assessors_sources_panel_folds_away_unless_the_profile_asks_for_a_source(app, cast, checking, login_as):
    """No empty "Sumber tambahan asesi" boxes on the live page of a session whose TUK profile wants neither the
    phone nor the screen; with the screen asked for, only its box shows (the phone's appears once it connects)."""
    from config import DEFAULT_TUK_PROFILE
    from remote_tuk.extensions import db
    from remote_tuk.tuk.models import RequirementProfileRecord

    assessor = login_as("asesor_a")
    section = _sources_section(assessor.get(f"/sesi/{checking}/langsung").get_data(as_text=True))
    assert re.search(r"<section[^>]*\bhidden\b", section), section
    assert section.count("hidden") == 3  # the panel and both boxes

    data = DEFAULT_TUK_PROFILE.model_dump()
    data["requirements"].append({"key": "screen_share", "mandatory": True})
    with app.app_context():
        db.session.add(RequirementProfileRecord(name="Dengan layar", data=data, is_default=True))
        db.session.commit()
    section = _sources_section(assessor.get(f"/sesi/{checking}/langsung").get_data(as_text=True))
    assert not re.search(r"<section[^>]*\bhidden\b", section), section
    assert re.search(r'data-source="screen"[^>]*data-required="mandatory"', section), section
    assert re.search(r'data-source="phone"[^>]*\bhidden\b', section), section


def test_a_screen_chunk_logged_by_a_request_that_then_lost_the_database_is_completed(app, cast, checking, login_as):
    """Issue 18 (PostgreSQL restarted): an upload stored and logged its chunk, then the database went away before the
    chunk's row said so. Every retry of that chunk was 409 chunk_pending, for ever (a source chunk's claim is never
    taken over). Now the retry finds the chunk in the chain and completes the row from it: a duplicate, logged once."""
    import hashlib

    from remote_tuk.extensions import db, evidence
    from remote_tuk.sources.models import SourceChunk
    from tests.integration.test_live_session import _webm

    _move(login_as("asesor_a"), cast, "ready", "live")
    c = _candidate(login_as)

    def upload(seq, body):
        return c.post(f"/api/v1/sessions/{checking}/sources/screen/chunks", data=body, headers={
            "X-CSRFToken": c.token, "X-Chunk-Seq": str(seq), "X-Chunk-SHA256": hashlib.sha256(body).hexdigest(),
            "Content-Type": "application/octet-stream"})

    assert upload(0, _webm(seconds=1.0)[:3000]).status_code == 201
    r = upload(1, b"screen cluster one")
    assert r.status_code == 201, r.get_json()
    logged = r.get_json()["log_index"]
    with app.app_context():  # what the lost update leaves: the claim, without its entry
        db.session.execute(update(SourceChunk).where(SourceChunk.seq == 1).values(log_index=None, object_key=None))
        db.session.commit()
    r = upload(1, b"screen cluster one")
    assert r.status_code == 200 and r.get_json()["duplicate"] is True and r.get_json()["log_index"] == logged, \
        r.get_json()
    with app.app_context():
        entries = [e for e in evidence.store.list_entries(checking) if e.get("type") == "recording.source_chunk"]
        assert [e["metadata"]["seq"] for e in entries] == [0, 1]
        assert db.session.scalar(select(SourceChunk.log_index).where(SourceChunk.seq == 1)) == logged
    assert upload(1, b"another screen cluster").status_code == 409
