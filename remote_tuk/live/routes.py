"""The live page and the live session's HTTP API (recording chunks, KUK marks, unit decisions)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import SessionState
from remote_tuk.auth import current, signed_in
from remote_tuk.errors import Forbidden, ValidationFailed
from remote_tuk.extensions import db, evidence
from remote_tuk.live import services
from remote_tuk.live.models import Verdict
from remote_tuk.live.schemas import DecisionIn, MarkIn
from remote_tuk.turn.services import ice_servers_for
from remote_tuk.validation import parse

bp = Blueprint("live", __name__)
S = SessionState


def _kuk_tree(session: Any) -> list[dict[str, Any]]:
    return [
        {
            "unit_id": u.id,
            "code": u.code,
            "title": u.title,
            "elements": [
                {
                    "number": e.number,
                    "title": e.title,
                    "kuk": [{"id": k.id, "number": k.number, "text": k.text} for k in e.kuks],
                }
                for e in u.elements
            ],
        }
        for u in session.schedule.scheme.units
    ]


@bp.get("/sesi/<public_id>/langsung")
@signed_in
def page(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    part = services.participant(user, session)
    settings = current_app.config["RTUK"]
    data = {
        "session": session.public_id,
        "role": part.role,
        "can_talk": part.can_talk,
        "can_control": part.can_control,
        "state": session.state.value,
        "ice_servers": ice_servers_for(settings, user, session),
        "ice_gathering_timeout_ms": int(settings.rtc.ice_gathering_timeout_s * 1000),
        "csrf": generate_csrf(),
        "chunk_ms": settings.rtc.chunk_ms,
        "max_chunk_bytes": settings.rtc.max_chunk_bytes,
        "candidate_name": session.candidate.full_name,
        "assessor_name": session.schedule.assessor.full_name if session.schedule.assessor else "",
        "scheme": session.schedule.scheme.title,
        "kuk_tree": [] if part.role == "candidate" else _kuk_tree(session),
        "urls": {
            "chunks": url_for("live.upload_chunk", public_id=public_id),
            "marks": url_for("live.marks", public_id=public_id),
            "decisions": url_for("live.add_decision", public_id=public_id),
            "recording": url_for("live.recording", public_id=public_id),
            "session": url_for("assessment.session_detail", public_id=public_id),
        },
    }
    template = "live/candidate.html" if part.role == "candidate" else "live/assessor.html"
    return render_template(template, s=session, page_data=data)


@bp.post("/api/v1/sessions/<public_id>/recording/chunks")
@signed_in
def upload_chunk(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    settings = current_app.config["RTUK"]
    result = services.accept_chunk(
        db.session,
        evidence.store,
        session,
        user,
        seq=request.headers.get("X-Chunk-Seq"),
        sha256=request.headers.get("X-Chunk-SHA256"),
        start_ms=request.headers.get("X-Chunk-Start"),
        body=request.get_data(cache=False),
        max_bytes=settings.rtc.max_chunk_bytes,
    )
    if result.duplicate:
        return jsonify({"seq": result.seq, "duplicate": True, "log_index": result.log_index}), 200
    return jsonify({"seq": result.seq, "log_index": result.log_index, "gap_from": result.gap_from}), 201


@bp.get("/api/v1/sessions/<public_id>/recording")
@signed_in
def recording(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if user.role is Role.CANDIDATE:
        raise Forbidden("Status rekaman hanya untuk asesor, peninjau dan admin.")
    return jsonify(services.recording_status(db.session, session))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Badan permintaan harus berupa objek JSON.")
    return body


@bp.route("/api/v1/sessions/<public_id>/marks", methods=["GET", "POST"])
@signed_in
def marks(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if user.role is Role.CANDIDATE:
        raise Forbidden("Penilaian KUK tidak ditampilkan kepada asesi.")
    if request.method == "POST":
        data = parse(MarkIn, _json_body())
        mark = services.add_mark(
            db.session,
            evidence.store,
            session,
            user,
            kuk_id=data.kuk_id,
            verdict=Verdict(data.verdict),
            note=data.note,
            client_media_s=data.client_media_s,
        )
        return jsonify({"mark": services.mark_json(mark)}), 201
    current_marks, history = services.marks(db.session, session)
    return jsonify(
        {"marks": [services.mark_json(m) for m in current_marks], "history": [services.mark_json(m) for m in history]}
    )


@bp.route("/api/v1/sessions/<public_id>/decisions", methods=["GET", "POST"])
@signed_in
def add_decision(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if user.role is Role.CANDIDATE and session.state is not S.DECIDED:
        raise Forbidden("Keputusan diberitahukan setelah sesi diputuskan.")
    if request.method == "POST":
        data = parse(DecisionIn, _json_body())
        decision = services.add_decision(
            db.session,
            evidence.store,
            session,
            user,
            unit_id=data.unit_id,
            verdict=Verdict(data.verdict),
            reason=data.reason,
        )
        return jsonify(
            {
                "decision": {
                    "unit_id": decision.unit_id,
                    "version": decision.version,
                    "verdict": decision.verdict.value,
                    "reason": decision.reason,
                    "at": decision.at.isoformat(),
                }
            }
        ), 201
    return jsonify(
        {
            "decisions": [
                {
                    "unit_id": d.unit_id,
                    "version": d.version,
                    "verdict": d.verdict.value,
                    "reason": d.reason,
                    "at": d.at.isoformat(),
                }
                for d in services.decisions(db.session, session).values()
            ]
        }
    )
