"""LSP admin: the SOP dossier for BNSP — declarations, what is missing, preview, generate, download."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for

from remote_tuk.accounts.models import Role
from remote_tuk.auth import current, roles_required
from remote_tuk.dossier import services
from remote_tuk.dossier.schemas import DeclarationsIn
from remote_tuk.errors import DomainError
from remote_tuk.extensions import db, evidence
from remote_tuk.lsp.services import list_schemes
from remote_tuk.validation import parse
from sop import MissingFactsError

bp = Blueprint("dossier", __name__, url_prefix="/admin/dosir")
admin_only = roles_required(Role.LSP_ADMIN)


def _page(errors: dict[str, Any] | None = None, status: int = 200, form: Any = None) -> Any:
    settings = current_app.config["RTUK"]
    _facts, missing = services.check(db.session, settings, evidence.store)
    return render_template(
        "dossier/index.html",
        decl=services.declarations(db.session),
        schemes=list_schemes(db.session),
        missing=missing,
        dossiers=services.list_dossiers(db.session),
        errors=errors or {},
        form=form,
    ), status


@bp.get("/")
@admin_only
def index() -> Any:
    return _page()


@bp.post("/")
@admin_only
def save() -> Any:
    data = {k: request.form.get(k, "") for k in DeclarationsIn.model_fields if k != "scheme_codes"}
    data["scheme_codes"] = request.form.getlist("scheme_codes")
    try:
        services.save_declarations(db.session, parse(DeclarationsIn, data), actor=current())
    except DomainError as err:
        db.session.rollback()
        errors = dict(err.details) if isinstance(err.details, dict) else {}
        errors["_"] = err.message
        return _page(errors, err.status, form=request.form)
    flash("Data dosir disimpan.", "success")
    return redirect(url_for("dossier.index"))


@bp.get("/pratinjau")
@admin_only
def preview() -> Any:
    try:
        html = services.preview_html(db.session, current_app.config["RTUK"], evidence.store)
    except MissingFactsError:
        flash("Lengkapi data yang masih kurang sebelum pratinjau.", "error")
        return redirect(url_for("dossier.index"))
    response = Response(html, mimetype="text/html")
    # The dossier's own HTML carries inline styles and embedded images; it runs no script.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; "
        "form-action 'none'; sandbox"
    )
    return response


@bp.post("/buat")
@admin_only
def generate() -> Any:
    try:
        dossier = services.generate(db.session, current_app.config["RTUK"], evidence.store, actor=current())
    except MissingFactsError:
        db.session.rollback()
        return _page({"_": "Dosir belum dapat dibuat: lengkapi data yang masih kurang."}, 422)
    flash(f"Dosir dibuat ({dossier.page_count} halaman) dan disimpan sebagai bukti.", "success")
    return redirect(url_for("dossier.index"))


@bp.get("/<int:dossier_id>/<kind>")
@admin_only
def download(dossier_id: int, kind: str) -> Any:
    dossier, data = services.read_file(db.session, evidence.store, dossier_id, kind, actor=current())
    mime = (
        "application/pdf"
        if kind == "pdf"
        else ("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    )
    name = f"dosir-sop-{dossier.created_at:%Y%m%d-%H%M}.{kind}"
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})
