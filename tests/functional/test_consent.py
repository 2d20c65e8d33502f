"""Consent (issue 13 item 12): the LSP's versioned texts, acceptance of the exact text shown with the FR.AK.01 fields,
the assessor's co-signature in the gate, and a withdrawal that stops processing and cancels the session."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from tests.conftest import csrf_token

LOCATION = "Bandung, Jl. Merdeka 10"


def api(client, method, path, body=None):
    token = csrf_token(client, "/akun/kata-sandi")
    return client.open(path, method=method, json=body, headers={"X-CSRFToken": token})


def consent_url(cast, sid=None):
    return f"/api/v1/sessions/{sid or cast.session_a}/consent"


def give_consents(client, cast, sid=None, location=LOCATION):
    """Accept every text offered to the session, as the check page does."""
    offered = client.get(consent_url(cast, sid)).get_json()["offered"]
    for text in offered:
        body = {"kind": text["kind"], "version": text["version"], "accept": True}
        if text["kind"] == "fr_ak_01":
            body["location"] = location
        r = api(client, "POST", consent_url(cast, sid), body)
        assert r.status_code in (200, 201), r.get_json()
    return offered


def cosign(client, cast, sid=None):
    form = client.get(consent_url(cast, sid)).get_json()["form"]
    body = {"form_sha256": form["form_sha256"], "confirm": True}
    return api(client, "POST", consent_url(cast, sid) + "/cosign", body)


def _entries(app, sid, type_):
    from remote_tuk.extensions import evidence

    with app.app_context():
        store = evidence.store
        out = []
        for e in store.list_entries(sid):
            if e.get("type") == type_:
                out.append((e, json.loads(store.read(e["object"]["key"], ("test", "reader")))))
        return out


def _session(app, sid):
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    return db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))


# --- texts ----------------------------------------------------------------------------------------------------------


def _edit(admin, kind, **form):
    token = csrf_token(admin, f"/admin/persetujuan/{kind}/sunting")
    return admin.post(f"/admin/persetujuan/{kind}/sunting", data={"csrf_token": token, **form})


def test_the_lsp_edits_previews_and_publishes_a_new_version_and_sessions_keep_theirs(app, login_as, cast):
    from remote_tuk.consent import texts

    admin = login_as("admin")
    page = admin.get("/admin/persetujuan").get_data(as_text=True)
    # the product's honest default is in force; version 1 (the hard-coded one) stays in the history
    assert 'data-version="2"' in page and 'data-version="1"' in page and texts.PDP_V2.sha256 in page
    assert "Tarik persetujuan" in texts.PDP_V2.body and "3 × 24 jam setelah penarikan" in texts.PDP_V1.body
    assert "dapat dibandingkan" in texts.PDP_V2.body and "FR.AK.04" in texts.FR_AK_01_V2.body

    # candidate A consents under version 2
    cand = login_as("asesi_a")
    give_consents(cand, cast)

    new_body = texts.PDP_V2.body.replace("paling lambat 3 × 24 jam.", "paling lambat 2 × 24 jam.", 1)
    assert new_body != texts.PDP_V2.body
    r = _edit(admin, "pdp", title=texts.PDP_V2.title, body=new_body, note="Tenggat LSP dipersingkat")
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/persetujuan/pdp/draf")
    draft = admin.get("/admin/persetujuan/pdp/draf").get_data(as_text=True)
    assert "<del>3</del>" in draft and "<ins>2</ins>" in draft  # the diff to the version in force, word by word
    assert "Pratinjau" in draft and "versi 3" in draft.lower()
    # the draft is not shown to candidates yet
    assert {t["kind"]: t["version"] for t in cand.get(consent_url(cast)).get_json()["offered"]}["pdp"] == 2
    token = csrf_token(admin, "/admin/persetujuan/pdp/draf")
    assert admin.post("/admin/persetujuan/pdp/terbitkan", data={"csrf_token": token}).status_code == 303

    # a session not yet consented is offered version 3 (the check page shows it); session A keeps version 2
    cand_b = login_as("asesi_b")
    check_b = cand_b.get(f"/sesi/{cast.session_b}/pemeriksaan").get_data(as_text=True)
    assert 'data-consent-kind="pdp" data-consent-version="3"' in check_b and "2 × 24 jam" in check_b
    offered_a = {t["kind"]: t["version"] for t in cand.get(consent_url(cast)).get_json()["offered"]}
    assert offered_a == {"fr_ak_01": 2, "pdp": 2}
    assert cand.get(consent_url(cast)).get_json()["complete"] is True
    # posting the old version for a new session is refused with the version in force
    r = api(cand_b, "POST", consent_url(cast, cast.session_b), {"kind": "pdp", "version": 2, "accept": True})
    assert r.status_code == 422 and "3" in r.get_json()["details"]["version"]
    given = give_consents(cand_b, cast, cast.session_b)
    assert {t["kind"]: t["version"] for t in given}["pdp"] == 3
    (_, doc), = _entries(app, cast.session_b, "consent.pdp")
    assert doc["version"] == 3 and doc["body"] == new_body  # the exact text shown is in the evidence
    assert doc["text_sha256"] == texts.ConsentText("pdp", 3, texts.PDP_V2.title, new_body).sha256

    # a published version never changes: the history shows v2 as it was, and v3 with its diff to v2
    v2 = admin.get("/admin/persetujuan/pdp/v2").get_data(as_text=True)
    assert texts.PDP_V2.sha256 in v2
    v3 = admin.get("/admin/persetujuan/pdp/v3").get_data(as_text=True)
    assert "<ins>2</ins>" in v3 and "Perbedaan dengan versi 2" in v3


def test_malformed_or_empty_text_edits_are_refused_and_change_nothing(app, login_as, cast):
    from remote_tuk.consent import texts

    admin = login_as("admin")
    r = _edit(admin, "pdp", title="abc", body="terlalu pendek")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "terlalu pendek" in html and 'name="title"' in html
    r = _edit(admin, "pdp", title="Judul yang sah", body="x" * 60 + "\x07" + "y" * 10)
    assert r.status_code == 422 and "karakter kendali" in r.get_data(as_text=True)
    r = _edit(admin, "pdp", title="Dua\nbaris", body="z" * 80)
    assert r.status_code == 422 and "satu baris" in r.get_data(as_text=True)
    r = _edit(admin, "pdp", title="Judul yang sah", body="z" * 80, extra="1")
    assert r.status_code == 422
    assert _edit(admin, "tidak_ada", title="Judul yang sah", body="z" * 80).status_code == 404
    assert admin.get("/admin/persetujuan/pdp/v99").status_code == 404
    # nothing stored: no draft, no new version
    assert admin.get("/admin/persetujuan/pdp/draf").status_code == 302
    # a draft equal to the version in force cannot be published
    assert _edit(admin, "pdp", title=texts.PDP_V2.title, body=texts.PDP_V2.body).status_code == 303
    token = csrf_token(admin, "/admin/persetujuan/pdp/draf")
    r = admin.post("/admin/persetujuan/pdp/terbitkan", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/draf")
    assert "versi 2" in admin.get("/admin/persetujuan").get_data(as_text=True).lower()
    cand = login_as("asesi_a")
    assert {t["kind"]: t["version"] for t in cand.get(consent_url(cast)).get_json()["offered"]}["pdp"] == 2
    # only the LSP admin edits
    for who in ("asesi_a", "asesor_a", "auditor_a"):
        assert login_as(who).get("/admin/persetujuan").status_code == 403


# --- FR.AK.01 and the co-signature ------------------------------------------------------------------------------------


def test_fr_ak_01_is_signed_by_candidate_and_assigned_assessor_and_the_gate_needs_both(app, login_as, cast):
    from remote_tuk.extensions import db
    from remote_tuk.tuk.services import gate

    cand, asse = login_as("asesi_a"), login_as("asesor_a")
    page = cand.get(f"/sesi/{cast.session_a}/pemeriksaan").get_data(as_text=True)
    assert "data-consent-location" in page and "TUK jarak jauh" in page and "Bukti yang akan dikumpulkan" in page
    # the location is required for FR.AK.01; nothing is recorded without it
    r = api(cand, "POST", consent_url(cast), {"kind": "fr_ak_01", "version": 2, "accept": True})
    assert r.status_code == 422 and "location" in r.get_json()["details"]
    assert r.status_code == 422 and not _entries(app, cast.session_a, "consent.fr_ak_01")
    # nobody co-signs before the candidate signed
    r = api(asse, "POST", consent_url(cast) + "/cosign", {"form_sha256": "0" * 64, "confirm": True})
    assert r.status_code == 409

    give_consents(cand, cast)
    again = api(cand, "POST", consent_url(cast), {"kind": "pdp", "version": 2, "accept": True})
    assert again.status_code == 200  # already given: nothing new recorded
    assert len(_entries(app, cast.session_a, "consent.pdp")) == 1
    (_, doc), = _entries(app, cast.session_a, "consent.fr_ak_01")
    fields = doc["fields"]
    assert fields["tuk"] == {"kind": "TUK jarak jauh", "location": LOCATION}
    assert fields["candidate"]["name"] == "Asesi A" and fields["assessor"]["name"] == "Asesor A"
    assert fields["assessor"]["met_number"] == "MET.000.000001.2020" and fields["date"]
    assert any("FR.IA.01" in e and "KUK" in e for e in fields["evidence"])
    assert any("persyaratan wajib" in e for e in fields["evidence"])
    with app.app_context():
        missing = gate(db.session, _session(app, cast.session_a))
    assert "assessor_signature" in missing["missing"] and "consent" not in missing["missing"]

    # only the assigned assessor signs, the hash of the form the candidate signed
    assert api(cand, "POST", consent_url(cast) + "/cosign", {"form_sha256": doc["form_sha256"], "confirm": True}
               ).status_code == 403
    other = login_as("asesor_b")
    assert other.get(f"/sesi/{cast.session_a}/fr-ak-01").status_code == 404
    assert api(other, "POST", consent_url(cast) + "/cosign", {"form_sha256": doc["form_sha256"], "confirm": True}
               ).status_code == 404
    r = api(asse, "POST", consent_url(cast) + "/cosign", {"form_sha256": "a" * 64, "confirm": True})
    assert r.status_code == 422
    r = api(asse, "POST", consent_url(cast) + "/cosign", {"form_sha256": doc["form_sha256"], "confirm": False})
    assert r.status_code == 422
    form_page = asse.get(f"/sesi/{cast.session_a}/fr-ak-01").get_data(as_text=True)
    assert "data-cosign" in form_page and doc["form_sha256"] in form_page and LOCATION in form_page
    token = csrf_token(asse, f"/sesi/{cast.session_a}/fr-ak-01")
    r = asse.post(f"/sesi/{cast.session_a}/fr-ak-01/tanda-tangan",
                  data={"csrf_token": token, "form_sha256": doc["form_sha256"], "confirm": "1"})
    assert r.status_code == 303
    assert cosign(asse, cast).status_code == 409  # once
    (_, signed), = _entries(app, cast.session_a, "consent.fr_ak_01_assessor")
    assert signed["form_sha256"] == doc["form_sha256"] and signed["met_number"] == "MET.000.000001.2020"
    status = cand.get(f"/api/v1/sessions/{cast.session_a}/tuk/status").get_json()
    assert "assessor_signature" not in status["gate"]["missing"] and "consent" not in status["gate"]["missing"]
    assert 'class="consent-sign signed" data-sign="assessor"' in cand.get(
        f"/sesi/{cast.session_a}/fr-ak-01").get_data(as_text=True)


# --- withdrawal ------------------------------------------------------------------------------------------------------


def test_withdrawal_stops_processing_cancels_the_session_and_tells_the_lsp(app, login_as, cast):
    from remote_tuk.audit.models import AuditEvent
    from remote_tuk.consent.models import ConsentWithdrawal
    from remote_tuk.extensions import db
    from remote_tuk.privacy.models import PrivacyRequest

    cand = login_as("asesi_a")
    # nothing to withdraw before consent
    assert api(cand, "POST", consent_url(cast) + "/withdraw", {"confirm": True}).status_code == 409
    give_consents(cand, cast)
    assert api(cand, "POST", f"/api/v1/sessions/{cast.session_a}/tuk/start", {}).status_code == 201  # checking
    # another candidate's session looks like none; the confirmation is required
    assert api(login_as("asesi_b"), "POST", consent_url(cast) + "/withdraw", {"confirm": True}).status_code == 404
    r = api(cand, "POST", consent_url(cast) + "/withdraw", {"reason": "Saya sakit.", "confirm": False})
    assert r.status_code == 422
    dash = cand.get("/asesi/").get_data(as_text=True)
    assert f'/sesi/{cast.session_a}/tarik-persetujuan' in dash and 'data-consent-state="given"' in dash

    r = api(cand, "POST", consent_url(cast) + "/withdraw", {"reason": "Saya sakit.", "confirm": True})
    assert r.status_code == 201 and r.get_json()["state"] == "cancelled"
    with app.app_context():
        s = _session(app, cast.session_a)
        assert s.state.value == "cancelled"
        last = s.transitions[-1]
        assert last.reason == "Persetujuan ditarik oleh asesi." and last.actor_id is None  # the system cancelled
        w = db.session.scalar(select(ConsentWithdrawal))
        assert w.reason == "Saya sakit." and w.state_before == "checking"
        req = db.session.scalar(select(PrivacyRequest))
        assert req.kind == "withdrawal" and req.status == "open"
        assert req.due_at - req.received_at == timedelta(hours=72)
        assert req.processing_stopped_at is not None and req.processing_stopped_at - req.received_at < timedelta(
            seconds=30)
        kinds = set(db.session.scalars(select(AuditEvent.kind)))
        assert {"consent_withdrawn", "session_state"} <= kinds
    (entry, doc), = _entries(app, cast.session_a, "consent.withdrawn")
    assert doc["reason"] == "Saya sakit." and doc["withdrawn"] == ["fr_ak_01", "pdp"] and doc["state"] == "checking"
    assert entry["actor"]["role"] == "asesi"
    from remote_tuk.extensions import evidence

    with app.app_context():
        events = [e for e in evidence.store.list_entries(cast.session_a) if e.get("type") == "session.event"]
        assert events and events[-1]["metadata"]["event"] == "state.cancelled"
        assert evidence.store.list_entries(cast.session_a, include_related=False)[-1]["kind"] == "close"

    # processing is refused from then on; withdrawing twice is refused
    assert api(cand, "POST", consent_url(cast) + "/withdraw", {"confirm": True}).status_code == 409
    assert api(cand, "POST", consent_url(cast), {"kind": "pdp", "version": 2, "accept": True}).status_code == 409
    assert api(cand, "POST", f"/api/v1/sessions/{cast.session_a}/tuk/start", {}).status_code == 409
    token = csrf_token(cand, "/akun/kata-sandi")
    ktp = cand.post(f"/api/v1/sessions/{cast.session_a}/identity/ktp", data=b"\xff\xd8\xff" + b"0" * 100,
                    headers={"X-CSRFToken": token, "Content-Type": "image/jpeg"})
    assert ktp.status_code == 409 and ktp.get_json()["error"] == "consent_withdrawn"
    dash = cand.get("/asesi/").get_data(as_text=True)
    assert 'data-consent-state="withdrawn"' in dash and "tarik-persetujuan" not in dash

    # the LSP is told: a notice on the admin's home page and the request with its deadline
    admin = login_as("admin")
    home = admin.get("/admin/").get_data(as_text=True)
    assert 'data-privacy-notice data-open="1"' in home
    privacy = admin.get("/admin/privasi/").get_data(as_text=True)
    assert 'data-status="open"' in privacy and "Penarikan persetujuan" in privacy
    with app.app_context():
        req_id = db.session.scalar(select(PrivacyRequest.id))
    token = csrf_token(admin, "/admin/privasi/")
    r = admin.post(f"/admin/privasi/permintaan/{req_id}/tangani", data={"csrf_token": token, "note": "Dihubungi."})
    assert r.status_code == 303
    assert admin.post(f"/admin/privasi/permintaan/{req_id}/tangani", data={"csrf_token": token}).status_code == 409
    assert 'data-privacy-notice' not in admin.get("/admin/").get_data(as_text=True)


def test_withdrawal_page_confirms_and_an_ended_session_is_still_cancelled_before_the_decision(
    app, login_as, cast, database
):
    from tests.conftest import satisfy_gate

    cand = login_as("asesi_a")
    satisfy_gate(database[0], cast.session_a)  # consent, check, ID and room as the check page records them
    asse = login_as("asesor_a")
    for to in ("checking", "ready", "live", "ended"):
        assert api(asse, "POST", f"/api/v1/sessions/{cast.session_a}/transition", {"to": to}).status_code == 200
    page = cand.get(f"/sesi/{cast.session_a}/tarik-persetujuan")
    assert page.status_code == 200 and "data-withdraw-form" in page.get_data(as_text=True)
    token = csrf_token(cand, f"/sesi/{cast.session_a}/tarik-persetujuan")
    r = cand.post(f"/sesi/{cast.session_a}/tarik-persetujuan", data={"csrf_token": token, "reason": ""})
    assert r.status_code == 422 and "Centang kotak" in r.get_data(as_text=True)  # the confirmation box is required
    r = cand.post(f"/sesi/{cast.session_a}/tarik-persetujuan", data={"csrf_token": token, "confirm": "1"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/asesi/")
    with app.app_context():
        assert _session(app, cast.session_a).state.value == "cancelled"
    # a decision is no longer possible; assessors and admins never see the withdrawal form
    r = api(asse, "POST", f"/api/v1/sessions/{cast.session_a}/transition", {"to": "decided"})
    assert r.status_code == 409
    assert asse.get(f"/sesi/{cast.session_a}/tarik-persetujuan").status_code == 403
    assert login_as("admin").get(f"/sesi/{cast.session_a}/tarik-persetujuan").status_code == 403


def test_the_system_actor_can_only_cancel(app, cast):
    import pytest

    from remote_tuk.assessment import services as assessment
    from remote_tuk.assessment.models import SessionState as S
    from remote_tuk.extensions import db

    system = assessment.SystemActor("test")
    with app.app_context():
        s = _session(app, cast.session_a)
        with pytest.raises(assessment.InvalidTransition):
            assessment.transition(db.session, s, S.CHECKING, actor=system, reason="x")
        with pytest.raises(Exception, match="Alasan"):
            assessment.transition(db.session, s, S.CANCELLED, actor=system)
        record = assessment.transition(db.session, s, S.CANCELLED, actor=system, reason="uji")
        assert record.actor_id is None and s.state is S.CANCELLED


def test_a_new_assessor_means_fr_ak_01_is_signed_again(app, login_as, cast):
    from remote_tuk.accounts.models import User
    from remote_tuk.assessment import services as assessment
    from remote_tuk.extensions import db

    cand, first = login_as("asesi_a"), login_as("asesor_a")
    give_consents(cand, cast)
    with app.app_context():
        s = _session(app, cast.session_a)
        assessment.assign_assessor(db.session, s.schedule, cast.users["asesor_b"], "009/ST/2026",
                                   actor=db.session.get(User, cast.users["admin"]))
    # the signed form names asesor_a: consent is incomplete until the candidate signs the form naming asesor_b
    assert cand.get(consent_url(cast)).get_json()["complete"] is False
    assert first.get(consent_url(cast)).status_code == 404  # no longer the session's assessor
    second = login_as("asesor_b")
    assert cosign(second, cast).status_code == 409
    give_consents(cand, cast)
    body = cand.get(consent_url(cast)).get_json()
    assert body["complete"] is True and body["form"]["fields"]["assessor"]["name"] == "Asesor B"
    assert cosign(second, cast).status_code == 201
    assert len(_entries(app, cast.session_a, "consent.fr_ak_01")) == 2 and len(
        _entries(app, cast.session_a, "consent.pdp")) == 1
