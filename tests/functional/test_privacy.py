"""Erasure that covers the database (issue 13 item 12): chat, KUK mark notes, unit decision reasons, NIK and consent IP
are sealed with the candidate's key; one admin action shreds the evidence keys and that key, is refused while a
session is open or before the end of retention without a legal reason, and leaves an evidence chain that verifies.
The retention page lists who is due, and the read log shows who read which evidence."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from tests.conftest import csrf_token, satisfy_gate
from tests.functional.test_consent import api, cosign, give_consents

NIK_A = "3201010101010001"
REASON = "Semua KUK unit ini didemonstrasikan dengan benar."
NOTE = "Menjelaskan langkah dengan runtut"
CHAT = "Apakah suara saya terdengar, Bu?"


def _session(sid):
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    return db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))


def _live(cand, asse, cast, database):
    """Session A consented through the API (so the IP is recorded), co-signed, past the gate, live."""
    give_consents(cand, cast)
    assert cosign(asse, cast).status_code == 201
    satisfy_gate(database[0], cast.session_a, consent=False)
    for to in ("checking", "ready", "live"):
        assert api(asse, "POST", f"/api/v1/sessions/{cast.session_a}/transition", {"to": to}).status_code == 200


def _decided_session_with_personal_data(app, login_as, cast, database):
    """Session A through consent (with the IP), live, a chat line, a KUK mark with a note, decisions with reasons."""
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import services as live

    cand, asse = login_as("asesi_a"), login_as("asesor_a")
    _live(cand, asse, cast, database)
    with app.app_context():
        s = _session(cast.session_a)
        live.add_chat(db.session, evidence.store, s, s.candidate, CHAT)
        kuk_ids = [k.id for u in s.schedule.scheme.units for e in u.elements for k in e.kuks]
        unit_ids = [u.id for u in s.schedule.scheme.units]
    for kuk_id in kuk_ids:  # a unit is K only when each of its KUK is
        mark = {"kuk_id": kuk_id, "verdict": "K", "note": NOTE}
        r = api(asse, "POST", f"/api/v1/sessions/{cast.session_a}/marks", mark)
        assert r.status_code == 201, r.get_json()
    assert api(asse, "POST", f"/api/v1/sessions/{cast.session_a}/transition", {"to": "ended"}).status_code == 200
    for uid in unit_ids:
        body = {"unit_id": uid, "verdict": "K", "reason": REASON}
        assert api(asse, "POST", f"/api/v1/sessions/{cast.session_a}/decisions", body).status_code == 201
    assert api(asse, "POST", f"/api/v1/sessions/{cast.session_a}/transition", {"to": "decided"}).status_code == 200


def _raw(app, sql):
    from remote_tuk.extensions import db

    with app.app_context():
        return [r[0] for r in db.session.execute(text(sql))]


def _erase(admin, candidate_id, **form):
    token = csrf_token(admin, f"/admin/privasi/asesi/{candidate_id}")
    return admin.post(f"/admin/privasi/asesi/{candidate_id}/hapus", data={"csrf_token": token, **form})


def test_personal_data_columns_are_sealed_in_the_database(app, login_as, cast, database):
    _decided_session_with_personal_data(app, login_as, cast, database)
    for sql, plain in (
        ("select text from chat_messages", CHAT),
        ("select note from kuk_marks", NOTE),
        ("select reason from unit_decisions", REASON),
        ("select ip from consents where ip is not null", "127.0.0.1"),
        (f"select nik from users where id = {cast.users['asesi_a']}", NIK_A),
        ("select fields_json from consent_forms", "Bandung"),
    ):
        values = _raw(app, sql)
        assert values, sql
        for v in values:
            assert v.startswith("rtuk-seal:1:") and plain not in v, (sql, v)
    # ... and read as plain strings through the models
    from remote_tuk.accounts.models import User
    from remote_tuk.extensions import db
    from remote_tuk.live.models import ChatMessage, KukMark, UnitDecision
    from remote_tuk.tuk.models import Consent

    with app.app_context():
        assert db.session.scalar(select(ChatMessage.text)) == CHAT
        assert db.session.scalar(select(KukMark.note)) == NOTE
        assert set(db.session.scalars(select(UnitDecision.reason))) == {REASON}
        assert db.session.scalar(select(Consent.ip).where(Consent.ip.is_not(None))) == "127.0.0.1"
        assert db.session.get(User, cast.users["asesi_a"]).nik == NIK_A


def test_a_duplicate_nik_is_still_refused(app, login_as, cast):
    admin = login_as("admin")
    token = csrf_token(admin, "/admin/pengguna")
    form = {"csrf_token": token, "username": "asesi_c", "full_name": "Asesi C", "role": "asesi",
            "password": "Kata-Sandi-Uji-2026", "nik": NIK_A}
    r = admin.post("/admin/pengguna", data=form)
    assert r.status_code == 409 and "NIK sudah terdaftar" in r.get_data(as_text=True)
    form["nik"] = "3201010101010003"
    assert admin.post("/admin/pengguna", data=form).status_code == 302
    assert "3201010101010003" in admin.get("/admin/pengguna").get_data(as_text=True)  # the list shows it opened


def test_erasure_is_refused_while_a_session_is_open_or_before_retention_without_a_legal_reason(
    app, login_as, cast, database
):
    admin, asse, cand = login_as("admin"), login_as("asesor_a"), login_as("asesi_a")
    cid = cast.users["asesi_a"]
    _live(cand, asse, cast, database)
    r = _erase(admin, cid, confirm="asesi_a", legal_reason="Permintaan asesi melalui surat tertanggal 1 Desember.")
    assert r.status_code == 409 and "belum diputuskan" in r.get_data(as_text=True)  # a live session
    # close the session: cancelled by the admin
    assert api(admin, "POST", f"/api/v1/sessions/{cast.session_a}/transition",
               {"to": "cancelled", "reason": "Jadwal ulang"}).status_code == 200
    r = _erase(admin, cid, confirm="asesi_a", legal_reason="")
    assert r.status_code == 422 and "dasar hukum" in r.get_data(as_text=True).lower()
    r = _erase(admin, cid, confirm="orang_lain", legal_reason="Permintaan asesi melalui surat tertanggal 1 Desember.")
    assert r.status_code == 422
    assert _erase(admin, 9999, confirm="x").status_code == 404
    assert _erase(admin, cast.users["asesor_a"], confirm="asesor_a").status_code == 404  # only candidates
    for client in (cand, asse, login_as("auditor_a")):
        assert client.get("/admin/privasi/").status_code == 403
    # nothing was shredded
    assert _raw(app, "select count(*) from erasures") == [0]
    with app.app_context():
        from remote_tuk.accounts.models import User
        from remote_tuk.extensions import db

        assert db.session.get(User, cid).nik == NIK_A


def test_erasure_shreds_evidence_and_database_keys_and_the_chain_still_verifies(app, login_as, cast, database):
    from evidence_store.verifier import verify_bundle
    from remote_tuk.accounts.models import User
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live.models import ChatMessage, KukMark, UnitDecision
    from remote_tuk.privacy.models import Erasure
    from remote_tuk.tuk.models import Consent

    _decided_session_with_personal_data(app, login_as, cast, database)
    cid = cast.users["asesi_a"]
    admin = login_as("admin")
    page = admin.get(f"/admin/privasi/asesi/{cid}").get_data(as_text=True)
    assert "data-erase-form" in page and "legal_reason" in page  # retention has not ended: a legal reason is asked
    legal = "Permintaan penghapusan asesi (surat 12/LSP/XII/2026), dasar UU PDP Pasal 43."
    r = _erase(admin, cid, confirm="asesi_a", legal_reason=legal)
    assert r.status_code == 303, r.get_data(as_text=True)[-2000:]

    with app.app_context():
        assert db.session.scalar(select(ChatMessage.text)) == "[dihapus]"
        assert db.session.scalar(select(KukMark.note)) == "[dihapus]"
        assert set(db.session.scalars(select(UnitDecision.reason))) == {"[dihapus]"}
        assert set(db.session.scalars(select(Consent.ip).where(Consent.ip.is_not(None)))) == {"[dihapus]"}
        user = db.session.get(User, cid)
        assert user.nik == "[dihapus]" and user.nik_hash is None and user.full_name == "[dihapus]"
        assert user.active is False and user.password_hash is None and user.username == f"dihapus-{cid}"
        erasure = db.session.scalar(select(Erasure))
        assert erasure.legal_reason == legal and erasure.by_id == cast.users["admin"]
        sessions = {e["session"] for e in erasure.shred_entries}
        assert sessions == {cast.session_a, "db-columns"}  # the session's evidence keys and the database key
        store = evidence.store
        shreds = [e for e in store.list_entries(cast.session_a) if e["kind"] == "key_shred"]
        assert len(shreds) == 1 and shreds[0]["candidate_id"] == str(cid)
        assert "asesi" not in shreds[0]["reason"] and legal not in shreds[0]["reason"]  # no one named in the log
        # the session's evidence still verifies, its items reported shredded
        bundle = store.export_bundle(cast.session_a, app.config["RTUK"].var_dir / "after-erasure.zip")
        key = store.describe_parameters()["verifier_key"]
        items = [e for e in store.list_entries(cast.session_a) if e["kind"] == "item"]
        kinds = {e["kind"] for e in db.session.execute(text("select kind from audit_events")).mappings()}
    report = verify_bundle(bundle, key)
    assert report.ok, [str(f) for f in report.failures]
    assert len(report.shredded) == len(items) > 0
    assert "candidate_erased" in kinds

    # the pages say so; a second erasure is refused; the evidence page and the FR.AK.01 page still work
    page = admin.get(f"/admin/privasi/asesi/{cid}").get_data(as_text=True)
    assert "data-erased-at" in page and "data-erase-form" not in page
    assert _erase(admin, cid, confirm=f"dihapus-{cid}").status_code == 409
    form_page = admin.get(f"/sesi/{cast.session_a}/fr-ak-01")
    assert form_page.status_code == 200 and "Isian formulir sudah dihapus" in form_page.get_data(as_text=True)
    assert admin.get(f"/sesi/{cast.session_a}/bukti").status_code == 200
    # the other candidate's sealed data is untouched
    with app.app_context():
        assert db.session.get(User, cast.users["asesi_b"]).nik == "3201010101010002"


def test_retention_period_due_list_and_erasure_at_the_end_of_retention(app, login_as, cast):
    from remote_tuk.extensions import db

    admin = login_as("admin")
    token = csrf_token(admin, "/admin/privasi/")
    page = admin.get("/admin/privasi/").get_data(as_text=True)
    assert 'value="1825"' in page  # the default: the evidence retention of the settings
    assert admin.post("/admin/privasi/retensi", data={"csrf_token": token, "retention_days": "0"}).status_code == 422
    assert admin.post("/admin/privasi/retensi", data={"csrf_token": token, "retention_days": "x"}).status_code == 422
    assert admin.post("/admin/privasi/retensi", data={"csrf_token": token, "retention_days": "30"}).status_code == 303
    cid = cast.users["asesi_b"]
    assert api(admin, "POST", f"/api/v1/sessions/{cast.session_b}/transition",
               {"to": "cancelled", "reason": "Asesi berhalangan"}).status_code == 200
    assert f'data-due-candidate="{cid}"' not in admin.get("/admin/privasi/").get_data(as_text=True)
    with app.app_context():  # closed 31 days ago, the account older still
        from remote_tuk.accounts.models import User
        from remote_tuk.db import utcnow

        _session(cast.session_b).state_changed_at = utcnow() - timedelta(days=31)
        db.session.get(User, cid).created_at = utcnow() - timedelta(days=40)
        db.session.commit()
    page = admin.get("/admin/privasi/").get_data(as_text=True)
    assert f'data-due-candidate="{cid}"' in page
    assert 'data-erasure-due="1"' in admin.get("/admin/").get_data(as_text=True)
    cand_page = admin.get(f"/admin/privasi/asesi/{cid}").get_data(as_text=True)
    assert "data-erase-form" in cand_page and 'name="legal_reason"' not in cand_page  # retention over: none asked
    assert _erase(admin, cid, confirm="asesi_b").status_code == 303
    assert f'data-due-candidate="{cid}"' not in admin.get("/admin/privasi/").get_data(as_text=True)


def test_the_read_log_shows_who_read_which_evidence_filtered_per_candidate_and_session(app, login_as, cast, database):
    from remote_tuk.extensions import evidence

    cand = login_as("asesi_a")
    give_consents(cand, cast)
    with app.app_context():
        store = evidence.store
        item = next(e for e in store.list_entries(cast.session_a) if e.get("type") == "consent.pdp")
        store.read(item["object"]["key"], ("asesor", str(cast.users["asesor_a"])))
    admin = login_as("admin")
    page = admin.get(f"/admin/privasi/log-baca?asesi={cast.users['asesi_a']}").get_data(as_text=True)
    assert "consent.pdp" in page and "Asesor A" in page and cast.session_a in page
    page = admin.get(f"/admin/privasi/log-baca?sesi={cast.session_a}").get_data(as_text=True)
    assert "consent.pdp" in page
    other = admin.get(f"/admin/privasi/log-baca?asesi={cast.users['asesi_b']}").get_data(as_text=True)
    assert "consent.pdp" not in other and "Belum ada pembacaan" in other
    assert admin.get("/admin/privasi/log-baca").status_code == 200
    assert admin.get("/admin/privasi/log-baca?asesi=abc").status_code == 422
    assert admin.get("/admin/privasi/log-baca?sesi=../../x").status_code == 422
