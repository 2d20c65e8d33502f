"""Admin pages for e-mailed invitations: a schedule's outbox (per candidate), sending or re-sending the invitation
(a fresh link, the old one revoked), moving the schedule (a change mail to each candidate), retrying a failed mail."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import Schedule
from remote_tuk.auth import current, roles_required
from remote_tuk.errors import DomainError, NotFound
from remote_tuk.extensions import db
from remote_tuk.invitations import services
from remote_tuk.invitations.models import MailStatus, OutboxMail
from remote_tuk.invitations.schemas import RescheduleIn
from remote_tuk.validation import parse, parse_id
from remote_tuk.views import current_zone

bp = Blueprint("invitations", __name__, url_prefix="/admin")
admin_only = roles_required(Role.LSP_ADMIN)


def _render(
    schedule: Schedule,
    *,
    errors: dict[str, Any] | None = None,
    form: Any = None,
    invitation: services.Invitation | None = None,
    status: int = 200,
) -> Any:
    settings = current_app.config["RTUK"]
    candidate = request.args.get("asesi")
    candidate_id = parse_id(candidate, "asesi") if candidate else None
    mails = services.outbox_of_schedule(db.session, schedule.id)
    latest: dict[int, OutboxMail] = {}
    for mail in mails:  # newest first
        latest.setdefault(mail.session_id, mail)
    if candidate_id is not None:
        mails = [m for m in mails if m.candidate_id == candidate_id]
    join_url = (
        url_for("accounts.join", token=invitation.token, _external=True) if invitation is not None else None
    )
    return render_template(
        "invitations/outbox.html",
        schedule=schedule,
        mails=mails,
        latest=latest,
        candidate_id=candidate_id,
        mail_enabled=settings.mail.enabled,
        errors=errors or {},
        form=form,
        invitation=invitation,
        join_url=join_url,
        failed=MailStatus.FAILED,
    ), status


@bp.get("/jadwal/<int:schedule_id>/surel")
@admin_only
def outbox(schedule_id: int) -> Any:
    return _render(assessment.get_schedule_for(db.session, current(), schedule_id))


@bp.post("/sesi/<public_id>/undangan")
@admin_only
def invite(public_id: str) -> Any:
    """Send (or send again) the invitation: a fresh one-time link, every earlier unused one revoked, the mail queued.
    The page shows the link once, for copying into WhatsApp as well."""
    session = assessment.get_session_for(db.session, current(), public_id)
    schedule = session.schedule
    try:
        invitation = services.invite(
            db.session, session, actor=current(), settings=current_app.config["RTUK"], request_root=request.host_url
        )
    except DomainError as err:
        db.session.rollback()
        errors = dict(err.details) if isinstance(err.details, dict) else {}
        errors["_"] = err.message
        return _render(schedule, errors=errors, status=err.status)
    return _render(schedule, invitation=invitation)


@bp.post("/jadwal/<int:schedule_id>/waktu")
@admin_only
def reschedule(schedule_id: int) -> Any:
    schedule = assessment.get_schedule_for(db.session, current(), schedule_id)
    try:
        data = parse(RescheduleIn, request.form, context={"tz": current_zone().tz})
        result = services.reschedule(
            db.session, schedule, data, actor=current(), settings=current_app.config["RTUK"],
            request_root=request.host_url,
        )
    except DomainError as err:
        db.session.rollback()
        errors = dict(err.details) if isinstance(err.details, dict) else {}
        errors["_"] = err.message
        return _render(schedule, errors=errors, form=request.form, status=err.status)
    flash(f"Jadwal diubah; {result.queued} surel perubahan jadwal dalam antrean.", "success")
    if result.without_address:
        flash("Tanpa alamat surel (beri tahu lewat saluran lain): " + ", ".join(result.without_address), "warning")
    return redirect(url_for("invitations.outbox", schedule_id=schedule.id))


@bp.post("/surel/<int:mail_id>/coba-lagi")
@admin_only
def retry(mail_id: int) -> Any:
    mail = db.session.get(OutboxMail, mail_id)
    if mail is None:
        raise NotFound("Surel tidak ditemukan.")
    schedule = assessment.get_schedule_for(db.session, current(), mail.schedule_id)
    try:
        services.retry_now(db.session, mail)
    except DomainError as err:
        db.session.rollback()
        return _render(schedule, errors={"_": err.message}, status=err.status)
    flash("Surel akan dicoba kirim lagi pada putaran pengirim berikutnya.", "success")
    return redirect(url_for("invitations.outbox", schedule_id=schedule.id))
