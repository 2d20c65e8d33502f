"""Appeals (FR.AK.04, issue 15 #3): the candidate appeals a decided session from their dashboard within the LSP's
window; the LSP assigns a reviewer who is not the original assessor; the reviewer studies the session in the review
room and decides; the candidate sees the outcome. Every step is evidence in the appeal's chain, and a decided
session's verdicts change only through an upheld appeal (a new version, the old one kept). And the refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.functional import test_assessment_documents as documents

# the decided session and its settings, as the documents' tests make them
backend, settings, decided = documents.backend, documents.settings, documents.decided
REASONS = "Saya sudah menunjukkan unit terakhir pada menit ke-12 rekaman."


@pytest.fixture
def people(login_as):
    clients: dict = {}

    def as_(who):  # one sign-in each (a TOTP code is used once)
        if who not in clients:
            clients[who] = login_as(who)
        return clients[who]

    return as_


def _post(client, path, body):
    token = csrf_token(client, "/akun/kata-sandi")
    return client.post(path, json=body, headers={"X-CSRFToken": token, "Accept": "application/json"})


def _decisions(app, cast):
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db
    from remote_tuk.live.models import UnitDecision

    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        return [(d.unit_id, d.version, d.verdict.value, d.assessor_id) for d in db.session.scalars(
            select(UnitDecision).where(UnitDecision.session_id == sess.id).order_by(UnitDecision.unit_id,
                                                                                    UnitDecision.version))]


def _last_unit(app, cast) -> int:
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        return list(sess.schedule.scheme.units)[-1].id


def test_the_whole_appeal_upheld(app, cast, decided, people):
    from remote_tuk.extensions import evidence

    before = _decisions(app, cast)
    r = _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS})
    assert r.status_code == 201, r.get_json()
    appeal = r.get_json()["appeal"]
    assert appeal["status"] == "submitted"
    dash = people("asesi_a").get("/asesi/").get_data(as_text=True)
    assert f'data-appeal="{appeal["id"]}" data-appeal-status="submitted"' in dash

    # the reviewer (another assessor) cannot open the session before being assigned; can after
    room = f"/sesi/{cast.session_a}/tinjauan"
    assert people("asesor_b").get(room).status_code == 404
    r = _post(people("admin"), f"/banding/{appeal['id']}/penelaah", {"reviewer_id": cast.users["asesor_b"]})
    assert r.status_code == 200 and r.get_json()["appeal"]["status"] == "assigned"
    assert people("asesor_b").get(room).status_code == 200
    assert people("asesor_b").get(f"/banding/{appeal['id']}").status_code == 200

    unit = _last_unit(app, cast)
    r = _post(people("asesor_b"), f"/banding/{appeal['id']}/keputusan",
              {"outcome": "upheld", "reasons": "Rekaman menit ke-12 menunjukkan kinerja yang diminta.",
               "changes": [{"unit_id": unit, "verdict": "K"}]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["appeal"]["status"] == "upheld"

    after = _decisions(app, cast)
    assert set(before) < set(after)  # the old versions stay
    new = [d for d in after if d not in before]
    assert new == [(unit, 2, "K", cast.users["asesor_b"])]

    dash = people("asesi_a").get("/asesi/").get_data(as_text=True)
    assert 'data-appeal-status="upheld"' in dash and "Rekaman menit ke-12" in dash  # the candidate is told

    with app.app_context():
        entries = evidence.store.list_entries(appeal["evidence_chain"], include_related=False)
    assert [e.get("type") or e["kind"] for e in entries] == [
        "open", "appeal.submitted", "appeal.assigned", "assessment.unit_decision", "appeal.decided", "close"]
    assert entries[0]["metadata"]["session"] == cast.session_a
    with app.app_context():  # linked to the session's closed chain, at its head (the close entry)
        session_chain = evidence.store.list_entries(cast.session_a, include_related=False)
    head = session_chain[-1]
    assert entries[0]["links"] == [{"chain": cast.session_a, "seq": head["seq"], "log_index": head["log_index"],
                                    "hash": entries[0]["links"][0]["hash"]}]
    assert session_chain[-1]["kind"] == "close"

    # a decision on a closed appeal is refused; so is a second assignment
    r = _post(people("asesor_b"), f"/banding/{appeal['id']}/keputusan", {"outcome": "rejected", "reasons": REASONS})
    assert r.status_code == 409
    r = _post(people("admin"), f"/banding/{appeal['id']}/penelaah", {"reviewer_id": cast.users["asesor_b"]})
    assert r.status_code == 409


def test_a_rejected_appeal_changes_nothing(app, cast, decided, people):
    before = _decisions(app, cast)
    appeal = _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).get_json()["appeal"]
    _post(people("admin"), f"/banding/{appeal['id']}/penelaah", {"reviewer_id": cast.users["asesor_b"]})
    unit = _last_unit(app, cast)
    r = _post(people("asesor_b"), f"/banding/{appeal['id']}/keputusan",
              {"outcome": "rejected", "reasons": "Rekaman tidak menunjukkan kinerja itu.",
               "changes": [{"unit_id": unit, "verdict": "K"}]})
    assert r.status_code == 422  # a rejection changes no verdict
    r = _post(people("asesor_b"), f"/banding/{appeal['id']}/keputusan",
              {"outcome": "rejected", "reasons": "Rekaman tidak menunjukkan kinerja itu."})
    assert r.status_code == 200 and r.get_json()["appeal"]["status"] == "rejected"
    assert _decisions(app, cast) == before
    # after a closed appeal the candidate may appeal again within the window
    assert _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).status_code == 201


def test_the_refusals(app, cast, decided, people):
    from remote_tuk.assessment.models import AssessmentSession, SessionState, SessionTransition
    from remote_tuk.extensions import db

    # another candidate's session, a session not decided, reasons too short, unknown fields
    assert _post(people("asesi_b"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).status_code == 404
    assert _post(people("asesi_b"), f"/sesi/{cast.session_b}/banding", {"reasons": REASONS}).status_code == 409
    assert _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": "tidak"}).status_code == 422
    assert _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding",
                 {"reasons": REASONS, "status": "upheld"}).status_code == 422
    # only the candidate appeals
    assert _post(people("asesor_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).status_code == 404

    # a verdict changed without an appeal: the decided session refuses a new decision
    unit = _last_unit(app, cast)
    r = _post(people("asesor_a"), f"/api/v1/sessions/{cast.session_a}/decisions",
              {"unit_id": unit, "verdict": "K", "reason": "diubah tanpa banding"})
    assert r.status_code == 409

    appeal = _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).get_json()["appeal"]
    assert _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).status_code == 409
    # the original assessor as reviewer; a candidate or an auditor as reviewer; not an admin assigning
    for reviewer, status in ((cast.users["asesor_a"], 422), (cast.users["asesi_a"], 422),
                             (cast.users["auditor_a"], 422), (999999, 422)):
        r = _post(people("admin"), f"/banding/{appeal['id']}/penelaah", {"reviewer_id": reviewer})
        assert r.status_code == status, (reviewer, r.get_json())
    assert _post(people("asesor_a"), f"/banding/{appeal['id']}/penelaah",
                 {"reviewer_id": cast.users["asesor_b"]}).status_code == 404
    # only the assigned reviewer decides
    _post(people("admin"), f"/banding/{appeal['id']}/penelaah", {"reviewer_id": cast.users["asesor_b"]})
    for who in ("asesor_a", "admin", "asesi_a", "auditor_a"):
        r = _post(people(who), f"/banding/{appeal['id']}/keputusan", {"outcome": "rejected", "reasons": REASONS})
        assert r.status_code == 404, who
    assert people("asesor_a").get(f"/banding/{appeal['id']}").status_code == 404
    assert _post(people("asesor_b"), "/banding/999999/keputusan",
                 {"outcome": "rejected", "reasons": REASONS}).status_code == 404

    # out of the window: the LSP sets 1 day, and the decision is 2 days old
    assert _post(people("admin"), "/banding/pengaturan", {"window_days": 0}).status_code == 422
    assert _post(people("admin"), "/banding/pengaturan", {"window_days": 1}).status_code == 200
    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        t = db.session.scalar(select(SessionTransition).where(SessionTransition.session_id == sess.id,
                                                              SessionTransition.to_state == SessionState.DECIDED))
        t.at = t.at - timedelta(days=2)
        db.session.commit()
    _post(people("asesor_b"), f"/banding/{appeal['id']}/keputusan", {"outcome": "rejected", "reasons": REASONS})
    r = _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS})
    assert r.status_code == 409 and "sudah lewat" in r.get_json()["message"]
    assert "data-appeal-form" not in people("asesi_a").get("/asesi/").get_data(as_text=True)


def test_the_decided_session_page_shows_the_decisions_and_the_dossier_says_appeals_are_online(app, cast, decided,
                                                                                              people):
    from remote_tuk.dossier.facts import gather
    from remote_tuk.extensions import db, evidence

    for who in ("asesor_a", "admin", "auditor_a", "asesi_a"):
        page = people(who).get(f"/sesi/{cast.session_a}").get_data(as_text=True)
        assert "data-session-decisions" in page and "Belum kompeten" in page, who
        assert ("/tinjauan" in page) is (who != "asesi_a"), who
    with app.app_context():
        facts = gather(db.session, app.config["RTUK"], evidence.store.describe_parameters())
    assert facts.capabilities.online_appeal is True


def test_the_auditor_sees_the_appeal_read_only_and_verifies_its_bundle(app, cast, decided, people, tmp_path):
    from evidence_store.verifier import verify_bundle
    from remote_tuk.extensions import evidence

    appeal = _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).get_json()["appeal"]
    _post(people("admin"), f"/banding/{appeal['id']}/penelaah", {"reviewer_id": cast.users["asesor_b"]})
    _post(people("asesor_b"), f"/banding/{appeal['id']}/keputusan",
          {"outcome": "rejected", "reasons": "Rekaman tidak menunjukkan kinerja itu."})
    page = people("auditor_a").get(f"/sesi/{cast.session_a}/bukti").get_data(as_text=True)
    assert f'data-appeal="{appeal["id"]}"' in page and appeal["evidence_chain"] in page
    room = people("auditor_a").get(f"/sesi/{cast.session_a}/tinjauan").get_data(as_text=True)
    assert "data-generate" not in room and 'method="post"' not in room.split("<main", 1)[1]  # read-only

    url = f"/banding/{appeal['id']}/bundel.zip"
    r = people("auditor_a").get(url)
    assert r.status_code == 200 and r.mimetype == "application/zip"
    (tmp_path / "b.zip").write_bytes(r.data)
    with app.app_context():
        key = evidence.store.status()["verifier_key"]
    report = verify_bundle(tmp_path / "b.zip", key)
    assert report.ok, report.render()
    for who in ("asesor_b", "asesor_a", "admin"):
        assert people(who).get(url).status_code == 200, who
    for who in ("asesi_a", "asesi_b", "auditor_b"):
        assert people(who).get(url).status_code == 404, who
    assert people("admin").get("/banding/999999/bundel.zip").status_code == 404


def test_the_session_bundle_holds_the_appeal_and_the_records_and_verifies(app, cast, decided, people, tmp_path):
    """Every step of the appeal and every record is linked to the session's chain: the session's own bundle (the
    admin's "download bundle") holds them, the evidence page lists them, and the verifier checks them."""
    import json
    import zipfile

    from evidence_store.verifier import verify_bundle
    from remote_tuk.extensions import evidence

    r = _post(people("asesor_a"), f"/sesi/{cast.session_a}/dokumen/fr-ak-02", {})
    assert r.status_code in (200, 201), r.get_json()
    assert people("admin").get(r.get_json()["url"]).status_code == 200
    with app.app_context():  # a read of a linked chain's document is a read of the session's evidence
        from remote_tuk.extensions import db
        from remote_tuk.privacy.services import read_log

        reads = read_log(db.session, evidence.store, session=cast.session_a)
    assert ("assessment.fr_ak_02", "lsp_admin") in {(x.item_type, x.actor_role) for x in reads}
    appeal = _post(people("asesi_a"), f"/sesi/{cast.session_a}/banding", {"reasons": REASONS}).get_json()["appeal"]

    # while the appeal is open the bundle names it as not yet included, and verifies
    r = people("admin").post(f"/sesi/{cast.session_a}/bukti/bundel.zip",
                             data={"csrf_token": csrf_token(people("admin"), f"/sesi/{cast.session_a}/bukti")})
    assert r.status_code == 200
    (tmp_path / "open.zip").write_bytes(r.data)
    with zipfile.ZipFile(tmp_path / "open.zip") as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["linked_open"] == [appeal["evidence_chain"]]
    with app.app_context():
        key = evidence.store.status()["verifier_key"]
    report = verify_bundle(tmp_path / "open.zip", key)
    assert report.ok, report.render()
    assert [x.split(" ")[0] for x in report.linked] == [f"frak02-{cast.session_a}-v1"]

    _post(people("admin"), f"/banding/{appeal['id']}/penelaah", {"reviewer_id": cast.users["asesor_b"]})
    r = _post(people("asesor_b"), f"/banding/{appeal['id']}/keputusan",
              {"outcome": "upheld", "reasons": "Rekaman menit ke-12 menunjukkan kinerja yang diminta.",
               "changes": [{"unit_id": _last_unit(app, cast), "verdict": "K"}]})
    assert r.status_code == 200

    page = people("admin").get(f"/sesi/{cast.session_a}/bukti").get_data(as_text=True)
    assert f'data-linked-chain="{appeal["evidence_chain"]}"' in page
    assert f'data-linked-chain="frak02-{cast.session_a}-v1"' in page
    for code in ("appeal.submitted", "appeal.assigned", "assessment.unit_decision", "appeal.decided"):
        assert f'data-code="{code}" data-linked-entry="{appeal["evidence_chain"]}"' in page, code

    r = people("auditor_a").get(f"/sesi/{cast.session_a}/bukti/bundel.zip")
    assert r.status_code == 200
    (tmp_path / "s.zip").write_bytes(r.data)
    report = verify_bundle(tmp_path / "s.zip", key)
    assert report.ok, report.render()
    assert sorted(x.split(" ")[0] for x in report.linked) == sorted([f"frak02-{cast.session_a}-v1",
                                                                     appeal["evidence_chain"]])
    appeal_line = next(x for x in report.linked if x.startswith(appeal["evidence_chain"]))
    assert "FR.AK.04" in appeal_line and "6 entries, 4 items" in appeal_line
    with zipfile.ZipFile(tmp_path / "s.zip") as zf:
        types = [json.loads(x).get("type") for x in zf.read("entries.jsonl").splitlines()
                 if json.loads(x)["chain"] == appeal["evidence_chain"]]
    assert types == [None, "appeal.submitted", "appeal.assigned", "assessment.unit_decision", "appeal.decided", None]
