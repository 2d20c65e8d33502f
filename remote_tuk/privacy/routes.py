"""The LSP admin's privacy pages: retention, privacy requests, erasure, and who read which evidence."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from remote_tuk.accounts.models import Role, User
from remote_tuk.auth import current, roles_required
from remote_tuk.db import utcnow
from remote_tuk.errors import DomainError
from remote_tuk.extensions import db, evidence
from remote_tuk.privacy import services
from remote_tuk.privacy.schemas import EraseIn, HandleRequestIn, ReadLogQuery, RetentionIn
from remote_tuk.validation import form_errors_of, parse, parse_form

bp = Blueprint("privacy", __name__, url_prefix="/admin/privasi")
admin_only = roles_required(Role.LSP_ADMIN)


def _days() -> int:
    return services.retention_days(db.session, current_app.config["RTUK"].evidence.retention_days)


@bp.app_template_global("privacy_notice")
def privacy_notice() -> dict[str, int]:
    """Open privacy requests, overdue ones and candidates due for erasure (the admin's home page)."""
    return services.notice(db.session, _days())


def _users() -> dict[int, User]:
    return {u.id: u for u in db.session.scalars(select(User))}


@bp.get("/")
@admin_only
def index() -> Any:
    days = _days()
    everyone = services.candidates(db.session, days)
    return render_template(
        "privacy/index.html",
        days=days,
        default_days=current_app.config["RTUK"].evidence.retention_days,
        requests=services.requests(db.session),
        due=[r for r in everyone if r.due],
        candidates=everyone,
        erasures=services.erasures(db.session),
        users=_users(),
        now=utcnow(),
        errors={},
    )


@bp.post("/retensi")
@admin_only
def retention() -> Any:
    data = parse_form(RetentionIn, request.form)
    services.set_retention_days(db.session, data.retention_days, actor=current())
    flash(f"Masa retensi: {data.retention_days} hari.", "success")
    return redirect(url_for("privacy.index")), 303


@bp.post("/permintaan/<int:request_id>/tangani")
@admin_only
def handle(request_id: int) -> Any:
    data = parse_form(HandleRequestIn, request.form)
    services.handle_request(db.session, request_id, note=data.note, actor=current())
    flash("Permintaan ditandai sudah ditangani.", "success")
    return redirect(url_for("privacy.index")), 303


@bp.get("/asesi/<int:candidate_id>")
@admin_only
def candidate(candidate_id: int) -> Any:
    return _candidate_page(candidate_id, form=None, errors={}, status=200)


def _candidate_page(candidate_id: int, *, form: Any, errors: dict[str, Any], status: int) -> Any:
    user = services.get_candidate(db.session, candidate_id)
    return render_template(
        "privacy/candidate.html",
        r=services.retention_of(db.session, user, _days()),
        days=_days(),
        users=_users(),
        now=utcnow(),
        form=form,
        errors=errors,
        legal_min=services.LEGAL_REASON_MIN,
    ), status


@bp.post("/asesi/<int:candidate_id>/hapus")
@admin_only
def erase(candidate_id: int) -> Any:
    user = services.get_candidate(db.session, candidate_id)
    try:
        data = parse_form(EraseIn, request.form)
        services.erase_candidate(
            db.session,
            evidence.store,
            current_app.extensions["rtuk_privacy_keys"],
            user,
            actor=current(),
            confirm=data.confirm,
            legal_reason=data.legal_reason,
            days=_days(),
        )
    except DomainError as err:
        db.session.rollback()
        errors = form_errors_of(err)
        return _candidate_page(candidate_id, form=request.form, errors=errors, status=err.status)
    flash("Data asesi dihapus: kunci bukti dan kunci basis data dimusnahkan.", "success")
    return redirect(url_for("privacy.candidate", candidate_id=candidate_id)), 303


@bp.get("/log-baca")
@admin_only
def read_log() -> Any:
    query = parse(ReadLogQuery, {k: v for k, v in request.args.items() if v})
    reads = services.read_log(db.session, evidence.store, candidate_id=query.asesi, session=query.sesi)
    return render_template(
        "privacy/read_log.html",
        reads=reads,
        query=query,
        users=_users(),
        candidates=[u for u in _users().values() if u.role is Role.CANDIDATE],
    )
