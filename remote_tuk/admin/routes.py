"""LSP admin pages: LSP profile, schemes (import/export), users, schedules with assignment, audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from remote_tuk.accounts import join_links
from remote_tuk.accounts import services as accounts
from remote_tuk.accounts.models import ROLE_LABELS, Role, User
from remote_tuk.accounts.schemas import UserIn
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, Schedule, SessionState
from remote_tuk.assessment.schemas import ScheduleIn
from remote_tuk.audit import services as audit
from remote_tuk.audit.models import AuditEvent
from remote_tuk.auth import current, roles_required
from remote_tuk.errors import DomainError, NotFound, ValidationFailed
from remote_tuk.extensions import db
from remote_tuk.lsp import services as lsp_services
from remote_tuk.lsp import standards
from remote_tuk.lsp.models import LSP_TYPE_LABELS, Scheme
from remote_tuk.lsp.schemas import LspProfileIn
from remote_tuk.validation import parse, parse_id, parse_int
from remote_tuk.views import current_zone

bp = Blueprint("admin", __name__, url_prefix="/admin")
#: Pages of 50 events: 50 million events is more than any LSP logs; a larger page number is refused, not run.
MAX_AUDIT_PAGE = 1_000_000
admin_only = roles_required(Role.LSP_ADMIN)


@bp.get("/")
@admin_only
def index() -> Any:
    counts = {
        "schemes": db.session.scalar(select(func.count()).select_from(Scheme)),
        "users": db.session.scalar(select(func.count()).select_from(User)),
        "schedules": db.session.scalar(select(func.count()).select_from(Schedule)),
        "live": db.session.scalar(
            select(func.count())
            .select_from(AssessmentSession)
            .where(AssessmentSession.state.in_([SessionState.LIVE, SessionState.PAUSED]))
        ),
    }
    return render_template("admin/index.html", lsp=lsp_services.get_lsp(db.session), counts=counts)


# --- LSP profile --------------------------------------------------------------------------------------------------


@bp.route("/lsp", methods=["GET", "POST"])
@admin_only
def lsp_profile() -> Any:
    lsp = lsp_services.get_lsp(db.session)
    if request.method == "POST":
        try:
            data = parse(LspProfileIn, request.form)
            lsp_services.update_lsp(db.session, data, actor_id=current().id)
        except ValidationFailed as err:
            return render_template(
                "admin/lsp.html", lsp=lsp, form=request.form, errors=err.details, types=LSP_TYPE_LABELS
            ), 422
        flash("Profil LSP disimpan.", "success")
        return redirect(url_for("admin.lsp_profile"))
    return render_template("admin/lsp.html", lsp=lsp, form=None, errors={}, types=LSP_TYPE_LABELS)


# --- schemes ------------------------------------------------------------------------------------------------------


@bp.get("/skema")
@admin_only
def schemes() -> Any:
    return render_template("admin/schemes.html", schemes=lsp_services.list_schemes(db.session))


@bp.post("/skema/impor")
@admin_only
def import_scheme() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template(
            "admin/schemes.html",
            schemes=lsp_services.list_schemes(db.session),
            import_error="Pilih berkas .json atau .csv.",
        ), 422
    try:
        scheme = lsp_services.import_scheme(db.session, upload.read(), upload.filename, actor_id=current().id)
    except DomainError as err:
        db.session.rollback()
        return render_template(
            "admin/schemes.html",
            schemes=lsp_services.list_schemes(db.session),
            import_error=err.message,
            import_details=err.details if isinstance(err.details, list) else [],
        ), err.status
    flash(f"Skema {scheme.code} diimpor: {len(scheme.units)} unit, {scheme.kuk_count} KUK.", "success")
    return redirect(url_for("admin.scheme_detail", scheme_id=scheme.id))


@bp.get("/skema/<int:scheme_id>")
@admin_only
def scheme_detail(scheme_id: int) -> Any:
    return render_template("admin/scheme.html", scheme=lsp_services.get_scheme(db.session, scheme_id))


@bp.get("/skema/<int:scheme_id>/ekspor.<fmt>")
@admin_only
def export_scheme(scheme_id: int, fmt: str) -> Any:
    scheme = lsp_services.get_scheme(db.session, scheme_id)
    if fmt == "json":
        body, mime = standards.to_json(scheme), "application/json"
    elif fmt == "csv":
        body, mime = standards.to_csv(scheme), "text/csv"
    else:
        raise NotFound("Format ekspor tidak dikenal.")
    filename = f"{scheme.code}.{fmt}".replace("/", "_")
    return Response(
        body.encode("utf-8"),
        mimetype=mime,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- users --------------------------------------------------------------------------------------------------------


@bp.route("/pengguna", methods=["GET", "POST"])
@admin_only
def users() -> Any:
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            data = parse(UserIn, request.form)
            accounts.create_user(
                db.session,
                username=data.username,
                full_name=data.full_name,
                role=Role(data.role),
                password=data.password,
                email=data.email,
                phone=data.phone,
                met_number=data.met_number,
                nik=data.nik,
                created_by=current(),
            )
            db.session.commit()
            flash(f"Pengguna {data.username} dibuat.", "success")
            return redirect(url_for("admin.users"))
        except DomainError as err:
            db.session.rollback()
            errors = err.details if isinstance(err.details, dict) else {"_": err.message}
            errors.setdefault("_", err.message)
            status = err.status
    role = request.args.get("peran")
    stmt = select(User).order_by(User.role, User.username)
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role == Role(role))
    return render_template(
        "admin/users.html",
        users=list(db.session.scalars(stmt)),
        roles=ROLE_LABELS,
        errors=errors,
        form=request.form if errors else None,
        filter_role=role,
    ), status


@bp.post("/pengguna/<int:user_id>/status")
@admin_only
def user_status(user_id: int) -> Any:
    user = accounts.get_user(db.session, user_id)
    accounts.set_active(db.session, user, request.form.get("active") == "1", actor=current())
    flash(f"Status {user.username} diperbarui.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/pengguna/<int:user_id>/peran")
@admin_only
def user_role(user_id: int) -> Any:
    user = accounts.get_user(db.session, user_id)
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        raise ValidationFailed("Peran tidak dikenal.", details={"role": "pilihan tidak valid"}) from None
    accounts.change_role(db.session, user, role, actor=current())
    flash(f"Peran {user.username} diperbarui.", "success")
    return redirect(url_for("admin.users"))


# --- schedules ----------------------------------------------------------------------------------------------------


def _people(role: Role) -> list[User]:
    return list(
        db.session.scalars(select(User).where(User.role == role, User.active.is_(True)).order_by(User.full_name))
    )


@bp.route("/jadwal", methods=["GET", "POST"])
@admin_only
def schedules() -> Any:
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            data = parse(ScheduleIn, request.form, context={"tz": current_zone().tz})
            schedule = assessment.create_schedule(db.session, data, actor=current())
            flash("Jadwal dibuat.", "success")
            return redirect(url_for("admin.schedule_detail", schedule_id=schedule.id))
        except DomainError as err:
            db.session.rollback()
            errors = dict(err.details) if isinstance(err.details, dict) else {}
            errors.setdefault("_", err.message)
            status = err.status
    return render_template(
        "admin/schedules.html",
        schedules=assessment.schedules_for(db.session, current()),
        schemes=lsp_services.list_schemes(db.session),
        assessors=_people(Role.ASSESSOR),
        errors=errors,
        form=request.form if errors else None,
    ), status


@bp.get("/jadwal/<int:schedule_id>")
@admin_only
def schedule_detail(schedule_id: int) -> Any:
    schedule = assessment.get_schedule_for(db.session, current(), schedule_id)
    return _render_schedule(schedule)


def _render_schedule(
    schedule: Schedule,
    *,
    errors: dict[str, Any] | None = None,
    join_link: dict[str, Any] | None = None,
    status: int = 200,
) -> Any:
    enrolled = {s.candidate_id for s in schedule.sessions}
    granted = {g.auditor_id for g in schedule.grants}
    return render_template(
        "admin/schedule.html",
        schedule=schedule,
        assessors=_people(Role.ASSESSOR),
        candidates=[u for u in _people(Role.CANDIDATE) if u.id not in enrolled],
        auditors=[u for u in _people(Role.AUDITOR) if u.id not in granted],
        errors=errors or {},
        join_link=join_link,
    ), status


def _schedule_action(schedule_id: int, action: Any, success: str) -> Any:
    schedule = assessment.get_schedule_for(db.session, current(), schedule_id)
    try:
        action(schedule)
    except DomainError as err:
        db.session.rollback()
        errors = dict(err.details) if isinstance(err.details, dict) else {}
        errors["_"] = err.message
        return _render_schedule(schedule, errors=errors, status=err.status)
    flash(success, "success")
    return redirect(url_for("admin.schedule_detail", schedule_id=schedule.id))


def _form_id(name: str) -> int:
    return parse_id(request.form.get(name), name)


@bp.post("/jadwal/<int:schedule_id>/asesor")
@admin_only
def schedule_assign(schedule_id: int) -> Any:
    return _schedule_action(
        schedule_id,
        lambda s: assessment.assign_assessor(
            db.session, s, _form_id("assessor_id"), request.form.get("assignment_letter", ""), actor=current()
        ),
        "Asesor ditugaskan.",
    )


@bp.post("/jadwal/<int:schedule_id>/asesi")
@admin_only
def schedule_add_candidate(schedule_id: int) -> Any:
    return _schedule_action(
        schedule_id,
        lambda s: assessment.add_candidate(db.session, s, _form_id("candidate_id"), actor=current()),
        "Asesi ditambahkan.",
    )


@bp.post("/jadwal/<int:schedule_id>/auditor")
@admin_only
def schedule_grant(schedule_id: int) -> Any:
    return _schedule_action(
        schedule_id,
        lambda s: assessment.grant_auditor(db.session, s, _form_id("auditor_id"), actor=current()),
        "Akses auditor diberikan.",
    )


@bp.post("/jadwal/<int:schedule_id>/auditor/<int:auditor_id>/cabut")
@admin_only
def schedule_revoke(schedule_id: int, auditor_id: int) -> Any:
    return _schedule_action(
        schedule_id,
        lambda s: assessment.revoke_auditor(db.session, s, auditor_id, actor=current()),
        "Akses auditor dicabut.",
    )


@bp.post("/sesi/<public_id>/tautan")
@admin_only
def session_join_link(public_id: str) -> Any:
    session = assessment.get_session_for(db.session, current(), public_id)
    settings = current_app.config["RTUK"]
    issued = join_links.issue(
        db.session,
        current_app.config["SECRET_KEY"],
        session_id=session.id,
        candidate_id=session.candidate_id,
        created_by=current(),
        ttl=timedelta(hours=settings.join_link_ttl_hours),
    )
    link = {
        "url": url_for("accounts.join", token=issued.token, _external=True),
        "expires_at": issued.expires_at,
        "candidate": session.candidate.full_name,
    }
    return _render_schedule(session.schedule, join_link=link)


# --- audit log ----------------------------------------------------------------------------------------------------


@bp.get("/audit")
@admin_only
def audit_log() -> Any:
    per_page = 50
    page = parse_int(request.args.get("hal"), "hal", default=1, ge=1, le=MAX_AUDIT_PAGE)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(per_page).offset((page - 1) * per_page)
    events = list(db.session.scalars(stmt))
    names = {u.id: u.username for u in db.session.scalars(select(User))}
    return render_template(
        "admin/audit.html",
        events=events,
        names=names,
        labels=audit.KIND_LABELS,
        page=page,
        has_more=len(events) == per_page,
    )
