"""Question banks through the admin pages and the CLI: import/export round trips, all-or-nothing imports, versions
published by every edit, a session pinned to a version, and the answer key kept out of candidate serializations."""

from __future__ import annotations

import copy
import io
import json

import pytest
from sqlalchemy import func, select

from remote_tuk.demo import DEMO_BANK
from tests.conftest import csrf_token

DEMO = json.loads(DEMO_BANK.read_text())


def _counts(app) -> tuple[int, ...]:
    from remote_tuk.extensions import db
    from remote_tuk.instruments.models import AnswerKey, BankVersion, Question, QuestionBank, QuestionRevision

    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(m))
            for m in (QuestionBank, BankVersion, Question, QuestionRevision, AnswerKey)
        )


def _upload(client, name: str, data: bytes):
    token = csrf_token(client, "/admin/soal/")
    return client.post(
        "/admin/soal/impor",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _export(client, cast, fmt: str, version: int | None = None):
    query = f"?versi={version}" if version else ""
    resp = client.get(f"/admin/soal/{cast.scheme_id}/ekspor.{fmt}{query}")
    assert resp.status_code == 200, resp.data[:300]
    assert resp.headers["Content-Disposition"].startswith("attachment")
    return resp.data.decode()


def test_import_json_export_both_formats_and_reimport_csv_round_trip(app, login_as, cast):
    admin = login_as("admin")
    resp = _upload(admin, "bank.json", DEMO_BANK.read_bytes())
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/soal/{cast.scheme_id}")
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "PG-01" in page and "Tumpukan (stack)" in page and "Riwayat versi" in page
    assert json.loads(_export(admin, cast, "json")) == {**DEMO, "version": 1}
    csv_text = _export(admin, cast, "csv")
    # the CSV as exported changes nothing: no new version
    before = _counts(app)
    assert _upload(admin, "bank.csv", csv_text.encode()).status_code == 302
    assert _counts(app) == before
    # an edited CSV publishes version 2 with exactly that change
    edited = csv_text.replace("Struktur data yang bekerja dengan prinsip LIFO", "Struktur data dengan prinsip LIFO")
    assert _upload(admin, "bank.csv", edited.encode()).status_code == 302
    doc = json.loads(_export(admin, cast, "json"))
    assert doc["version"] == 2
    assert doc["questions"][0]["prompt"].startswith("Struktur data dengan prinsip LIFO")
    assert doc["questions"][1:] == DEMO["questions"][1:]
    # version 1 is still there, unchanged
    assert json.loads(_export(admin, cast, "json", version=1)) == {**DEMO, "version": 1}


def test_import_replaces_retires_and_refuses_stale_files(app, login_as, cast):
    admin = login_as("admin")
    assert _upload(admin, "bank.json", DEMO_BANK.read_bytes()).status_code == 302
    doc = json.loads(_export(admin, cast, "json"))
    doc["questions"] = [q for q in doc["questions"] if q["code"] != "ES-02"]
    doc["questions"][0]["correct"] = "A"
    doc["questions"].append({**doc["questions"][0], "code": "PG-99"})
    assert _upload(admin, "bank.json", json.dumps(doc).encode()).status_code == 302
    v2 = json.loads(_export(admin, cast, "json"))
    codes = [q["code"] for q in v2["questions"]]
    assert "ES-02" not in codes and "PG-99" in codes and v2["version"] == 2
    # a file exported from version 1 is refused now (someone published version 2 meanwhile), nothing written
    before = _counts(app)
    resp = _upload(admin, "lama.json", json.dumps({**DEMO, "version": 1}).encode())
    assert resp.status_code == 409 and "versi 1" in resp.get_data(as_text=True)
    from remote_tuk.extensions import db
    from remote_tuk.instruments import services
    from remote_tuk.instruments.errors import StaleBankFile

    with app.app_context(), pytest.raises(StaleBankFile):
        services.import_bank(db.session, json.dumps({**DEMO, "version": 1}).encode(), "lama.json", actor=None)
    assert _counts(app) == before
    # the kind of an existing code cannot change
    bad = copy.deepcopy(v2)
    bad["questions"][0] = {**bad["questions"][0], "type": "essay", "expected_answer": "x"}
    bad["questions"][0].pop("options")
    bad["questions"][0].pop("correct")
    resp = _upload(admin, "bank.json", json.dumps(bad, indent=2).encode())
    assert resp.status_code == 422 and "/questions/0/type" in resp.get_data(as_text=True)
    assert _counts(app) == before


def test_malformed_banks_write_nothing_and_name_line_and_field(app, login_as, cast):
    admin = login_as("admin")
    before = _counts(app)
    doc = copy.deepcopy(DEMO)
    doc["questions"][-1]["kuk"] = "9.9"  # the very last question: every earlier one is valid
    doc["questions"][5]["unit"] = "J.000000.000.00"
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    resp = _upload(admin, "rusak.json", text.encode())
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert f"/questions/{len(doc['questions']) - 1}/kuk" in html and "KUK 9.9 tidak ada" in html
    assert "/questions/5/unit" in html and "baris" in html
    assert _counts(app) == before
    # CSV: line numbers and columns
    rows = ["scheme_code,code,type,unit_code,kuk_number,prompt,option_a,option_b,correct,expected_answer"]
    rows.append("SKM-JWD-2026,PG-01,multiple_choice,J.620100.004.02,1.1,Soal?,Ya,Tidak,A,")
    rows.append("SKM-JWD-2026,PG-02,multiple_choice,J.620100.004.02,1.1,Soal?,Ya,Tidak,,")
    resp = _upload(admin, "rusak.csv", "\n".join(rows).encode())
    assert resp.status_code == 422
    assert "baris 3" in resp.get_data(as_text=True) and "<code>correct</code>" in resp.get_data(as_text=True)
    # unknown scheme
    resp = _upload(admin, "lain.json", json.dumps({**DEMO, "scheme": "SKEMA-TIDAK-ADA"}).encode())
    assert resp.status_code == 422 and "SKEMA-TIDAK-ADA" in resp.get_data(as_text=True)
    # no file, wrong extension, oversized body
    token = csrf_token(admin, "/admin/soal/")
    assert admin.post("/admin/soal/impor", data={"csrf_token": token}).status_code == 422
    assert _upload(admin, "bank.pdf", b"%PDF-1.7").status_code == 422
    assert _counts(app) == before


def _form(**over):
    base = {
        "type": "multiple_choice",
        "kuk_id": "",
        "prompt": "Perintah Git untuk melihat riwayat commit adalah …",
        "option_a": "git log",
        "option_b": "git push",
        "option_c": "git init",
        "correct": "A",
        "expected_answer": "",
    }
    base.update(over)
    return base


def _kuk_id(app, unit_code: str, number: str) -> int:
    from remote_tuk.extensions import db
    from remote_tuk.lsp.models import Element, Kuk, Unit

    with app.app_context():
        return db.session.scalar(
            select(Kuk.id).join(Element).join(Unit).where(Unit.code == unit_code, Kuk.number == number)
        )


def test_admin_creates_edits_and_retires_each_a_new_version(app, login_as, cast):
    admin = login_as("admin")
    kuk = _kuk_id(app, "J.620100.019.02", "3.1")
    page = admin.get(f"/admin/soal/{cast.scheme_id}/baru?jenis=essay")
    assert page.status_code == 200 and "J.620100.019.02" in page.get_data(as_text=True)
    assert admin.get(f"/admin/soal/{cast.scheme_id}/baru?jenis=nonsense").status_code == 200
    token = csrf_token(admin, f"/admin/soal/{cast.scheme_id}/baru")
    url = f"/admin/soal/{cast.scheme_id}/baru"
    # invalid: no correct option, an option gap, a KUK of nowhere
    bad = admin.post(url, data={**_form(kuk_id=kuk, correct="", option_b="", option_d="x"), "csrf_token": token})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "kunci jawaban wajib diisi" in html and "pilihan tidak boleh kosong" in html
    assert admin.post(url, data={**_form(kuk_id=999999), "csrf_token": token}).status_code == 422
    assert _counts(app)[0:2] == (0, 0)
    # valid: version 1 with the question, code chosen for the admin
    ok = admin.post(url, data={**_form(kuk_id=kuk), "csrf_token": token})
    assert ok.status_code == 302
    doc = json.loads(_export(admin, cast, "json"))
    assert doc["version"] == 1 and doc["questions"][0]["code"] == "PG-01" and doc["questions"][0]["correct"] == "A"
    # an essay: options typed before switching the kind are ignored; the expected answer is required
    essay_form = {**_form(kuk_id=kuk, type="essay", correct=""), "csrf_token": token}
    essay = admin.post(url, data={**essay_form, "expected_answer": ""})
    assert essay.status_code == 422 and "jawaban yang diharapkan wajib diisi" in essay.get_data(as_text=True)
    essay = admin.post(url, data={**essay_form, "expected_answer": "npm outdated"})
    assert essay.status_code == 302
    from remote_tuk.extensions import db
    from remote_tuk.instruments.models import Question

    with app.app_context():
        qid = db.session.scalar(select(Question.id).where(Question.code == "PG-01"))
    edit_url = f"/admin/soal/{cast.scheme_id}/{qid}/ubah"
    form_page = admin.get(edit_url).get_data(as_text=True)
    assert 'value="git log"' in form_page
    # saving unchanged publishes nothing; a change publishes version 3
    assert admin.post(edit_url, data={**_form(kuk_id=kuk), "csrf_token": token}).status_code == 302
    assert json.loads(_export(admin, cast, "json"))["version"] == 2
    assert admin.post(edit_url, data={**_form(kuk_id=kuk, correct="B"), "csrf_token": token}).status_code == 302
    v3 = json.loads(_export(admin, cast, "json"))
    assert v3["version"] == 3 and v3["questions"][0]["correct"] == "B"
    assert json.loads(_export(admin, cast, "json", version=2))["questions"][0]["correct"] == "A"
    # retire: version 4 without it; retiring twice is a conflict; the old version still has it
    retire = f"/admin/soal/{cast.scheme_id}/{qid}/pensiun"
    assert admin.post(retire, data={"csrf_token": token}).status_code == 302
    assert [q["code"] for q in json.loads(_export(admin, cast, "json"))["questions"]] == ["ES-01"]
    assert admin.post(retire, data={"csrf_token": token}).status_code == 409
    assert admin.get(edit_url).status_code == 404
    assert [q["code"] for q in json.loads(_export(admin, cast, "json", version=3))["questions"]] == ["PG-01", "ES-01"]
    versions = admin.get(f"/admin/soal/{cast.scheme_id}").get_data(as_text=True)
    assert "Soal PG-01 dipensiunkan" in versions and "Soal PG-01 diubah" in versions
    assert admin.get(f"/admin/soal/{cast.scheme_id}?versi=9").status_code == 404


def test_only_admins_reach_the_bank_pages(login_as, cast):
    for who in ("asesor_a", "asesi_a", "auditor_a"):
        client = login_as(who)
        assert client.get("/admin/soal/").status_code == 403
        assert client.get(f"/admin/soal/{cast.scheme_id}/ekspor.json").status_code == 403
    assert login_as(None).get("/admin/soal/").status_code in (302, 401)
    admin = login_as("admin")
    assert admin.get(f"/admin/soal/{cast.scheme_id}/ekspor.json").status_code == 404  # no bank yet
    assert admin.get("/admin/soal/999999").status_code == 404


def test_cli_import_and_export(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-questions", str(DEMO_BANK)])
    assert result.exit_code == 0, result.output
    assert "versi 1" in result.output and "24 soal" in result.output
    again = runner.invoke(args=["import-questions", str(DEMO_BANK)])
    assert again.exit_code == 0 and "tidak berubah" in again.output
    exported = runner.invoke(args=["export-questions", "SKM-JWD-2026"])
    assert json.loads(exported.output) == {**DEMO, "version": 1}
    csv_out = runner.invoke(args=["export-questions", "SKM-JWD-2026", "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("scheme_code,code,type")
    assert runner.invoke(args=["export-questions", "TIDAK-ADA"]).exit_code != 0
    assert runner.invoke(args=["export-questions", "SKM-JWD-2026", "--version", "5"]).exit_code != 0
    bad = tmp_path / "rusak.json"
    doc = copy.deepcopy(DEMO)
    doc["questions"][2]["correct"] = "Q"
    bad.write_text(json.dumps(doc, indent=2))
    result = runner.invoke(args=["import-questions", str(bad)])
    assert result.exit_code != 0
    assert "/questions/2/correct" in result.output and "baris" in result.output


@pytest.fixture
def pinned(app, cast):
    """The demo bank imported and pinned for cast.session_a's written test."""
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.instruments import services

    with app.app_context():
        services.import_bank(db.session, DEMO_BANK.read_bytes(), DEMO_BANK.name, actor=None)
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        use = services.use_bank(db.session, evidence.store, session, "written", actor=None)
        yield session, use
        evidence.close()


def test_a_session_stays_on_the_version_it_pinned_and_logs_it(app, pinned, login_as, cast):
    from remote_tuk.extensions import db, evidence
    from remote_tuk.instruments import services

    session, use = pinned
    with app.app_context():
        session = db.session.merge(session)
        first = [r.uid for r in services.questions_of(db.session, use)]
        assert use.version == 1 and len(first) == 24
        # the admin publishes version 2; the session's questions do not move, and pinning again returns the same pin
        doc = {**DEMO, "questions": DEMO["questions"][1:]}
        services.import_bank(db.session, json.dumps(doc).encode(), "v2.json", actor=None)
        assert [r.uid for r in services.questions_of(db.session, use)] == first
        assert services.use_bank(db.session, evidence.store, session, "written", actor=None).id == use.id
        entries = evidence.store.list_entries(session.public_id)
    entries = [e for e in entries if e.get("type") == "instrument.bank_pinned"]
    assert len(entries) == 1 and entries[0]["metadata"] == {"purpose": "written", "bank_version": 1}


def test_pinning_needs_a_bank_and_an_open_session(app, cast, login_as):
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.errors import Conflict, ValidationFailed
    from remote_tuk.extensions import db, evidence
    from remote_tuk.instruments import services

    asesor = login_as("asesor_b")
    token = csrf_token(asesor, "/akun/kata-sandi")
    cancel = {"to": "cancelled", "reason": "Dijadwalkan ulang."}
    r = asesor.post(f"/api/v1/sessions/{cast.session_b}/transition", json=cancel, headers={"X-CSRFToken": token})
    assert r.status_code == 200
    with app.app_context():
        find = select(AssessmentSession).where(AssessmentSession.public_id.in_([cast.session_a, cast.session_b]))
        sessions = {s.public_id: s for s in db.session.scalars(find)}
        with pytest.raises(Conflict):  # no bank for the scheme yet
            services.use_bank(db.session, evidence.store, sessions[cast.session_a], "written", actor=None)
        with pytest.raises(ValidationFailed):
            services.use_bank(db.session, evidence.store, sessions[cast.session_a], "lisan", actor=None)
        services.import_bank(db.session, DEMO_BANK.read_bytes(), DEMO_BANK.name, actor=None)
        with pytest.raises(Conflict) as closed:  # a cancelled session's chain is closed
            services.use_bank(db.session, evidence.store, sessions[cast.session_b], "oral", actor=None)
        assert closed.value.code == "invalid_state"
        evidence.close()


def test_option_shuffle_is_reproducible_and_scoring_follows_it(app, pinned):
    from remote_tuk.extensions import db
    from remote_tuk.instruments import services
    from remote_tuk.instruments.models import QuestionKind

    _session, use = pinned
    with app.app_context():
        revs = services.questions_of(db.session, use, (QuestionKind.MULTIPLE_CHOICE,))
        keys = services.keys_for(db.session, revs)
        orders = set()
        for rev in revs:
            order = services.option_order(use.seed, rev.uid, len(rev.options))
            assert sorted(order) == list(range(len(rev.options)))
            assert order == services.option_order(use.seed, rev.uid, len(rev.options))
            orders.add(tuple(order))
            shown = services.candidate_question(rev, use)["options"]
            assert shown == [rev.options[i] for i in order]
            right = shown.index(rev.options[keys[rev.id].correct_option])
            assert services.is_correct(use, rev, keys[rev.id], right)
            assert not any(services.is_correct(use, rev, keys[rev.id], i) for i in range(len(shown)) if i != right)
            assert not services.is_correct(use, rev, keys[rev.id], len(shown))
        assert len(orders) > 1  # not every question in the author's order
        # another seed (another session) gives another order for at least one question
        assert any(services.option_order("0" * 64, r.uid, 4) != services.option_order(use.seed, r.uid, 4) for r in revs)


def test_answer_key_never_in_a_candidate_serialization(app, pinned):
    from remote_tuk.extensions import db
    from remote_tuk.instruments import services
    from remote_tuk.instruments.models import AnswerKey, QuestionRevision

    _session, use = pinned
    with app.app_context():
        revs = services.questions_of(db.session, use)
        keys = services.keys_for(db.session, revs)
        payload = json.dumps([services.candidate_question(r, use) for r in revs], ensure_ascii=False)
        secrets = [k.expected_answer for k in keys.values() if k.expected_answer]
        assert len(secrets) >= 8
        assert not any(secret in payload for secret in secrets)
        for field in ("correct", "expected", "key", "kuk"):
            assert f'"{field}' not in payload
        # the assessor's serializer does carry it
        assessor = services.assessor_question(revs[1], keys[revs[1].id])
        assert assessor["expected_answer"] == keys[revs[1].id].expected_answer
        # no relationship leads from a revision (or its question) to the key
        from sqlalchemy import inspect

        seen, todo = set(), [QuestionRevision]
        while todo:
            mapper = inspect(todo.pop())
            for rel in mapper.relationships:
                target = rel.mapper.class_
                assert target is not AnswerKey, f"{mapper.class_.__name__}.{rel.key} reaches the answer key"
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
