"""Appeal pages and API (issue 15 #3): the candidate's appeal from their dashboard, the LSP's list, assignment and
window, the reviewer's decision."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from remote_tuk.accounts.models import Role
from remote_tuk.appeals import services
from remote_tuk.appeals.models import Appeal
from remote_tuk.appeals.schemas import AssignIn, DecideIn, SubmitIn, WindowIn
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.auth import current, roles_required, signed_in
from remote_tuk.errors import NotFound
from remote_tuk.extensions import db, evidence
from remote_tuk.live.scoring import decisions
from remote_tuk.validation import parse

bp = Blueprint("appeals", __name__)


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _body() -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    form = {k: request.form.get(k) for k in request.form if k != "csrf_token"}
    if "window_days" in form:
        form["window_days"] = form["window_days"] or None
    return form


@bp.app_template_global()
def appeal_status(session: AssessmentSession) -> dict[str, Any]:
    """What the candidate's dashboard shows about a session's result and appeals."""
    if session.state is not SessionState.DECIDED:
        return {"decided": False}
    ends = services.window_ends(db.session, session)
    from remote_tuk.db import utcnow

    appeals = services.for_candidate_session(db.session, session)
    units = {u.id: u for u in session.schedule.scheme.units}
    return {
        "decided": True,
        "units": [{"code": units[uid].code if uid in units else uid, "title": units[uid].title if uid in units else "",
                   "verdict": d.verdict.value, "version": d.version} for uid, d in sorted(decisions(db.session,
                                                                                                 session).items())],
        "appeals": appeals,
        "window_ends": ends,
        "can_appeal": ends is not None and utcnow() <= ends and not any(a.status not in
                                                                          services.CLOSED for a in appeals),
    }


@bp.post("/sesi/<public_id>/banding")
@signed_in
def submit(public_id: str) -> Any:
    appeal = services.submit(db.session, evidence.store, current(), public_id, parse(SubmitIn, _body()))
    if _wants_json():
        return jsonify({"appeal": services.appeal_json(appeal)}), 201
    flash("Banding diajukan. LSP akan menugaskan penelaah.", "success")
    return redirect(url_for("assessment.candidate_dashboard"))


@bp.get("/banding")
@roles_required(Role.LSP_ADMIN, Role.ASSESSOR)
def index() -> Any:
    user = current()
    appeals = services.visible_to(db.session, user)
    if _wants_json():
        return jsonify({"appeals": [services.appeal_json(a) for a in appeals]})
    return render_template("appeals/index.html", appeals=appeals,
                           setting=services.setting(db.session) if user.role is Role.LSP_ADMIN else None,
                           reviewers={a.id: services.reviewers(db.session, a) for a in appeals}
                           if user.role is Role.LSP_ADMIN else {})


@bp.post("/banding/pengaturan")
@roles_required(Role.LSP_ADMIN)
def window() -> Any:
    row = services.save_window(db.session, parse(WindowIn, _body()), actor=current())
    if _wants_json():
        return jsonify({"window_days": row.window_days})
    flash("Batas waktu banding disimpan.", "success")
    return redirect(url_for("appeals.index"))


@bp.post("/banding/<int:appeal_id>/penelaah")
@signed_in
def assign(appeal_id: int) -> Any:
    appeal = services.assign(db.session, evidence.store, current(), appeal_id, parse(AssignIn, _body()))
    if _wants_json():
        return jsonify({"appeal": services.appeal_json(appeal)})
    flash("Penelaah banding ditugaskan.", "success")
    return redirect(url_for("appeals.index"))


@bp.post("/banding/<int:appeal_id>/keputusan")
@signed_in
def decide(appeal_id: int) -> Any:
    body = _body()
    if not request.is_json:  # the form: one verdict field per unit, "" = unchanged
        changes = [{"unit_id": int(k.removeprefix("unit_")), "verdict": v} for k, v in body.items()
                   if k.startswith("unit_") and k.removeprefix("unit_").isdigit() and v]
        body = {"outcome": body.get("outcome"), "reasons": body.get("reasons"), "changes": changes}
    appeal = services.decide(db.session, evidence.store, current(), appeal_id, parse(DecideIn, body))
    if _wants_json():
        return jsonify({"appeal": services.appeal_json(appeal)})
    flash("Keputusan banding dicatat.", "success")
    return redirect(url_for("appeals.index"))


@bp.get("/banding/<int:appeal_id>")
@roles_required(Role.LSP_ADMIN, Role.ASSESSOR)
def detail(appeal_id: int) -> Any:
    user = current()
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or (user.role is Role.ASSESSOR and appeal.reviewer_id != user.id):
        raise NotFound("Banding tidak ditemukan.")
    return render_template("appeals/detail.html", a=appeal, units=appeal.session.schedule.scheme.units,
                           current=decisions(db.session, appeal.session),
                           reviewers=services.reviewers(db.session, appeal))


def _visible(appeal_id: int) -> Appeal:
    """An appeal for the LSP, its reviewer, and whoever may see its session but the candidate (the session's
    assessor, a granted auditor); the same 404 otherwise."""
    from remote_tuk.assessment import services as assessment

    user = current()
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or user.role is Role.CANDIDATE or not (
            appeal.reviewer_id == user.id or assessment.can_view_session(db.session, user, appeal.session)):
        raise NotFound("Banding tidak ditemukan.")
    return appeal


@bp.get("/banding/<int:appeal_id>/bundel.zip")
@signed_in
def bundle(appeal_id: int) -> Any:
    from remote_tuk.review.routes import bundle_response

    appeal = _visible(appeal_id)
    return bundle_response(appeal.evidence_chain, f"bukti-{appeal.evidence_chain}.zip", current(), appeal=appeal.id)


@bp.app_template_global()
def session_appeals(session: AssessmentSession) -> list[Appeal]:
    """The appeals against a session (the evidence page lists them with their bundles)."""
    return services.for_candidate_session(db.session, session)
