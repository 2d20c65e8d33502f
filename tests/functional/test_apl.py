"""FR.APL.01/02 before the session: the candidate's draft, portfolio uploads (sniffed, limited, evidence), submission,
the assessor's review, the LSP's "required before the TUK check" setting enforced by the state machine's guard, and
the session's bundle with all of it verifying."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import select

from tests.conftest import csrf_token, satisfy_gate

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

APL01 = {
    "birth_place": "Bandung",
    "birth_date": "1999-07-15",
    "gender": "P",
    "nationality": "Indonesia",
    "address": "Jl. Dago No. 12, Bandung",
    "postal_code": "40135",
    "education": "SMA/SMK",
    "education_institution": "SMK Negeri 4 Bandung",
    "education_major": "Rekayasa Perangkat Lunak",
    "employed": True,
    "company": "CV Kode Nusantara",
    "position": "Pengembang web junior",
    "company_address": "",
    "company_phone": "022-7654321",
    "company_email": "",
    "purpose": "sertifikasi",
    "purpose_other": "",
}


def image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def evidence_app(app):
    yield app
    app.extensions["rtuk_evidence"].close()


class Candidate:
    """A signed-in client with the page's CSRF token, talking to one session's APL API."""

    def __init__(self, client, sid: str):
        self.client, self.sid = client, sid
        self.token = csrf_token(client, "/akun/kata-sandi")
        self.api = f"/api/v1/sessions/{sid}/apl"

    def post(self, path: str = "", **body):
        return self.client.post(self.api + path, json=body, headers={"X-CSRFToken": self.token})

    def upload(self, data: bytes, name: str = "bukti.png", title: str = "Ijazah SMK", mime: str = "image/png"):
        return self.client.post(
            self.api + "/portfolio",
            data={"file": (io.BytesIO(data), name, mime), "title": title},
            content_type="multipart/form-data",
            headers={"X-CSRFToken": self.token},
        )

    def state(self):
        resp = self.client.get(self.api)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def transition(self, to: str):
        return self.client.post(
            f"/api/v1/sessions/{self.sid}/transition", json={"to": to}, headers={"X-CSRFToken": self.token}
        )


def _elements(app, sid: str) -> list[int]:
    from remote_tuk.apl.services import elements_of
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    with app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
        return [e.id for e in elements_of(db.session, session)]


def fill(app, cand: Candidate, item_ids: list[int]) -> None:
    answers = [
        {"element_id": eid, "verdict": "K", "evidence": "Proyek toko daring di tempat kerja", "portfolio": item_ids}
        for eid in _elements(app, cand.sid)
    ]
    answers[-1] = {"element_id": answers[-1]["element_id"], "verdict": "BK", "evidence": "", "portfolio": []}
    resp = cand.post(apl01=APL01, apl02=answers)
    assert resp.status_code == 200, resp.get_json()


def test_candidate_fills_uploads_submits_and_the_assessor_reviews(evidence_app, login_as, cast):
    app = evidence_app
    cand = Candidate(login_as("asesi_a"), cast.session_a)
    # the page, then an empty draft: nothing can be submitted yet, every gap is named
    page = cand.client.get(f"/sesi/{cast.session_a}/apl")
    assert page.status_code == 200 and "FR.APL.01" in page.get_data(as_text=True)
    empty = cand.post("/submit", declaration=True)
    assert empty.status_code == 422 and "apl01.birth_place" in empty.get_json()["details"]
    # three portfolio files, their type read from the bytes (a PNG named .jpg with the wrong Content-Type is a PNG)
    png = cand.upload(image("PNG"), name="ijazah.jpg", mime="image/jpeg")
    assert png.status_code == 201 and png.get_json()["mime"] == "image/png"
    jpeg = cand.upload(image("JPEG"), name="foto kerja.jpeg", title="Foto hasil kerja")
    assert jpeg.status_code == 201 and jpeg.get_json()["mime"] == "image/jpeg"
    pdf = cand.upload(PDF, name="../../surat\x00keterangan.pdf", title="Surat keterangan kerja", mime="text/plain")
    assert pdf.status_code == 201 and pdf.get_json()["mime"] == "application/pdf"
    assert pdf.get_json()["filename"] == "surat_keterangan.pdf"
    ids = [r.get_json()["id"] for r in (png, jpeg, pdf)]
    # a draft naming an unknown element or item is refused; a good one is kept
    bad = cand.post(apl01=APL01, apl02=[{"element_id": 999999, "verdict": "K", "portfolio": [424242]}])
    assert bad.status_code == 422 and set(bad.get_json()["details"]) == {
        "apl02.999999.element_id",
        "apl02.999999.portfolio",
    }
    assert cand.post(apl01={**APL01, "postal_code": "4013"}).status_code == 422
    assert cand.post(apl01={**APL01, "nik": "1"}).status_code == 422  # unknown fields are refused
    assert cand.post(apl01={**APL01, "birth_date": date.today().isoformat()}).status_code == 422
    fill(app, cand, ids[:2])
    # K without any evidence is not enough
    state = cand.state()
    assert state["missing"] == {} and state["draft"]["apl01"]["birth_place"] == "Bandung"
    # taking an item out keeps it as evidence but out of the submission
    assert cand.post(f"/portfolio/{ids[2]}/hapus").status_code == 200
    assert [i["id"] for i in cand.state()["portfolio"]] == ids[:2]
    assert cand.post("/submit", declaration=False).status_code == 422
    sub = cand.post("/submit", declaration=True)
    assert sub.status_code == 201 and sub.get_json()["version"] == 1

    # the assessor sees the answers and every item, each decrypted from the evidence store
    assessor = Candidate(login_as("asesor_a"), cast.session_a)
    review_page = assessor.client.get(f"/sesi/{cast.session_a}/apl").get_data(as_text=True)
    assert "Bandung" in review_page and "Ijazah SMK" in review_page and "Foto hasil kerja" in review_page
    assert "SMK Negeri 4 Bandung" in review_page and "Belum kompeten (BK)" in review_page
    viewed = assessor.client.get(f"{assessor.api}/portfolio/{ids[0]}")
    assert viewed.status_code == 200 and viewed.data == image("PNG") and viewed.mimetype == "image/png"
    assert viewed.headers["Cache-Control"] == "no-store"
    # the candidate cannot review; the assessor's "not to proceed" needs a reason
    assert cand.post("/review", decision="proceed").status_code == 403
    assert assessor.post("/review", decision="not_proceed", note="kurang").status_code == 422
    ok = assessor.post("/review", decision="proceed", note="Bukti relevan dan terkini.")
    assert ok.status_code == 201
    assert cand.state()["review"]["decision"] == "proceed"
    # an auditor granted the schedule may read it; the other candidate may not even see it exists
    auditor = login_as("auditor_a")
    assert auditor.get(f"/sesi/{cast.session_a}/apl").status_code == 200
    assert auditor.get(f"{assessor.api}/portfolio/{ids[1]}").status_code == 200
    other = login_as("asesi_b")
    assert other.get(f"/sesi/{cast.session_a}/apl").status_code == 404
    assert other.get(f"{assessor.api}/portfolio/{ids[1]}").status_code == 404

    # everything is in the session's chain; reads are logged with the reader; the bundle of the closed chain (here:
    # the session cancelled) verifies offline
    from evidence_store.verifier import verify_bundle
    from remote_tuk.extensions import evidence

    cancel = assessor.client.post(
        f"/api/v1/sessions/{cast.session_a}/transition",
        json={"to": "cancelled", "reason": "Asesi mengundurkan diri."},
        headers={"X-CSRFToken": assessor.token},
    )
    assert cancel.status_code == 200
    with app.app_context():
        store = evidence.store
        entries = store.list_entries(cast.session_a)
        bundle = store.export_bundle(cast.session_a, app.config["RTUK"].var_dir / "apl-bundle.zip")
        key = store.describe_parameters()["verifier_key"]
    types = [e.get("type") for e in entries if e.get("kind") == "item"]
    assert types.count("apl.portfolio") == 3  # the one taken out was uploaded, so it stays
    assert types.count("apl.submission") == 1 and types.count("apl.review") == 1
    reads = [e for e in entries if e.get("kind") == "read"]
    assert {(r["actor"]["role"], r["actor"]["id"]) for r in reads} == {
        ("asesor", str(cast.users["asesor_a"])),
        ("auditor", str(cast.users["auditor_a"])),
    }
    report = verify_bundle(bundle, key)
    assert report.ok, [str(f) for f in report.failures]


def test_portfolio_upload_refusals(evidence_app, login_as, cast):
    from remote_tuk.apl.services import MAX_FILE_BYTES

    cand = Candidate(login_as("asesi_a"), cast.session_a)
    gif = b"GIF89a" + b"\x00" * 100
    r = cand.upload(gif, name="ijazah.png", mime="image/png")
    assert r.status_code == 422 and r.get_json()["details"] == {"file": "jenis berkas tidak didukung"}
    assert cand.upload(b"%PDF-1.7 but cut short", name="x.pdf", mime="application/pdf").status_code == 422
    assert cand.upload(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, name="x.png").status_code == 422
    assert cand.upload(b"<html><script>alert(1)</script>", name="x.pdf", mime="application/pdf").status_code == 422
    big = cand.upload(image("PNG") + b"\x00" * MAX_FILE_BYTES, name="besar.png")
    assert big.status_code == 413
    assert cand.upload(b"", name="kosong.png").status_code == 422
    assert cand.upload(image("PNG"), title="").status_code == 422
    no_file = cand.client.post(cand.api + "/portfolio", data={"title": "x"}, headers={"X-CSRFToken": cand.token})
    assert no_file.status_code == 422
    # another candidate's session answers as if it did not exist; the assessor does not upload for the candidate
    other = Candidate(login_as("asesi_b"), cast.session_a)
    assert other.upload(image("PNG")).status_code == 404
    assert other.post(apl01=APL01).status_code == 404
    assert Candidate(login_as("asesor_a"), cast.session_a).upload(image("PNG")).status_code == 403
    # nothing of the above reached the evidence store
    from remote_tuk.extensions import evidence

    with evidence_app.app_context():
        assert not [e for e in evidence.store.list_entries(cast.session_a) if e.get("type") == "apl.portfolio"]


def test_uploads_are_capped_even_when_taken_out_again(evidence_app, login_as, cast, monkeypatch):
    from remote_tuk.apl import services

    monkeypatch.setattr(services, "MAX_ITEMS", 2)
    monkeypatch.setattr(services, "MAX_UPLOADS", 3)
    cand = Candidate(login_as("asesi_a"), cast.session_a)
    first, second = (cand.upload(image("PNG")).get_json()["id"] for _ in range(2))
    full = cand.upload(image("PNG"))
    assert full.status_code == 409 and "Paling banyak 2" in full.get_json()["message"]
    assert cand.post(f"/portfolio/{first}/hapus").status_code == 200
    assert cand.upload(image("PNG")).status_code == 201  # room in the draft again: the third upload
    assert cand.post(f"/portfolio/{second}/hapus").status_code == 200
    capped = cand.upload(image("PNG"))
    assert capped.status_code == 409 and "Batas unggahan" in capped.get_json()["message"]
    monkeypatch.setattr(services, "MAX_UPLOADS", 10)
    monkeypatch.setattr(services, "MAX_UPLOAD_BYTES", 3 * len(image("PNG")) + 10)
    assert cand.upload(image("PNG")).status_code == 409  # the bytes of all uploads


def test_after_the_session_started_nothing_changes(evidence_app, login_as, cast, database):
    cand = Candidate(login_as("asesi_a"), cast.session_a)
    assert cand.upload(image("PNG")).status_code == 201
    satisfy_gate(database[0], cast.session_a)
    assessor = Candidate(login_as("asesor_a"), cast.session_a)
    for to in ("checking", "ready", "live"):
        assert assessor.transition(to).status_code == 200
    r = cand.upload(image("PNG"))
    assert r.status_code == 409 and r.get_json()["error"] == "invalid_state"
    assert cand.post(apl01=APL01).status_code == 409
    assert cand.post("/portfolio/1/hapus").status_code == 409
    assert cand.post("/submit", declaration=True).status_code == 409
    page = cand.client.get(f"/sesi/{cast.session_a}/apl").get_data(as_text=True)
    assert "tidak dapat diubah lagi" in page


def _set_required(client, scheme_id: int, required: bool):
    token = csrf_token(client, "/admin/apl")
    data = {"csrf_token": token, "scheme_id": str(scheme_id)}
    if required:
        data["required"] = "1"
    return client.post("/admin/apl", data=data)


def test_required_before_the_check_refused_then_allowed(evidence_app, login_as, cast):
    from remote_tuk.extensions import socketio

    app = evidence_app
    admin = login_as("admin")
    assert "SKM-JWD-2026" in admin.get("/admin/apl").get_data(as_text=True)
    assert _set_required(admin, cast.scheme_id, True).status_code == 302
    assert 'checked' in admin.get("/admin/apl").get_data(as_text=True)
    cand = Candidate(login_as("asesi_a"), cast.session_a)
    # the session page shows the APL step first
    page = cand.client.get(f"/sesi/{cast.session_a}").get_data(as_text=True)
    assert "Langkah 1" in page and page.index("data-apl-panel") < page.index("Mulai pemeriksaan TUK")
    assert "wajib diisi sebelum pemeriksaan TUK" in cand.client.get("/asesi/").get_data(as_text=True)
    # HTTP (the candidate's check start and the assessor's transition), Socket.IO and the service (as the CLI) refuse
    for resp in (cand.transition("checking"), Candidate(login_as("asesor_a"), cast.session_a).transition("checking")):
        assert resp.status_code == 409
        assert resp.get_json()["error"] == "apl_required"
        assert resp.get_json()["details"] == {"missing": ["apl_submission"]}
        assert "FR.APL.01" in resp.get_json()["message"]
    consent_and_start = cand.client.post(
        f"/api/v1/sessions/{cast.session_a}/tuk/start", json={}, headers={"X-CSRFToken": cand.token}
    )
    assert consent_and_start.status_code == 409
    http = login_as("asesor_a")
    sock = socketio.test_client(app, namespace="/sesi", flask_test_client=http)
    ack = sock.emit("transition", {"session": cast.session_a, "to": "checking"}, namespace="/sesi", callback=True)
    assert ack["ok"] is False and ack["error"] == "apl_required"
    from remote_tuk.accounts.models import User
    from remote_tuk.apl.errors import AplRequired
    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    with app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        with pytest.raises(AplRequired):
            actor = db.session.get(User, cast.users["asesor_a"])
            assessment.transition(db.session, session, assessment.S.CHECKING, actor=actor)
    # once submitted, the move is allowed
    item = cand.upload(image("PNG")).get_json()["id"]
    fill(app, cand, [item])
    assert cand.post("/submit", declaration=True).status_code == 201
    assert "terkirim" in cand.client.get(f"/sesi/{cast.session_a}").get_data(as_text=True)
    assert cand.transition("checking").status_code == 200
    # the other schedule's scheme is the same; turning the setting off frees session B without a submission
    assert _set_required(admin, cast.scheme_id, False).status_code == 302
    assert Candidate(login_as("asesi_b"), cast.session_b).transition("checking").status_code == 200


def test_not_to_proceed_holds_the_session_until_a_new_submission(evidence_app, login_as, cast):
    app = evidence_app
    cand = Candidate(login_as("asesi_a"), cast.session_a)
    assessor = Candidate(login_as("asesor_a"), cast.session_a)
    assert assessor.post("/review", decision="proceed").status_code == 409  # nothing submitted yet
    fill(app, cand, [])
    assert cand.post("/submit", declaration=True).status_code == 201
    assert assessor.post("/review", decision="not_proceed", note="Pengalaman kerja belum relevan.").status_code == 201
    refused = cand.transition("checking")
    assert refused.status_code == 409 and refused.get_json()["details"] == {"missing": ["apl_not_to_proceed"]}
    assert "tidak dapat dilanjutkan" in assessor.client.get(f"/sesi/{cast.session_a}").get_data(as_text=True).lower()
    # a revised submission waits for a new review and no longer holds the session
    assert cand.post("/submit", declaration=True).get_json()["version"] == 2
    assert cand.transition("checking").status_code == 200
    # the review form of the assessor's page works without JavaScript
    token = csrf_token(assessor.client, f"/sesi/{cast.session_a}/apl")
    form = assessor.client.post(
        f"/sesi/{cast.session_a}/apl/tinjau", data={"csrf_token": token, "decision": "proceed", "note": ""}
    )
    assert form.status_code == 302
    assert "Dapat dilanjutkan" in assessor.client.get(f"/sesi/{cast.session_a}/apl").get_data(as_text=True)


def test_settings_are_for_admins_and_validated(login_as, cast):
    assert login_as("asesor_a").get("/admin/apl").status_code == 403
    admin = login_as("admin")
    assert _set_required(admin, 999999, True).status_code == 422
    token = csrf_token(admin, "/admin/apl")
    assert admin.post("/admin/apl", data={"csrf_token": token, "scheme_id": "x"}).status_code == 422


def test_a_shredded_portfolio_file_is_gone_not_an_error(evidence_app, login_as, cast):
    from remote_tuk.extensions import evidence

    cand = Candidate(login_as("asesi_a"), cast.session_a)
    item = cand.upload(image("JPEG"), name="foto.jpg").get_json()
    assert cand.client.get(item["url"]).status_code == 200
    with evidence_app.app_context():
        evidence.store.shred_candidate(str(cast.users["asesi_a"]), reason="uji penghapusan")
    gone = login_as("asesor_a").get(item["url"], headers={"Accept": "application/json"})
    assert gone.status_code == 410 and gone.get_json()["error"] == "portfolio_gone"


def test_a_stored_draft_that_no_longer_validates_is_reported_not_a_500(evidence_app, login_as, cast):
    from remote_tuk.apl.models import AplForm
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    with evidence_app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        db.session.add(AplForm(session_id=session.id, apl01={**APL01, "birth_date": "1900-01-01"}, apl02={}))
        db.session.commit()
    cand = Candidate(login_as("asesi_a"), cast.session_a)
    assert cand.state()["missing"]["apl01.birth_date"] == "tanggal lahir tidak wajar"
    assert cand.client.get(f"/sesi/{cast.session_a}/apl").status_code == 200
    refused = cand.post("/submit", declaration=True)
    assert refused.status_code == 422 and "apl01.birth_date" in refused.get_json()["details"]
