"""The assessment records as signed documents (issue 15 #2): FR.AK.02 per candidate and FR.AK.05 per schedule, made
from the recorded marks and decisions, signed with the LSP's key (the demo certificate here) and kept as evidence;
who may make and read them; a flipped byte breaks the signature."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import select

from tests.components import require
from tests.conftest import csrf_token, satisfy_gate


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def settings(database, tmp_path):
    """Many people sign in in one test here: the sign-in rate limit is not what is tested."""
    from config import load_settings
    from tests.conftest import copy_seed_keys

    s = load_settings(env="testing", database_url=database[0], var_dir=tmp_path / "var",
                      login_rate_limit="1000 per minute")
    copy_seed_keys(database[1], s.evidence_dir)
    return s


def _move(client, public_id, *states):
    token = csrf_token(client, "/akun/kata-sandi")
    for to in states:
        r = client.post(f"/api/v1/sessions/{public_id}/transition", json={"to": to}, headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()


def _post(client, path):
    token = csrf_token(client, "/akun/kata-sandi")
    return client.post(path, headers={"X-CSRFToken": token, "Accept": "application/json"})


@pytest.fixture
def decided(app, cast, database, login_as):
    """Session A marked K on every KUK but the last (BK), decided per unit (the last unit BK), and decided."""
    from remote_tuk.accounts.models import User
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live import scoring
    from remote_tuk.live.models import Verdict

    require(shutil.which("pdftotext") is not None, "pdftotext", "apt-get install poppler-utils")
    satisfy_gate(database[0], cast.session_a)
    assessor = login_as("asesor_a")
    _move(assessor, cast.session_a, "checking", "ready", "live")
    with app.app_context():
        store = evidence.store
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        asr = db.session.get(User, cast.users["asesor_a"])
        units = list(sess.schedule.scheme.units)
        for u in units:
            for e in u.elements:
                for k in e.kuks:
                    bk = u is units[-1]
                    scoring.add_mark(db.session, store, sess, asr, kuk_id=k.id,
                                     verdict=Verdict.BK if bk else Verdict.K, note="", client_media_s=None)
        unit_codes = [u.code for u in units]
    _move(assessor, cast.session_a, "ended")
    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        asr = db.session.get(User, cast.users["asesor_a"])
        units = list(sess.schedule.scheme.units)
        for u in units:
            bk = u is units[-1]
            scoring.add_decision(db.session, evidence.store, sess, asr, unit_id=u.id,
                                 verdict=Verdict.BK if bk else Verdict.K,
                                 reason="Belum menunjukkan kinerja KUK" if bk else "")
    _move(assessor, cast.session_a, "decided")
    return {"units": unit_codes}


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())  # words in reading order, whatever the table cells' line breaks


def test_fr_ak_02_holds_the_candidate_units_and_verdicts_and_its_signature_validates(app, login_as, cast, decided,
                                                                                   tmp_path):
    from sop import verify_pdf_signature

    r = _post(login_as("asesor_a"), f"/sesi/{cast.session_a}/dokumen/fr-ak-02")
    assert r.status_code == 201, r.get_data(as_text=True)
    doc = r.get_json()
    assert doc["form"] == "FR.AK.02" and doc["version"] == 1 and doc["demo_signature"] is True

    auditor = login_as("auditor_a")
    pdf = auditor.get(doc["url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = _text(pdf.data, tmp_path)
    assert "FR.AK.02" in text and "Asesi A" in text and "Asesor A" in text and "MET.000.000001.2020" in text
    for code in decided["units"]:
        assert code in text
    assert "Belum menunjukkan kinerja KUK" in text and "BELUM KOMPETEN" in text
    assert "Observasi langsung (FR.IA.01)" in text  # the evidence each verdict rests on, with its media time
    assert "DEMO" in text

    (tmp_path / "signed.pdf").write_bytes(pdf.data)
    check = verify_pdf_signature(tmp_path / "signed.pdf")
    assert check.valid and check.intact and check.covers_whole_file and check.demo
    bad = bytearray(pdf.data)
    at = pdf.data.index(b"Asesi A") if b"Asesi A" in pdf.data else len(bad) // 3
    bad[at] ^= 1
    (tmp_path / "bad.pdf").write_bytes(bytes(bad))
    assert not verify_pdf_signature(tmp_path / "bad.pdf").valid

    # stored as evidence in its own closed chain, listed on the evidence page
    with app.app_context():
        from remote_tuk.extensions import evidence

        entries = evidence.store.list_entries(doc["evidence_session"], include_related=False)
    assert [e["kind"] for e in entries] == ["open", "item", "close"]
    assert entries[0]["metadata"]["session"] == cast.session_a and entries[1]["type"] == "assessment.fr_ak_02"
    page = auditor.get(f"/sesi/{cast.session_a}/bukti").get_data(as_text=True)
    assert f'data-document="{doc["id"]}"' in page and doc["evidence_session"] in page

    from evidence_store.verifier import verify_bundle

    bundle = auditor.get(f"/dokumen/{doc['id']}/bundel.zip")
    assert bundle.status_code == 200
    (tmp_path / "doc.zip").write_bytes(bundle.data)
    with app.app_context():
        key = evidence.store.status()["verifier_key"]
    assert verify_bundle(tmp_path / "doc.zip", key).ok
    assert login_as("asesi_a").get(f"/dokumen/{doc['id']}/bundel.zip").status_code == 404

    again = _post(login_as("admin"), f"/sesi/{cast.session_a}/dokumen/fr-ak-02").get_json()
    assert again["version"] == 2  # a new version; the first stays
    assert auditor.get(doc["url"]).status_code == 200


def test_fr_ak_05_reports_the_schedule(app, login_as, cast, decided, tmp_path):
    from sop import verify_pdf_signature

    r = _post(login_as("admin"), f"/jadwal/{cast.schedule_a}/dokumen/fr-ak-05")
    assert r.status_code == 201, r.get_data(as_text=True)
    doc = r.get_json()
    pdf = login_as("asesor_a").get(doc["url"]).data
    text = _text(pdf, tmp_path)
    assert "FR.AK.05" in text and "Asesi A" in text and "Belum kompeten" in text and "1 belum kompeten" in text
    (tmp_path / "r.pdf").write_bytes(pdf)
    assert verify_pdf_signature(tmp_path / "r.pdf").valid
    assert login_as("asesor_b").get(doc["url"]).status_code == 404  # another schedule's assessor
    # a schedule with nothing decided has no report
    assert _post(login_as("asesor_b"), f"/jadwal/{cast.schedule_b}/dokumen/fr-ak-05").status_code == 409


def test_who_may_make_and_read_the_records(login_as, cast, decided):
    clients: dict = {}

    def as_(who):  # one sign-in each (a TOTP code is used once)
        if who not in clients:
            clients[who] = login_as(who)
        return clients[who]

    assert _post(as_("auditor_a"), f"/sesi/{cast.session_a}/dokumen/fr-ak-02").status_code == 403
    for who in ("asesi_a", "asesor_b", "auditor_b"):
        assert _post(as_(who), f"/sesi/{cast.session_a}/dokumen/fr-ak-02").status_code == 404, who
        assert _post(as_(who), f"/jadwal/{cast.schedule_a}/dokumen/fr-ak-05").status_code == 404, who
    doc = _post(as_("asesor_a"), f"/sesi/{cast.session_a}/dokumen/fr-ak-02").get_json()
    for who in ("asesi_a", "asesi_b", "asesor_b", "auditor_b"):
        assert as_(who).get(doc["url"]).status_code == 404, who
    assert as_("auditor_a").get(doc["url"]).status_code == 200
    assert as_("admin").get("/dokumen/999999.pdf").status_code == 404
    assert as_("admin").get("/dokumen/abc.pdf").status_code == 404


def test_a_session_not_yet_decided_has_no_record(login_as, cast, decided):
    r = _post(login_as("asesor_b"), f"/sesi/{cast.session_b}/dokumen/fr-ak-02")
    assert r.status_code == 409 and "setelah sesi diputuskan" in r.get_json()["message"]


def test_fr_ak_03_the_candidate_reads_and_acknowledges_the_feedback(app, login_as, cast, decided, tmp_path):
    import re

    from sop import verify_pdf_signature

    cand = login_as("asesi_a")
    dash = cand.get("/asesi/").get_data(as_text=True)
    assert "Belum menunjukkan kinerja KUK" in dash  # the result and the assessor's reason on their own page
    shown = re.search(r'name="feedback_sha256" value="([0-9a-f]{64})"', dash).group(1)

    token = csrf_token(cand, "/akun/kata-sandi")
    url = f"/sesi/{cast.session_a}/umpan-balik"
    hdr = {"X-CSRFToken": token}
    assert cand.post(url, json={"feedback_sha256": "0" * 64}, headers=hdr).status_code == 409  # not what was shown
    assert cand.post(url, json={"feedback_sha256": "xyz"}, headers=hdr).status_code == 422
    assert cand.post(url, json={"feedback_sha256": shown, "comment": "x" * 2001}, headers=hdr).status_code == 422
    other = login_as("asesi_b")
    assert other.post(url, json={"feedback_sha256": shown},
                      headers={"X-CSRFToken": csrf_token(other, "/akun/kata-sandi")}).status_code == 404
    r = cand.post(url, json={"feedback_sha256": shown, "comment": "Terima kasih, saya akan berlatih lagi."},
                  headers=hdr)
    assert r.status_code == 201, r.get_json()
    ack = r.get_json()
    assert cand.post(url, json={"feedback_sha256": shown}, headers=hdr).status_code == 409  # once
    assert "data-feedback-ack" in cand.get("/asesi/").get_data(as_text=True)

    with app.app_context():
        from remote_tuk.extensions import evidence

        entries = evidence.store.list_entries(ack["evidence_chain"], include_related=False)
    assert [e.get("type") or e["kind"] for e in entries] == ["open", "feedback.fr_ak_03_ack", "close"]

    assessor = login_as("asesor_a")
    doc = _post(assessor, f"/sesi/{cast.session_a}/dokumen/fr-ak-03").get_json()
    pdf = assessor.get(doc["url"]).data
    text = _text(pdf, tmp_path)
    assert "FR.AK.03" in text and "Asesi A" in text and "Belum menunjukkan kinerja KUK" in text
    assert "Terima kasih, saya akan berlatih lagi." in text and shown in text
    (tmp_path / "f.pdf").write_bytes(pdf)
    assert verify_pdf_signature(tmp_path / "f.pdf").valid


def _process_body(**over):
    from remote_tuk.review.schemas import PROCESS_CHECKS

    body = {"answers": {k: {"met": k != "bukti_memadai", "note": "rekaman 2 menit hilang" if k == "bukti_memadai"
                            else ""} for k in PROCESS_CHECKS},
            "findings": "Satu rekaman kehilangan potongan; bukti observasi tetap memadai untuk unit lain.",
            "recommendations": "Uji coba koneksi H-1 untuk setiap asesi."}
    body.update(over)
    return body


def test_fr_ak_06_the_process_review_is_recorded_signed_and_refused_when_incomplete(app, login_as, cast, decided,
                                                                                   tmp_path):
    from sop import verify_pdf_signature

    admin = login_as("admin")
    token = csrf_token(admin, "/akun/kata-sandi")
    url = f"/jadwal/{cast.schedule_a}/tinjauan-proses"
    hdr = {"X-CSRFToken": token, "Accept": "application/json"}
    assert admin.get(url).status_code == 200
    body = _process_body()
    missing = _process_body(answers={k: v for k, v in body["answers"].items() if k != "prinsip_adil"})
    assert admin.post(url, json=missing, headers=hdr).status_code == 422  # every principle and rule answered
    assert admin.post(url, json=_process_body(findings=""), headers=hdr).status_code == 422
    extra = _process_body(answers={**body["answers"], "lain": {"met": True}})
    assert admin.post(url, json=extra, headers=hdr).status_code == 422
    r = admin.post(url, json=body, headers=hdr)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()["document"]
    assert doc["form"] == "FR.AK.06"
    pdf = login_as("auditor_a").get(doc["url"]).data
    text = _text(pdf, tmp_path)
    assert "FR.AK.06" in text and "Aturan bukti: memadai Tidak rekaman 2 menit hilang" in text
    assert "Uji coba koneksi H-1" in text and "1 kompeten" not in text  # the outcome: the last unit is BK
    (tmp_path / "p.pdf").write_bytes(pdf)
    assert verify_pdf_signature(tmp_path / "p.pdf").valid
    with app.app_context():
        from remote_tuk.extensions import evidence

        types = [e.get("type") or e["kind"] for e in evidence.store.list_entries(doc["evidence_session"],
                                                                                  include_related=False)]
    assert types == ["open", "process_review.fr_ak_06", "assessment.fr_ak_06", "close"]

    # only the LSP records it; others who see the schedule are refused, strangers get 404
    asr = login_as("asesor_a")
    assert asr.post(url, json=body, headers={"X-CSRFToken": csrf_token(asr, "/akun/kata-sandi")}).status_code == 403
    stranger = login_as("asesor_b")
    assert stranger.get(url).status_code == 404
    cand = login_as("asesi_a")
    assert cand.get(url).status_code == 404
    # a schedule with nothing decided has no process review yet
    r = admin.post(f"/jadwal/{cast.schedule_b}/tinjauan-proses", json=body, headers=hdr)
    assert r.status_code == 409
