"""FR.AK.06 by the reviewer the LSP assigns (issue 15 #4, "the reviewer's checklist"): an LSP admin assigns an active
assessor who is not the schedule's own assessor; that reviewer opens the schedule's review rooms and records the
process review; the schedule's own assessor is refused as reviewer and as author, others are refused as before."""

from __future__ import annotations

from tests.conftest import csrf_token
from tests.functional import test_assessment_documents as documents

backend, settings, decided = documents.backend, documents.settings, documents.decided


def _json(client, method, url, body=None):
    hdr = {"X-CSRFToken": csrf_token(client, "/akun/kata-sandi"), "Accept": "application/json"}
    return client.open(url, method=method, json=body, headers=hdr)


def test_the_assigned_reviewer_records_fr_ak_06_and_the_original_assessor_is_refused(app, login_as, cast, decided,
                                                                                     tmp_path):
    from sop import verify_pdf_signature

    admin, original, reviewer = login_as("admin"), login_as("asesor_a"), login_as("asesor_b")
    url = f"/jadwal/{cast.schedule_a}/tinjauan-proses"
    assign = f"{url}/peninjau"
    body = documents._process_body()

    # before an assignment the other assessor does not even see the schedule; the original cannot record
    assert reviewer.get(url).status_code == 404
    assert _json(reviewer, "POST", url, body).status_code == 404
    assert _json(original, "POST", url, body).status_code == 403
    assert reviewer.get(f"/sesi/{cast.session_a}/tinjauan").status_code == 404

    # the schedule's own assessor cannot be assigned; nor a non-assessor; only an admin assigns
    r = _json(admin, "POST", assign, {"reviewer_id": cast.users["asesor_a"]})
    assert r.status_code == 422 and r.get_json()["details"]["reviewer_id"] == "asesor asli"
    assert _json(admin, "POST", assign, {"reviewer_id": cast.users["auditor_a"]}).status_code == 422
    assert _json(admin, "POST", assign, {"reviewer_id": "x"}).status_code == 422
    assert _json(original, "POST", assign, {"reviewer_id": cast.users["asesor_b"]}).status_code == 403
    assert _json(reviewer, "POST", assign, {"reviewer_id": cast.users["asesor_b"]}).status_code == 404
    assert _json(login_as("asesi_a"), "POST", assign, {"reviewer_id": cast.users["asesor_b"]}).status_code == 404

    r = _json(admin, "POST", assign, {"reviewer_id": cast.users["asesor_b"]})
    assert r.status_code == 200 and r.get_json()["reviewer_id"] == cast.users["asesor_b"]
    page = admin.get(url).get_data(as_text=True)
    assert f'data-process-reviewer="{cast.users["asesor_b"]}"' in page and "data-process-reviewer-form" in page

    # the reviewer finds it on their dashboard, sees the page with the checklist and studies the sessions
    assert f'data-process-review-link="{cast.schedule_a}"' in reviewer.get("/asesor/").get_data(as_text=True)
    assert "data-process-reviews" not in original.get("/asesor/").get_data(as_text=True)
    page = reviewer.get(url).get_data(as_text=True)
    assert "data-process-form" in page and "data-process-reviewer-form" not in page
    assert reviewer.get(f"/sesi/{cast.session_a}/tinjauan").status_code == 200
    # the original assessor still sees the page, without the form, and is still refused
    assert "data-process-form" not in original.get(url).get_data(as_text=True)
    assert _json(original, "POST", url, body).status_code == 403
    assert _json(login_as("auditor_a"), "POST", url, body).status_code == 403

    r = _json(reviewer, "POST", url, body)
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()["document"]
    assert doc["form"] == "FR.AK.06"
    pdf = admin.get(doc["url"]).data
    (tmp_path / "p.pdf").write_bytes(pdf)
    assert verify_pdf_signature(tmp_path / "p.pdf").valid
    with app.app_context():
        from remote_tuk.extensions import evidence

        entries = evidence.store.list_entries(doc["evidence_session"], include_related=False)
    assert entries[1]["actor"] == {"role": "asesor", "id": str(cast.users["asesor_b"])}
    assert [link["chain"] for link in entries[0]["links"]] == [cast.session_a]  # linked to the schedule's session
