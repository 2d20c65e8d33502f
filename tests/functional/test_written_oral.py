"""Issue 16 items 3–5 through the HTTP API and Socket.IO /live: the written test (FR.IA.05/06) opened by the assessor
and answered by the candidate, scored against the bank's key, never showing the key to the candidate; essays scored
per KUK; oral questions (FR.IA.07) at the session media clock; and the evidence per KUK that the unit decision shows
(observation, written, essay, oral, portfolio). Role, state and input checks; the session's bundle verifies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from remote_tuk.demo import DEMO_BANK
from remote_tuk.extensions import socketio
from tests.conftest import csrf_token, satisfy_gate
from tests.functional.test_apl import Candidate, fill, image

DEMO = json.loads(DEMO_BANK.read_text())
EXPECTED = [q["expected_answer"] for q in DEMO["questions"] if q.get("expected_answer")]
MC = [q for q in DEMO["questions"] if q["type"] == "multiple_choice"]


class Client:
    def __init__(self, client, sid: str):
        self.client, self.sid = client, sid
        self.token = csrf_token(client, "/akun/kata-sandi")
        self.base = f"/api/v1/sessions/{sid}"

    def post(self, path: str, body=None, **kw):
        return self.client.post(self.base + path, json=body if body is not None else kw,
                                headers={"X-CSRFToken": self.token})

    def get(self, path: str):
        return self.client.get(self.base + path)


@pytest.fixture
def live(app, login_as, cast, database):
    """Session A live, the demo bank imported; the assessor's and the candidate's clients."""
    from remote_tuk.extensions import db
    from remote_tuk.instruments import services as instruments

    with app.app_context():
        instruments.import_bank(db.session, DEMO_BANK.read_bytes(), DEMO_BANK.name, actor=None)
    satisfy_gate(database[0], cast.session_a)
    assessor = Client(login_as("asesor_a"), cast.session_a)
    candidate = Client(login_as("asesi_a"), cast.session_a)
    for to in ("checking", "ready", "live"):
        r = assessor.post("/transition", to=to)
        assert r.status_code == 200, r.get_json()
    yield assessor, candidate
    app.extensions["rtuk_evidence"].close()


def _uids(assessor) -> dict[str, str]:
    """code -> uid of the choosable written questions."""
    body = assessor.get("/written").get_json()
    assert body["test"] is None
    return {c["uid"].split("@")[0]: c["uid"] for c in body["choosable"]}


def _right_position(app, sid: str, uid: str) -> int:
    """The position on the candidate's screen of the correct option (computed here from the key and the seed)."""
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db
    from remote_tuk.instruments import services as bank

    with app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
        use = bank.use_of(db.session, session, "written")
        rev = next(r for r in bank.questions_of(db.session, use) if r.uid == uid)
        key = bank.keys_for(db.session, [rev])[rev.id]
        return bank.option_order(use.seed, uid, len(rev.options)).index(key.correct_option)


def _no_key(text: str) -> None:
    """Nothing that gives the key away: no expected answer, no correctness or score field."""
    for expected in EXPECTED:
        assert expected[:60] not in text
    for field in ('"correct', '"expected_answer"', '"score"', '"mc_correct"', '"option":'):
        assert field not in text, field


def test_written_test_autosaves_scores_and_never_shows_the_key(app, live, cast, login_as):
    assessor, candidate = live
    # the candidate's page follows the test over /live; everything said to that room is checked too
    sock = socketio.test_client(app, namespace="/live", flask_test_client=candidate.client)
    assert sock.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)["ok"]
    uids = _uids(assessor)
    chosen = [uids[c] for c in ("PG-01", "PG-02", "PG-03", "PG-04", "ES-01")]
    assert candidate.get("/written").get_json() == {"test": None}
    opened = assessor.post("/written", duration_s=600, questions=chosen)
    assert opened.status_code == 201, opened.get_json()
    assert [q["uid"] for q in opened.get_json()["test"]["questions"]] == chosen

    view = candidate.get("/written")
    assert view.status_code == 200
    _no_key(view.get_data(as_text=True))
    test = view.get_json()["test"]
    assert test["status"] == "open" and test["total"] == 5 and 590 < test["remaining_s"] <= 600
    # the options are the bank's, shuffled per session; the candidate sees prompts and options only
    pg01 = next(q for q in test["questions"] if q["uid"] == chosen[0])
    assert sorted(pg01["options"]) == sorted(MC[0]["options"]) and set(pg01) == {
        "uid", "kind", "prompt", "options", "number", "answer"}

    right = {uid: _right_position(app, cast.session_a, uid) for uid in chosen[:4]}
    # three right, one wrong, then an essay saved twice (autosave) — every save answered with its version
    for uid in chosen[:3]:
        r = candidate.post("/written/answers", uid=uid, choice=right[uid])
        assert r.status_code == 200 and r.get_json()["version"] == 1, r.get_json()
        _no_key(r.get_data(as_text=True))
    wrong = (right[chosen[3]] + 1) % 4
    assert candidate.post("/written/answers", uid=chosen[3], choice=right[chosen[3]]).status_code == 200
    changed = candidate.post("/written/answers", uid=chosen[3], choice=wrong)
    assert changed.get_json()["version"] == 2
    assert candidate.post("/written/answers", uid=chosen[4], text="Antrean").status_code == 200
    essay = "Antrean (queue) berkapasitas 10: yang baru masuk di belakang, yang paling lama keluar di depan."
    assert candidate.post("/written/answers", uid=chosen[4], text=essay).get_json()["version"] == 2

    # a reload: the answers are there, as last saved
    again = candidate.get("/written").get_json()["test"]
    got = {q["uid"]: q["answer"] for q in again["questions"]}
    assert got[chosen[3]]["choice"] == wrong and got[chosen[4]]["text"] == essay and again["answered"] == 5

    # the assessor sees progress and the automatic score as it stands; essays wait for the end of the test
    a = assessor.get("/written").get_json()["test"]
    assert a["answered"] == 5 and a["score"]["mc_correct"] == 3 and a["score"]["mc_total"] == 4
    assert assessor.post("/written/essay-scores", uid=chosen[4], verdict="K").status_code == 409

    page = candidate.client.get(f"/sesi/{cast.session_a}/langsung").get_data(as_text=True)
    assert "data-written" in page and "data-written-panel" not in page and "data-oral-panel" not in page
    _no_key(page)
    done = candidate.post("/written/submit")
    assert done.status_code == 200 and done.get_json()["test"]["status"] == "closed"
    _no_key(done.get_data(as_text=True))
    late = candidate.post("/written/answers", uid=chosen[0], choice=0)
    assert late.status_code == 409 and late.get_json()["error"] == "test_closed"
    assert candidate.post("/written/submit").status_code == 409
    _no_key(candidate.get("/written").get_data(as_text=True))

    # essays: the assessor only, K/BK per question, linked to its KUK; a new score is a new version
    assert candidate.post("/written/essay-scores", uid=chosen[4], verdict="K").status_code == 403
    assert assessor.post("/written/essay-scores", uid=chosen[0], verdict="K").status_code == 422  # not an essay
    assert assessor.post("/written/essay-scores", uid=chosen[4], verdict="BK", note="kurang").status_code == 201
    scored = assessor.post("/written/essay-scores", uid=chosen[4], verdict="K", note="Tepat, dengan alasan.")
    assert scored.status_code == 201 and scored.get_json()["version"] == 2
    final = assessor.get("/written").get_json()["test"]
    assert final["closed_reason"] == "submitted" and final["score"] == {
        "mc_correct": 3, "mc_total": 4, "essays_scored": 1, "essays_total": 1}
    by_uid = {q["uid"]: q for q in final["questions"]}
    assert by_uid[chosen[3]]["correct_answer"] is False and by_uid[chosen[0]]["correct_answer"] is True
    assert by_uid[chosen[0]]["answer"]["option"] == MC[0]["correct"]
    assert by_uid[chosen[4]]["score"]["verdict"] == "K"

    # the evidence per KUK for the unit decision: the written results on their KUK
    units = assessor.get("/units/evidence").get_json()["units"]
    items = [(k["number"], e["source"], e["verdict"]) for u in units for k in u["kuks"] for e in k["evidence"]]
    kuk_of = {q["code"]: q["kuk"] for q in DEMO["questions"]}
    assert (kuk_of["PG-01"], "written", "K") in items and (kuk_of["PG-04"], "written", "BK") in items
    assert (kuk_of["ES-01"], "essay", "K") in items

    # every socket payload the candidate's page received: counts and status only
    received = sock.get_received("/live")
    written = [m for m in received if m["name"] == "written"]
    assert [m["args"][0]["type"] for m in written][:1] == ["opened"] and written[-1]["args"][0]["type"] == "closed"
    _no_key(json.dumps(received))
    sock.disconnect(namespace="/live")


def test_time_up_closes_the_test_and_refuses_later_answers(app, live, cast, monkeypatch):
    assessor, candidate = live
    uids = _uids(assessor)
    assert assessor.post("/written", duration_s=60, questions=[uids["PG-01"], uids["ES-02"]]).status_code == 201
    assert candidate.post("/written/answers", uid=uids["PG-01"], choice=1).status_code == 200
    from remote_tuk.questioning import services

    real = services.live_elapsed
    monkeypatch.setattr(services, "live_elapsed", lambda session, now=None: real(session, now) + 61)
    late = candidate.post("/written/answers", uid=uids["ES-02"], text="terlambat")
    assert late.status_code == 409 and late.get_json()["error"] == "test_closed"
    assert "habis" in late.get_json()["message"]
    test = candidate.get("/written").get_json()["test"]
    assert test["status"] == "closed" and test["closed_reason"] == "time_up" and test["remaining_s"] == 0
    assert test["answered"] == 1
    from remote_tuk.extensions import evidence

    with app.app_context():
        entries = [e for e in evidence.store.list_entries(cast.session_a) if e.get("kind") == "item"]
    types = [e["type"] for e in entries]
    assert types.count("written.answer") == 1 and types.count("written.closed") == 1
    closed = next(e for e in entries if e["type"] == "written.closed")
    assert closed["metadata"] == {"reason": "time_up", "questions": 2}  # the log's plaintext: no score
    answer = next(e for e in entries if e["type"] == "written.answer")
    assert set(answer["metadata"]) == {"uid", "version"}  # nor the answer: it is in the encrypted document


def test_roles_states_and_bad_input(app, live, cast, login_as):
    assessor, candidate = live
    uids = _uids(assessor)
    # only the assigned assessor opens; the other candidate does not even see the session
    assert candidate.post("/written", duration_s=600).status_code == 403
    other = Client(login_as("asesi_b"), cast.session_a)
    assert other.get("/written").status_code == 404 and other.post("/written", duration_s=600).status_code == 404
    auditor = Client(login_as("auditor_a"), cast.session_a)
    assert auditor.post("/written", duration_s=600).status_code == 403
    # a witness's live page follows the test and the oral questions but offers neither form
    page = auditor.client.get(f"/sesi/{cast.session_a}/langsung").get_data(as_text=True)
    assert "data-written-panel" in page and "data-written-open" not in page and "data-oral-form" not in page
    assert candidate.post("/written/answers", uid=uids["PG-01"], choice=0).get_json()["error"] == "no_test"
    for body in (
        {"duration_s": 5},  # too short
        {"duration_s": "600"},
        {"duration_s": 600, "questions": []},
        {"duration_s": 600, "questions": ["PG-01@1; DROP"]},
        {"duration_s": 600, "questions": ["PG-99@1"]},  # not in the bank
        {"duration_s": 600, "questions": [uids["PG-01"], uids["PG-01"]]},
        {"duration_s": 600, "key": "x"},
    ):
        r = assessor.post("/written", body)
        assert r.status_code == 422, (body, r.get_json())
    assert assessor.client.post(assessor.base + "/written", data="[]", content_type="application/json",
                                headers={"X-CSRFToken": assessor.token}).status_code == 422
    assert assessor.post("/written", duration_s=600, questions=[uids["PG-01"], uids["ES-01"]]).status_code == 201
    assert assessor.post("/written", duration_s=600).status_code == 409  # one test per session
    for body in (
        {"uid": uids["PG-01"], "choice": 7},
        {"uid": uids["PG-01"], "choice": 4},  # the question has four options
        {"uid": uids["PG-01"], "choice": True},
        {"uid": uids["PG-01"], "choice": "1"},
        {"uid": uids["PG-01"], "text": "B"},
        {"uid": uids["ES-01"], "choice": 1},
        {"uid": uids["ES-01"], "text": "x" * 10_001},
        {"uid": uids["PG-02"], "choice": 1},  # not in this test
        {"uid": "../etc", "choice": 1},
        {"uid": uids["PG-01"], "choice": 1, "correct": True},
    ):
        r = candidate.post("/written/answers", body)
        assert r.status_code == 422, (body, r.get_json())
    assert assessor.post("/written/answers", uid=uids["PG-01"], choice=1).status_code == 403
    # while the session is paused the test's time stops and answers wait
    assert assessor.post("/transition", to="paused").status_code == 200
    paused = candidate.post("/written/answers", uid=uids["PG-01"], choice=1)
    assert paused.status_code == 409 and paused.get_json()["error"] == "invalid_state"
    left = candidate.get("/written").get_json()["test"]["remaining_s"]
    assert assessor.post("/transition", to="live").status_code == 200
    assert candidate.post("/written/answers", uid=uids["PG-01"], choice=1).status_code == 200
    assert left > 590
    # the session ends: the open test closes with it
    assert assessor.post("/transition", to="ended").status_code == 200
    test = assessor.get("/written").get_json()["test"]
    assert test["status"] == "closed" and test["closed_reason"] == "session_ended"
    assert candidate.post("/written/answers", uid=uids["PG-01"], choice=2).status_code == 409


def test_oral_questions_point_at_the_media_clock(app, live, cast):
    assessor, candidate = live
    body = assessor.get("/oral").get_json()
    assert body["questions"] == [] and len(body["bank"]) == 5 and body["bank"][0]["expected_answer"]
    assert candidate.get("/oral").status_code == 403
    assert candidate.post("/oral", uid=body["bank"][0]["uid"], verdict="K").status_code == 403
    first = assessor.post("/oral", uid=body["bank"][0]["uid"], answer_summary="Menjelaskan dengan contoh.",
                          verdict="K", note="lancar", client_media_s=3.5)
    assert first.status_code == 201, first.get_json()
    q1 = first.get_json()["question"]
    assert q1["number"] == 1 and q1["version"] == 1 and q1["media_s"] > 0 and q1["kuk_id"]
    kuk_id = q1["kuk_id"]
    own = assessor.post("/oral", prompt="Bagaimana Anda menguji fungsi ini?", kuk_id=kuk_id, verdict="BK",
                        answer_summary="Belum dapat menjelaskan.")
    assert own.status_code == 201 and own.get_json()["question"]["number"] == 2
    again = assessor.post("/oral", number=2, verdict="K", answer_summary="Setelah diulang: tepat.")
    assert again.status_code == 201 and again.get_json()["question"]["version"] == 2
    assert again.get_json()["question"]["media_s"] >= own.get_json()["question"]["media_s"]
    for bad in (
        {"verdict": "K"},  # nothing asked
        {"uid": body["bank"][0]["uid"], "prompt": "dua sumber sekaligus", "verdict": "K"},
        {"prompt": "tanpa KUK sama sekali", "verdict": "K"},
        {"prompt": "KUK skema lain", "kuk_id": 999_999, "verdict": "K"},
        {"uid": "PG-01@1", "verdict": "K"},  # a written question is not an oral one
        {"number": 42, "verdict": "K"},
        {"uid": body["bank"][0]["uid"], "verdict": "kompeten"},
        {"uid": body["bank"][0]["uid"], "verdict": "K", "client_media_s": -1},
    ):
        r = assessor.post("/oral", bad)
        assert r.status_code == 422, (bad, r.get_json())
    listed = assessor.get("/oral").get_json()["questions"]
    assert [(q["number"], q["version"], q["verdict"]) for q in listed] == [(1, 1, "K"), (2, 2, "K")]
    units = assessor.get("/units/evidence").get_json()["units"]
    oral = [e for u in units for k in u["kuks"] if k["kuk_id"] == kuk_id for e in k["evidence"]
            if e["source"] == "oral"]
    assert [e["verdict"] for e in oral] == ["K", "K"] and all("media_s" in e["ref"] for e in oral)


def test_one_evidence_view_per_kuk_with_the_portfolio_and_a_verifying_bundle(app, login_as, cast, database):
    """APL.02 portfolio items show against the KUK of their element without deciding anything; observation, written,
    essay and oral results sit beside them; the session's bundle with all of it verifies."""
    from remote_tuk.extensions import db
    from remote_tuk.instruments import services as instruments

    with app.app_context():
        instruments.import_bank(db.session, DEMO_BANK.read_bytes(), DEMO_BANK.name, actor=None)
    apl = Candidate(login_as("asesi_a"), cast.session_a)
    item = apl.upload(image("PNG"), title="Sertifikat pelatihan").get_json()["id"]
    fill(app, apl, [item])
    assert apl.post("/submit", declaration=True).status_code == 201
    satisfy_gate(database[0], cast.session_a)
    assessor, candidate = Client(login_as("asesor_a"), cast.session_a), Client(apl.client, cast.session_a)
    for to in ("checking", "ready", "live"):
        assert assessor.post("/transition", to=to).status_code == 200
    uids = _uids(assessor)
    assert assessor.post("/written", duration_s=300, questions=[uids["PG-01"]]).status_code == 201
    assert candidate.post("/written/answers", uid=uids["PG-01"],
                          choice=_right_position(app, cast.session_a, uids["PG-01"])).status_code == 200
    oral_uid = assessor.get("/oral").get_json()["bank"][0]["uid"]
    assert assessor.post("/oral", uid=oral_uid, verdict="K").status_code == 201
    units = assessor.get("/units/evidence").get_json()["units"]
    kuk = next(k for u in units for k in u["kuks"] if {e["source"] for e in k["evidence"]} == {"portfolio"})
    portfolio = kuk["evidence"][0]
    assert portfolio["verdict"] is None and portfolio["ref"]["title"] == "Sertifikat pelatihan"
    assert portfolio["ref"]["log_index"] is not None and kuk["supports_k"] is False  # a claim is not evidence for K
    assert assessor.post("/marks", kuk_id=kuk["kuk_id"], verdict="K").status_code == 201
    assert assessor.post("/transition", to="ended").status_code == 200  # closes the test: its answer counts now
    units = assessor.get("/units/evidence").get_json()["units"]
    sources = {e["source"] for u in units for k in u["kuks"] for e in k["evidence"]}
    assert sources == {"portfolio", "observation", "written", "oral"}
    assert next(k for u in units for k in u["kuks"] if k["kuk_id"] == kuk["kuk_id"])["supports_k"] is True
    # the live page carries the evidence view for the decision
    page = assessor.client.get(f"/sesi/{cast.session_a}/langsung").get_data(as_text=True)
    assert "data-unit-evidence" in page and "data-written-panel" in page and "data-oral-panel" in page
    for u in units:  # decided: the chain closes, and the bundle is complete
        r = assessor.post("/decisions", unit_id=u["unit_id"], verdict="BK", reason="Bukti belum lengkap.")
        assert r.status_code == 201
    assert assessor.post("/transition", to="decided").status_code == 200
    from evidence_store.verifier import verify_bundle
    from remote_tuk.extensions import evidence

    with app.app_context():
        store = evidence.store
        types = [e.get("type") for e in store.list_entries(cast.session_a) if e.get("kind") == "item"]
        bundle = store.export_bundle(cast.session_a, app.config["RTUK"].var_dir / "written-bundle.zip")
        key = store.describe_parameters()["verifier_key"]
    for t in ("instrument.bank_pinned", "written.opened", "written.answer", "written.closed", "oral.question",
              "apl.portfolio", "assessment.kuk_mark"):
        assert t in types, t
    report = verify_bundle(bundle, key)
    assert report.ok, [str(f) for f in report.failures]
    app.extensions["rtuk_evidence"].close()
