"""The live page and the live session's HTTP API (recording chunks, KUK marks, unit decisions)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, make_response, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import evidence as unit_evidence
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import SessionState
from remote_tuk.auth import current, signed_in
from remote_tuk.db import utcnow
from remote_tuk.errors import Forbidden, ValidationFailed
from remote_tuk.extensions import db, evidence
from remote_tuk.live import hooks, joins, scoring, services
from remote_tuk.live import recording as recordings
from remote_tuk.live.models import Verdict
from remote_tuk.live.schemas import ChunkHeadersIn, DecisionIn, MarkIn
from remote_tuk.sources.pages import sources_page_data
from remote_tuk.tuk import services as tuk
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
    profile = tuk.profile_for(db.session, session)
    fullscreen = next((r for r in profile.requirements if r.key == "fullscreen"), None)
    # the classroom's focus panel (remote_tuk.classroom): this page without its own media, framed by the classroom
    panel = request.args.get("panel") == "1" and part.role != "candidate"
    data = {
        "session": session.public_id,
        "panel": panel,
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
        # the candidate's page asks for fullscreen when the LSP's profile requires it (as the check did)
        "fullscreen": None if fullscreen is None else ("mandatory" if fullscreen.mandatory else "advisory"),
        "urls": {
            "chunks": url_for("live.upload_chunk", public_id=public_id),
            "marks": url_for("live.marks", public_id=public_id),
            "decisions": url_for("live.add_decision", public_id=public_id),
            "unit_evidence": url_for("live.unit_evidence_status", public_id=public_id),
            "evidence": None if part.role == "candidate" else url_for("records.evidence_page", public_id=public_id),
            "review": None if part.role == "candidate" else url_for("review.room", public_id=public_id),
            "recording": url_for("live.recording", public_id=public_id),
            "session": url_for("assessment.session_detail", public_id=public_id),
            "transition": url_for("assessment.api_transition", public_id=public_id),
            "gate": url_for("tuk.status", public_id=public_id),
            "check": url_for("tuk.page", public_id=public_id),
        },
    }
    data["sources"] = sources_page_data(public_id, part.role, profile)
    template = "live/candidate.html" if part.role == "candidate" else "live/assessor.html"
    response = make_response(render_template(template, s=session, page_data=data))
    if panel:  # framed by the classroom page of this site only
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = FRAMED_CSP
    return response


#: The site's policy (remote_tuk.create_app) with ``frame-ancestors 'self'`` instead of ``'none'``.
FRAMED_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)


@bp.post("/api/v1/sessions/<public_id>/recording/chunks")
@signed_in
def upload_chunk(public_id: str) -> Any:
    arrived = utcnow()  # before the body is read: with X-Chunk-Start it tells where the recording is on the clock
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    settings = current_app.config["RTUK"]
    headers = parse(ChunkHeadersIn, {k: request.headers.get(k) for k in ("X-Chunk-Seq", "X-Chunk-SHA256",
                                                                          "X-Chunk-Start")})
    result = recordings.accept_chunk(
        db.session,
        evidence.store,
        session,
        user,
        headers=headers,
        body=request.get_data(cache=False),
        max_bytes=settings.rtc.max_chunk_bytes,
        chunk_ms=settings.rtc.chunk_ms,
        arrived=arrived,
    )
    if result.duplicate:
        return jsonify({"seq": result.seq, "duplicate": True, "log_index": result.log_index}), 200
    if session.state is S.ENDED:
        hooks.join_when_quiet(session.id)  # a chunk after the end: the joined recording gets a new version
    return jsonify({"seq": result.seq, "log_index": result.log_index, "gap_from": result.gap_from}), 201


@bp.get("/api/v1/sessions/<public_id>/recording")
@signed_in
def recording(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if user.role is Role.CANDIDATE:
        raise Forbidden("Status rekaman hanya untuk asesor, peninjau dan admin.")
    return jsonify(joins.recording_status(db.session, session))


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
        mark = scoring.add_mark(
            db.session,
            evidence.store,
            session,
            user,
            kuk_id=data.kuk_id,
            verdict=Verdict(data.verdict),
            note=data.note,
            client_media_s=data.client_media_s,
        )
        return jsonify({"mark": scoring.mark_json(mark)}), 201
    current_marks, history = scoring.marks(db.session, session)
    return jsonify(
        {"marks": [scoring.mark_json(m) for m in current_marks], "history": [scoring.mark_json(m) for m in history]}
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
        decision = scoring.add_decision(
            db.session,
            evidence.store,
            session,
            user,
            unit_id=data.unit_id,
            verdict=Verdict(data.verdict),
            reason=data.reason,
        )
        return jsonify({"decision": scoring.decision_json(decision)}), 201
    return jsonify({"decisions": [scoring.decision_json(d) for d in scoring.decisions(db.session, session).values()]})


@bp.get("/api/v1/sessions/<public_id>/units/evidence")
@signed_in
def unit_evidence_status(public_id: str) -> Any:
    """What the evidence says per unit and KUK, and whether K may be chosen (assessor, witnesses, admins)."""
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if user.role is Role.CANDIDATE:
        raise Forbidden("Penilaian KUK tidak ditampilkan kepada asesi.")
    current_decisions = scoring.decisions(db.session, session)
    units = []
    for u in unit_evidence.evidence_by_unit(db.session, session):
        entry = u.as_dict()
        d = current_decisions.get(u.unit_id)
        entry["decision"] = scoring.decision_json(d) if d is not None else None
        units.append(entry)
    return jsonify({"units": units})
