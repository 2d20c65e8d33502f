"""LSP admin: the proctoring profile of each scheme (``/admin/profil-pengawasan``). A bad value is refused with 422
and the form shown again with the field's message."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from config.proctoring_profile import DEFAULT_PROCTORING_PROFILE, PROCTORING_KINDS
from remote_tuk.accounts.models import Role
from remote_tuk.auth import current, roles_required
from remote_tuk.errors import ValidationFailed
from remote_tuk.extensions import db
from remote_tuk.lsp.models import Scheme
from remote_tuk.proctoring import profiles

bp = Blueprint("proctoring_profiles", __name__, url_prefix="/admin/profil-pengawasan")
admin_only = roles_required(Role.LSP_ADMIN)

KIND_LABELS = {
    "no_face": "Wajah tidak terlihat",
    "multiple_faces": "Lebih dari satu wajah",
    "face_turned_away": "Wajah berpaling",
    "camera_covered": "Kamera tertutup / gelap total",
    "too_dark": "Terlalu gelap",
    "blurred": "Gambar buram",
    "frozen": "Gambar membeku",
    "looped": "Video diputar berulang",
    "identity_mismatch": "Wajah tidak sesuai KTP",
    "identity_uncertain": "Kecocokan wajah diragukan",
    "speech_in_quiet": "Berbicara saat fase tenang",
}


@bp.get("/")
@admin_only
def index() -> Any:
    schemes = list(db.session.scalars(select(Scheme).order_by(Scheme.code)))
    own = {s.id: profiles.is_own(db.session, s.id) for s in schemes}
    return render_template("proctoring/profiles.html", schemes=schemes, own=own,
                           current={s.id: profiles.for_scheme(db.session, s.id) for s in schemes})


@bp.route("/<int:scheme_id>", methods=["GET", "POST"])
@admin_only
def edit(scheme_id: int) -> Any:
    scheme = profiles.scheme_or_404(db.session, scheme_id)
    profile = profiles.for_scheme(db.session, scheme.id)
    if request.method == "POST":
        if request.form.get("action") == "reset":
            profiles.reset(db.session, scheme, actor_id=current().id)
            flash("Skema kembali memakai profil pengawasan standar.", "success")
            return redirect(url_for("proctoring_profiles.index"))
        try:
            new = profiles.parse_form(request.form, profile)
            profiles.save(db.session, scheme, new, actor_id=current().id)
        except ValidationFailed as err:
            db.session.rollback()
            return _render(scheme, profile, {"_": err.message, **(err.details or {})}, err.status, request.form)
        flash("Profil pengawasan skema disimpan.", "success")
        return redirect(url_for("proctoring_profiles.index"))
    return _render(scheme, profile, {}, 200, None)


def _render(scheme: Scheme, profile: Any, errors: dict[str, Any], status: int, form: Any) -> Any:
    return render_template("proctoring/profile_form.html", scheme=scheme, profile=profile, errors=errors, form=form,
                           kinds=PROCTORING_KINDS, labels=KIND_LABELS, default=DEFAULT_PROCTORING_PROFILE,
                           rule_fields=profiles.RULE_FIELDS, threshold_fields=profiles.THRESHOLD_FIELDS,
                           identity_fields=profiles.IDENTITY_FIELDS,
                           own=profiles.is_own(db.session, scheme.id)), status
