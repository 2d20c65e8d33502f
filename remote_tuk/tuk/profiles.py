"""LSP admin: remote TUK requirement profiles (the default and per-scheme overrides)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import DEFAULT_TUK_PROFILE, TukRequirementProfile
from remote_tuk.accounts.models import Role
from remote_tuk.audit import services as audit
from remote_tuk.auth import current, roles_required
from remote_tuk.errors import Conflict, NotFound, ValidationFailed
from remote_tuk.extensions import db
from remote_tuk.lsp.models import Scheme
from remote_tuk.tuk import texts
from remote_tuk.tuk.models import RequirementProfileRecord, SchemeProfile
from remote_tuk.tuk.schemas import UNMEASURABLE_KEYS
from remote_tuk.validation import field_errors

bp = Blueprint("profiles", __name__, url_prefix="/admin/profil-tuk")
admin_only = roles_required(Role.LSP_ADMIN)
PROFILE_CHANGED = "tuk_profile_changed"
audit.KIND_LABELS.setdefault(PROFILE_CHANGED, "Profil persyaratan TUK diubah")


def parse_form(form: Any) -> TukRequirementProfile:
    """Build a profile from the admin form; errors name the requirement and the field."""
    reqs = []
    for base in DEFAULT_TUK_PROFILE.requirements:
        key = base.key
        if form.get(f"{key}.enabled") != "1":
            continue
        item: dict[str, Any] = {
            "key": key,
            "mandatory": form.get(f"{key}.mandatory") == "1",
            "unit": base.unit,
            "source": base.source,
        }
        if key in UNMEASURABLE_KEYS:
            item["if_unmeasurable"] = form.get(f"{key}.if_unmeasurable") or "assessor"
        for bound in ("min", "max", "min_height"):
            if getattr(base, bound) is None:
                continue
            raw = (form.get(f"{key}.{bound}") or "").strip().replace(",", ".")
            item[bound] = raw if raw else None
        reqs.append(item)
    try:
        return TukRequirementProfile.model_validate(
            {
                "name": (form.get("name") or "").strip(),
                "valid_minutes": form.get("valid_minutes") or 30,
                "requirements": reqs,
            }
        )
    except ValidationError as err:
        details = {}
        for loc, message in field_errors(err).items():
            parts = loc.split(".")
            if parts[0] == "requirements" and len(parts) > 1 and parts[1].isdigit():
                key = reqs[int(parts[1])]["key"]
                details[".".join([key, *parts[2:]]) or key] = message
            else:
                details[loc] = message
        raise ValidationFailed("Profil persyaratan tidak valid.", details=details) from err


def save(
    db_: Session, profile: TukRequirementProfile, *, profile_id: int | None, make_default: bool, actor_id: int
) -> RequirementProfileRecord:
    other = db_.scalar(select(RequirementProfileRecord).where(RequirementProfileRecord.name == profile.name))
    if other is not None and other.id != profile_id:
        raise Conflict("Nama profil sudah dipakai.", details={"name": "sudah dipakai"})
    if profile_id is None:
        row = RequirementProfileRecord(name=profile.name, data=profile.model_dump())
        db_.add(row)
    else:
        row = db_.get(RequirementProfileRecord, profile_id)
        if row is None:
            raise NotFound("Profil tidak ditemukan.")
        row.name, row.data = profile.name, profile.model_dump()
    if make_default:
        for r in db_.scalars(select(RequirementProfileRecord).where(RequirementProfileRecord.is_default.is_(True))):
            r.is_default = False
        row.is_default = True
    db_.flush()
    audit.record(db_, PROFILE_CHANGED, actor_id=actor_id, profile=row.name, default=row.is_default)
    db_.commit()
    return row


def _render(
    profile: TukRequirementProfile,
    row: RequirementProfileRecord | None,
    errors: dict[str, Any],
    status: int = 200,
    form: Any = None,
) -> Any:
    enabled = {r.key: r for r in profile.requirements}
    return render_template(
        "tuk/profile_form.html",
        profile=profile,
        enabled=enabled,
        row=row,
        all_reqs=DEFAULT_TUK_PROFILE.requirements,
        labels=texts.REQUIREMENTS,
        unmeasurable_keys=UNMEASURABLE_KEYS,
        errors=errors,
        form=form,
    ), status


def _db_id(raw: str) -> int | None:
    """A database id from a form or URL: ASCII digits within the 32-bit range the database holds, else None."""
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 10 or not 0 < int(raw) <= 2_147_483_647:
        return None
    return int(raw)


@bp.get("/")
@admin_only
def index() -> Any:
    rows = list(db.session.scalars(select(RequirementProfileRecord).order_by(RequirementProfileRecord.name)))
    schemes = list(db.session.scalars(select(Scheme).order_by(Scheme.code)))
    assigned = {sp.scheme_id: sp.profile_id for sp in db.session.scalars(select(SchemeProfile))}
    return render_template(
        "tuk/profiles.html",
        rows=rows,
        schemes=schemes,
        assigned=assigned,
        builtin=DEFAULT_TUK_PROFILE,
        labels=texts.REQUIREMENTS,
    )


@bp.route("/baru", methods=["GET", "POST"])
@admin_only
def create() -> Any:
    if request.method == "GET":
        return _render(DEFAULT_TUK_PROFILE.model_copy(update={"name": ""}), None, {})
    try:
        profile = parse_form(request.form)
        save(
            db.session,
            profile,
            profile_id=None,
            make_default=request.form.get("is_default") == "1",
            actor_id=current().id,
        )
    except (ValidationFailed, Conflict) as err:
        db.session.rollback()
        return _render(
            DEFAULT_TUK_PROFILE, None, {"_": err.message, **(err.details or {})}, err.status, form=request.form
        )
    flash("Profil persyaratan disimpan.", "success")
    return redirect(url_for("profiles.index"))


@bp.route("/<int:profile_id>", methods=["GET", "POST"])
@admin_only
def edit(profile_id: int) -> Any:
    row = db.session.get(RequirementProfileRecord, profile_id) if _db_id(str(profile_id)) else None
    if row is None:
        raise NotFound("Profil tidak ditemukan.")
    if request.method == "GET":
        return _render(TukRequirementProfile.model_validate(row.data), row, {})
    try:
        profile = parse_form(request.form)
        save(
            db.session,
            profile,
            profile_id=row.id,
            make_default=request.form.get("is_default") == "1",
            actor_id=current().id,
        )
    except (ValidationFailed, Conflict) as err:
        db.session.rollback()
        return _render(
            TukRequirementProfile.model_validate(row.data),
            row,
            {"_": err.message, **(err.details or {})},
            err.status,
            form=request.form,
        )
    flash("Profil persyaratan disimpan.", "success")
    return redirect(url_for("profiles.index"))


@bp.post("/skema")
@admin_only
def assign() -> Any:
    """Give a scheme its own profile, or back to the default (profile_id empty)."""
    scheme_id = _db_id(request.form.get("scheme_id", ""))
    profile_raw = request.form.get("profile_id", "")
    profile_id = _db_id(profile_raw) if profile_raw != "" else None
    if scheme_id is None or db.session.get(Scheme, scheme_id) is None:
        raise ValidationFailed("Skema tidak dikenal.", details={"scheme_id": "tidak dikenal"})
    existing = db.session.get(SchemeProfile, scheme_id)
    if profile_raw == "":
        if existing is not None:
            db.session.delete(existing)
    else:
        if profile_id is None or db.session.get(RequirementProfileRecord, profile_id) is None:
            raise ValidationFailed("Profil tidak dikenal.", details={"profile_id": "tidak dikenal"})
        if existing is None:
            db.session.add(SchemeProfile(scheme_id=scheme_id, profile_id=profile_id))
        else:
            existing.profile_id = profile_id
    audit.record(db.session, PROFILE_CHANGED, actor_id=current().id, scheme=scheme_id, profile=profile_id)
    db.session.commit()
    flash("Profil skema diperbarui.", "success")
    return redirect(url_for("profiles.index"))
