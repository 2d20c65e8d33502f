"""Dashboards for assessors, candidates and auditors; the session page; the session API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services
from remote_tuk.assessment.events import broadcast_transition
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.assessment.schemas import TransitionIn
from remote_tuk.auth import current, roles_required, signed_in
from remote_tuk.errors import ValidationFailed
from remote_tuk.extensions import db
from remote_tuk.validation import parse

bp = Blueprint("assessment", __name__)


@bp.get("/asesor/")
@roles_required(Role.ASSESSOR)
def assessor_dashboard() -> Any:
    from remote_tuk.review.process import assigned_to  # the review of the process builds on the schedules

    return render_template(
        "assessment/assessor_dashboard.html", schedules=services.schedules_for(db.session, current()),
        process_reviews=assigned_to(db.session, current()),
    )


@bp.get("/asesi/")
@roles_required(Role.CANDIDATE)
def candidate_dashboard() -> Any:
    return render_template(
        "assessment/candidate_dashboard.html", sessions=services.sessions_of_candidate(db.session, current())
    )


@bp.get("/auditor/")
@roles_required(Role.AUDITOR)
def auditor_dashboard() -> Any:
    return render_template("assessment/auditor_dashboard.html", schedules=services.schedules_for(db.session, current()))


@bp.get("/jadwal/<int:schedule_id>")
@roles_required(Role.ASSESSOR, Role.AUDITOR, Role.LSP_ADMIN)
def schedule_view(schedule_id: int) -> Any:
    schedule = services.get_schedule_for(db.session, current(), schedule_id)
    return render_template("assessment/schedule.html", schedule=schedule)


@bp.get("/sesi/<public_id>")
@signed_in
def session_detail(public_id: str) -> Any:
    session = services.get_session_for(db.session, current(), public_id)
    return render_template(
        "assessment/session.html",
        s=session,
        next_states=services.allowed_next(session.state, current().role) if _may_control(session) else [],
    )


def _may_control(session: AssessmentSession) -> bool:
    user = current()
    if user.role is Role.ASSESSOR:
        return session.schedule.assessor_id == user.id
    # The candidate moves the session only through the TUK check page.
    return user.role is Role.LSP_ADMIN


@bp.post("/sesi/<public_id>/status")
@signed_in
def session_transition_form(public_id: str) -> Any:
    session = services.get_session_for(db.session, current(), public_id)
    data = parse(TransitionIn, {"to": request.form.get("to"), "reason": request.form.get("reason") or None})
    services.transition(db.session, session, data.to, actor=current(), reason=data.reason, emit=broadcast_transition)
    flash(f"Status sesi: {session.state_label}.", "success")
    return redirect(url_for("assessment.session_detail", public_id=public_id))


# --- JSON API -----------------------------------------------------------------------------------------------------


def session_json(session: AssessmentSession) -> dict[str, Any]:
    return {
        "id": session.public_id,
        "state": session.state.value,
        "state_label": session.state_label,
        "state_changed_at": session.state_changed_at.isoformat(),
        "schedule": {
            "id": session.schedule.id,
            "title": session.schedule.title,
            "starts_at": session.schedule.starts_at.isoformat(),
            "ends_at": session.schedule.ends_at.isoformat(),
            "scheme": session.schedule.scheme.code,
        },
        "candidate": {"id": session.candidate.id, "name": session.candidate.full_name},
        "assessor": (
            {"id": session.schedule.assessor.id, "name": session.schedule.assessor.full_name}
            if session.schedule.assessor
            else None
        ),
    }


@bp.get("/api/v1/sessions/<public_id>")
@signed_in
def api_session(public_id: str) -> Any:
    return jsonify(session_json(services.get_session_for(db.session, current(), public_id)))


@bp.post("/api/v1/sessions/<public_id>/transition")
@signed_in
def api_transition(public_id: str) -> Any:
    session = services.get_session_for(db.session, current(), public_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Badan permintaan harus berupa objek JSON.")
    data = parse(TransitionIn, body)
    services.transition(db.session, session, data.to, actor=current(), reason=data.reason, emit=broadcast_transition)
    return jsonify(session_json(session))
