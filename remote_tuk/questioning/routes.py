"""The written test and the oral questions of a live session over HTTP; the pages follow them through the ``written``
event of Socket.IO ``/live`` (counts and status only, see ``services.notice``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, SessionTransition
from remote_tuk.auth import current, signed_in
from remote_tuk.errors import Forbidden, ValidationFailed
from remote_tuk.extensions import db, evidence, socketio
from remote_tuk.live.media import NAMESPACE, room_of
from remote_tuk.live.models import Verdict
from remote_tuk.live.services import EvidenceClosed, participant
from remote_tuk.questioning import oral
from remote_tuk.questioning import services as written
from remote_tuk.questioning.schemas import AnswerIn, EssayScoreIn, OpenTestIn, OralIn
from remote_tuk.validation import parse

bp = Blueprint("questioning", __name__)


def notify(session: AssessmentSession, payload: dict[str, Any]) -> None:
    socketio.emit("written", payload, to=room_of(session.public_id), namespace=NAMESPACE)


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Badan permintaan harus berupa objek JSON.")
    return body


def _view(session: AssessmentSession, role: str) -> dict[str, Any]:
    test = written.test_of(db.session, session)
    if test is not None:
        try:
            written.refresh(db.session, evidence.store, session, test, notify=notify)
        except EvidenceClosed:  # closed without its closing entry (the chain closed first): reading still works
            db.session.rollback()
            db.session.refresh(test)
    if role == "candidate":
        return {"test": None if test is None else written.candidate_view(db.session, session, test)}
    return {
        "test": None if test is None else written.assessor_view(db.session, session, test),
        "choosable": written.choosable(db.session, session) if test is None else [],
    }


@bp.route("/api/v1/sessions/<public_id>/written", methods=["GET", "POST"])
@signed_in
def test(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    role = participant(user, session).role
    if request.method == "POST":
        data = parse(OpenTestIn, _json_body())
        t = written.open_test(db.session, evidence.store, session, user, duration_s=data.duration_s,
                              uids=data.questions)
        notify(session, written.notice(session, t, "opened", answered=0))
        return jsonify(_view(session, role)), 201
    return jsonify(_view(session, role))


@bp.post("/api/v1/sessions/<public_id>/written/answers")
@signed_in
def answer(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    data = parse(AnswerIn, _json_body())
    saved = written.save_answer(db.session, evidence.store, session, user, uid=data.uid, choice=data.choice,
                                text=data.text, notify=notify)
    test = written.require_test(db.session, session)
    return jsonify({"uid": saved.uid, "version": saved.version, "at": saved.at.isoformat(),
                    "remaining_s": round(written.remaining_s(test, session), 1)})


@bp.post("/api/v1/sessions/<public_id>/written/submit")
@signed_in
def submit(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    written.submit(db.session, evidence.store, session, user, notify=notify)
    return jsonify(_view(session, "candidate"))


@bp.post("/api/v1/sessions/<public_id>/written/close")
@signed_in
def close(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    written.close_by_assessor(db.session, evidence.store, session, user, notify=notify)
    return jsonify(_view(session, "assessor"))


@bp.post("/api/v1/sessions/<public_id>/written/essay-scores")
@signed_in
def essay_score(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    data = parse(EssayScoreIn, _json_body())
    row = written.score_essay(db.session, evidence.store, session, user, uid=data.uid, verdict=Verdict(data.verdict),
                              note=data.note)
    return jsonify({"uid": row.uid, "verdict": row.verdict.value, "version": row.version,
                    "log_index": row.log_index}), 201


@bp.route("/api/v1/sessions/<public_id>/oral", methods=["GET", "POST"])
@signed_in
def oral_questions(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if user.role is Role.CANDIDATE:
        raise Forbidden("Catatan pertanyaan lisan tidak ditampilkan kepada asesi.")
    if request.method == "POST":
        data = parse(OralIn, _json_body())
        row = oral.record(
            db.session, evidence.store, session, user, uid=data.uid, prompt=data.prompt, kuk_id=data.kuk_id,
            number=data.number, answer_summary=data.answer_summary, verdict=Verdict(data.verdict), note=data.note,
            client_media_s=data.client_media_s,
        )
        return jsonify({"question": oral.oral_json(row)}), 201
    return jsonify({
        "questions": [oral.oral_json(q) for q in oral.current(db.session, session)],
        "bank": oral.bank_questions(db.session, session),
    })


def after_transition(session: AssessmentSession, record: SessionTransition) -> None:
    """The session left live/paused (ended, cancelled): an open written test closes with it."""
    test = written.test_of(db.session, session)
    if test is None or test.status != "open" or record.to_state in written.RUNNING_STATES:
        return
    try:
        written.refresh(db.session, evidence.store, session, test, notify=notify)
    except EvidenceClosed:
        db.session.rollback()
