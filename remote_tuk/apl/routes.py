"""FR.APL.01/02 pages and API: the candidate's form, portfolio uploads, the assessor's review, the LSP's setting."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for

from remote_tuk.accounts.models import Role
from remote_tuk.apl import services
from remote_tuk.apl.models import DECISION_LABELS, PortfolioItem
from remote_tuk.apl.schemas import (
    EDUCATION,
    GENDERS,
    PURPOSES,
    AplDraftIn,
    PortfolioMetaIn,
    ReviewIn,
    SettingIn,
    SubmitIn,
)
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.auth import current, roles_required, signed_in
from remote_tuk.errors import ValidationFailed
from remote_tuk.extensions import db, evidence
from remote_tuk.live import services as live
from remote_tuk.lsp import services as lsp
from remote_tuk.validation import parse

bp = Blueprint("apl", __name__)
API = "/api/v1/sessions/<public_id>/apl"


def _session(public_id: str) -> AssessmentSession:
    return assessment.get_session_for(db.session, current(), public_id)


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Badan permintaan harus berupa objek JSON.")
    return body


def item_json(session: AssessmentSession, item: PortfolioItem) -> dict[str, Any]:
    return {
        **services.item_doc(item, evidence=False),
        "uploaded_at": item.uploaded_at.isoformat(),
        "removed": item.removed_at is not None,
        "url": url_for("apl.portfolio_file", public_id=session.public_id, item_id=item.id),
    }


def state_json(session: AssessmentSession) -> dict[str, Any]:
    st = services.status(db.session, session)
    sub, rev = st["submission"], st["review"]
    out: dict[str, Any] = {
        "state": session.state.value,
        "required": st["required"],
        "editable": st["editable"],
        "blocking": st["blocking"],
        "portfolio": [item_json(session, i) for i in services.items_of(db.session, session)],
        "submission": None
        if sub is None
        else {"version": sub.version, "submitted_at": sub.submitted_at.isoformat(), "log_index": sub.log_index},
        "review": None
        if rev is None
        else {"decision": rev.decision, "note": rev.note, "at": rev.at.isoformat(), "version": sub.version},
    }
    if live.participant(current(), session).role == "candidate":
        form = services.form_of(db.session, session)
        out["draft"] = {"apl01": form.apl01, "apl02": form.apl02} if form else None
        out["missing"] = services.missing_for_submission(db.session, session, form)
    return out


# --- pages --------------------------------------------------------------------------------------------------------


@bp.get("/sesi/<public_id>/apl")
@signed_in
def page(public_id: str) -> Any:
    session = _session(public_id)
    part = live.participant(current(), session)
    common = {
        "s": session,
        "st": services.status(db.session, session),
        "elements": services.elements_of(db.session, session),
        "decisions": DECISION_LABELS,
        "purposes": PURPOSES,
        "genders": GENDERS,
        "education": EDUCATION,
    }
    if part.role == "candidate":
        form = services.form_of(db.session, session)
        items = services.items_of(db.session, session)
        missing = services.missing_for_submission(db.session, session, form)
        return render_template(
            "apl/form.html",
            draft=form,
            items=items,
            done={
                "apl01": form is not None and not any(k.startswith("apl01.") for k in missing),
                "portfolio": bool(items),
                "apl02": form is not None and not any(k.startswith("apl02.") for k in missing),
            },
            urls={
                "state": url_for("apl.api_state", public_id=public_id),
                "draft": url_for("apl.api_save", public_id=public_id),
                "upload": url_for("apl.upload", public_id=public_id),
                "submit": url_for("apl.api_submit", public_id=public_id),
                "session": url_for("assessment.session_detail", public_id=public_id),
            },
            **common,
        )
    items = {i.id: i for i in services.items_of(db.session, session, include_removed=True)}
    return render_template(
        "apl/review.html",
        items=items,
        reviews=services.reviews_of(db.session, session),
        may_review=part.role == "assessor",
        **common,
    )


@bp.route("/admin/apl", methods=["GET", "POST"])
@roles_required(Role.LSP_ADMIN)
def settings() -> Any:
    if request.method == "POST":
        data = parse(SettingIn, request.form)
        services.set_required(db.session, data.scheme_id, data.required, actor=current())
        flash("Pengaturan FR.APL disimpan.", "success")
        return redirect(url_for("apl.settings"))
    return render_template(
        "apl/settings.html",
        schemes=lsp.list_schemes(db.session),
        required=services.settings_by_scheme(db.session),
    )


# --- the candidate's API ------------------------------------------------------------------------------------------


@bp.get(API)
@signed_in
def api_state(public_id: str) -> Any:
    return jsonify(state_json(_session(public_id)))


@bp.post(API)
@signed_in
def api_save(public_id: str) -> Any:
    session = _session(public_id)
    form = services.save_draft(db.session, session, current(), parse(AplDraftIn, _json_body()))
    return jsonify({"saved_at": form.updated_at.isoformat()})


@bp.post(f"{API}/portfolio")
@signed_in
def upload(public_id: str) -> Any:
    session = _session(public_id)
    meta = parse(PortfolioMetaIn, request.form)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("Pilih berkas portofolio.", details={"file": "wajib diisi"})
    data = upload.stream.read(services.MAX_FILE_BYTES + 1)
    item = services.add_portfolio(
        db.session,
        evidence.store,
        session,
        current(),
        data=data,
        filename=upload.filename or "",
        title=meta.title,
    )
    return jsonify(item_json(session, item)), 201


@bp.post(f"{API}/portfolio/<int:item_id>/hapus")
@signed_in
def remove(public_id: str, item_id: int) -> Any:
    session = _session(public_id)
    services.remove_portfolio(db.session, session, current(), item_id)
    return jsonify({"ok": True})


@bp.get(f"{API}/portfolio/<int:item_id>")
@signed_in
def portfolio_file(public_id: str, item_id: int) -> Any:
    """A portfolio file for whoever may see the session, decrypted from the evidence store (the read is logged)."""
    session = _session(public_id)
    item = services.get_item(db.session, session, item_id)
    data = services.read_portfolio(evidence.store, item, current())
    resp = send_file(io.BytesIO(data), mimetype=item.mime, download_name=item.filename, max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post(f"{API}/submit")
@signed_in
def api_submit(public_id: str) -> Any:
    session = _session(public_id)
    parse(SubmitIn, _json_body())
    row = services.submit(db.session, evidence.store, session, current())
    body = {"version": row.version, "log_index": row.log_index, "submitted_at": row.submitted_at.isoformat()}
    return jsonify(body), 201


# --- the assessor's review ----------------------------------------------------------------------------------------


@bp.post(f"{API}/review")
@signed_in
def api_review(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(ReviewIn, _json_body())
    row = services.review(db.session, evidence.store, session, current(), decision=data.decision, note=data.note)
    return jsonify({"decision": row.decision, "note": row.note, "at": row.at.isoformat()}), 201


@bp.post("/sesi/<public_id>/apl/tinjau")
@signed_in
def review_form(public_id: str) -> Any:
    """The review form of the assessor's page (works without JavaScript)."""
    session = _session(public_id)
    data = parse(ReviewIn, {k: v for k, v in request.form.items() if k in ReviewIn.model_fields})
    row = services.review(db.session, evidence.store, session, current(), decision=data.decision, note=data.note)
    flash(f"Tinjauan FR.APL dicatat: {DECISION_LABELS[row.decision]}.", "success")
    return redirect(url_for("apl.page", public_id=public_id))


# --- the block other pages include (session page, candidate dashboard) -------------------------------------------


@bp.app_context_processor
def _panel() -> dict[str, Any]:
    def apl_panel(session: AssessmentSession) -> dict[str, Any]:
        user = current()
        return {
            "st": services.status(db.session, session),
            "role": live.participant(user, session).role,
            "url": url_for("apl.page", public_id=session.public_id),
        }

    return {"apl_panel": apl_panel}
