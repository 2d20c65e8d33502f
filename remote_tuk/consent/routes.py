"""Consent pages: FR.AK.01 with the assessor's co-signature, the candidate's withdrawal, the LSP's consent texts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.events import broadcast_transition
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.auth import current, roles_required, signed_in
from remote_tuk.consent import editing, services, texts
from remote_tuk.consent.form import form_fields, form_of, form_view
from remote_tuk.consent.schemas import CosignIn, TextEditIn, WithdrawIn
from remote_tuk.consent.withdrawal import withdraw
from remote_tuk.db import utcnow
from remote_tuk.errors import DomainError, NotFound, ValidationFailed
from remote_tuk.extensions import client_ip, db, evidence, socketio
from remote_tuk.live import services as live
from remote_tuk.live.media import NAMESPACE as LIVE_NAMESPACE
from remote_tuk.live.media import room_of
from remote_tuk.validation import form_errors_of, parse, parse_form

bp = Blueprint("consent", __name__)
admin_only = roles_required(Role.LSP_ADMIN)


def _session(public_id: str) -> AssessmentSession:
    return assessment.get_session_for(db.session, current(), public_id)


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Badan permintaan harus berupa objek JSON.")
    return body


def _profile(session: AssessmentSession) -> Any:
    from remote_tuk.tuk.services import profile_for  # the TUK check's profile in force (tuk imports consent)

    return profile_for(db.session, session)


@bp.app_template_global("consent_status")
def consent_status(session: AssessmentSession) -> dict[str, Any]:
    """For the candidate's dashboard and the session page."""
    return services.status(db.session, session)


# --- the check page's consent step ----------------------------------------------------------------------------------


def check_page_data(session: AssessmentSession, profile: Any) -> dict[str, Any]:
    """What the check page needs to show and post the consent texts (versions offered to this session) and the
    FR.AK.01 fields the candidate signs (the location is theirs to declare)."""
    status = services.status(db.session, session)
    return {
        "given": status["complete"],
        "texts": [
            {"kind": t.kind, "version": t.version, "title": t.title, "body": t.body}
            for t in services.offered(db.session, session)
        ],
        "form": form_fields(session, location="", profile=profile, now=utcnow()),
        "can_withdraw": status["can_withdraw"],
        "withdraw_url": url_for("consent.withdraw_page", public_id=session.public_id),
        "form_url": url_for("consent.form_page", public_id=session.public_id),
    }


def give(session: AssessmentSession, data: Any) -> tuple[Any, int]:
    """The check page's consent answer (``POST /api/v1/sessions/<id>/consent``, routed by ``tuk.routes``)."""
    row, new = services.give_consent(
        db.session,
        evidence.store,
        session,
        current(),
        kind=data.kind,
        version=data.version,
        accept=data.accept,
        ip=client_ip(),
        location=data.location,
        profile=_profile(session),
    )
    if row is None:
        return jsonify({"declined": True}), 200
    return jsonify({"kind": row.kind, "version": row.version, "at": row.at.isoformat()}), 201 if new else 200


@bp.get("/api/v1/sessions/<public_id>/consent")
@signed_in
def consent_api(public_id: str) -> Any:
    """The consent of a session: versions given, withdrawal, and the FR.AK.01 form with its signatures."""
    session = _session(public_id)
    status = services.status(db.session, session)
    form = form_of(db.session, session)
    return jsonify(
        {
            "given": status["given"],
            "complete": status["complete"],
            "can_withdraw": status["can_withdraw"],
            "withdrawn_at": status["withdrawn_at"].isoformat() if status["withdrawn_at"] else None,
            "offered": [{"kind": t.kind, "version": t.version} for t in services.offered(db.session, session)],
            "form": None
            if form is None
            else {
                "fields": form_view(form),
                "text_version": form.text_version,
                "text_sha256": form.text_sha256,
                "form_sha256": form.form_sha256,
                "candidate_signed_at": form.candidate_signed_at.isoformat(),
                "assessor_signed_at": form.assessor_signed_at.isoformat() if form.assessor_signed_at else None,
            },
        }
    )


# --- FR.AK.01 and the assessor's co-signature -----------------------------------------------------------------------


@bp.get("/sesi/<public_id>/fr-ak-01")
@signed_in
def form_page(public_id: str) -> Any:
    session = _session(public_id)
    form = form_of(db.session, session)
    fields = form_view(form) if form else None
    text = editing.find(db.session, texts.FR_AK_01, form.text_version) if form else None
    part = live.participant(current(), session)
    may_sign = (
        part.role == "assessor"
        and form is not None
        and form.assessor_signed_at is None
        and session.state in services.BEFORE_LIVE
        and services.status(db.session, session)["withdrawn_at"] is None
    )
    return render_template(
        "consent/form.html",
        s=session,
        form=form,
        fields=fields,
        text=text or editing.current(db.session, texts.FR_AK_01),
        status=services.status(db.session, session),
        may_sign=may_sign,
        assessor=session.schedule.assessor,
    )


@bp.post("/sesi/<public_id>/fr-ak-01/tanda-tangan")
@roles_required(Role.ASSESSOR)
def cosign_form(public_id: str) -> Any:
    session = _session(public_id)
    try:
        data = parse_form(CosignIn, request.form)
        services.cosign(db.session, evidence.store, session, current(), form_hash=data.form_sha256)
    except DomainError as err:
        db.session.rollback()
        flash(_error_text(err), "error")
        return redirect(url_for("consent.form_page", public_id=public_id)), 303
    flash("FR.AK.01 ditandatangani.", "success")
    return redirect(url_for("consent.form_page", public_id=public_id)), 303


@bp.post("/api/v1/sessions/<public_id>/consent/cosign")
@signed_in
def cosign_api(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(CosignIn, _json())
    form = services.cosign(db.session, evidence.store, session, current(), form_hash=data.form_sha256)
    return jsonify({"form_sha256": form.form_sha256, "at": form.assessor_signed_at.isoformat()}), 201  # type: ignore[union-attr]


# --- withdrawal -----------------------------------------------------------------------------------------------------


def _withdraw(session: AssessmentSession, data: WithdrawIn) -> Any:
    withdrawal = withdraw(
        db.session,
        evidence.store,
        session,
        current(),
        reason=data.reason,
        ip=client_ip(),
        emit=broadcast_transition,
    )
    socketio.emit(
        "notice",
        {"level": "warning", "message": "Asesi menarik persetujuan; sesi dibatalkan dan pemrosesan dihentikan."},
        to=room_of(session.public_id),
        namespace=LIVE_NAMESPACE,
    )
    return withdrawal


@bp.route("/sesi/<public_id>/tarik-persetujuan", methods=["GET", "POST"])
@roles_required(Role.CANDIDATE)
def withdraw_page(public_id: str) -> Any:
    session = _session(public_id)
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            _withdraw(session, parse_form(WithdrawIn, request.form))
        except DomainError as err:
            db.session.rollback()
            errors = form_errors_of(err)
            return render_template(
                "consent/withdraw.html", s=session, status=services.status(db.session, session), errors=errors,
                form=request.form,
            ), err.status
        flash("Persetujuan ditarik. Sesi dibatalkan dan LSP telah diberi tahu.", "success")
        return redirect(url_for("assessment.candidate_dashboard")), 303
    return render_template(
        "consent/withdraw.html", s=session, status=services.status(db.session, session), errors=errors, form=None
    )


@bp.post("/api/v1/sessions/<public_id>/consent/withdraw")
@signed_in
def withdraw_api(public_id: str) -> Any:
    session = _session(public_id)
    withdrawal = _withdraw(session, parse(WithdrawIn, _json()))
    return jsonify({"withdrawn_at": withdrawal.at.isoformat(), "state": session.state.value}), 201


def _error_text(err: DomainError) -> str:
    details = err.details if isinstance(err.details, dict) else {}
    return err.message + (" (" + "; ".join(f"{k}: {v}" for k, v in details.items()) + ")" if details else "")


# --- the LSP's consent texts ----------------------------------------------------------------------------------------


@bp.get("/admin/persetujuan")
@admin_only
def texts_index() -> Any:
    kinds = [
        {
            "kind": kind,
            "label": texts.KIND_LABELS[kind],
            "current": editing.current(db.session, kind),
            "draft": editing.draft(db.session, kind),
            "history": editing.history(db.session, kind),
        }
        for kind in texts.KINDS
    ]
    return render_template("consent/admin_texts.html", kinds=kinds)


@bp.route("/admin/persetujuan/<kind>/sunting", methods=["GET", "POST"])
@admin_only
def text_edit(kind: str) -> Any:
    editing.require_kind(kind)
    draft = editing.draft(db.session, kind)
    base = draft or editing.current(db.session, kind)
    if request.method == "POST":
        try:
            data = parse_form(TextEditIn, request.form)
            editing.save_draft(db.session, kind, title=data.title, body=data.body, note=data.note, actor=current())
        except DomainError as err:
            db.session.rollback()
            errors = form_errors_of(err)
            return render_template(
                "consent/admin_edit.html", kind=kind, label=texts.KIND_LABELS[kind], form=request.form, errors=errors
            ), err.status
        flash("Draf disimpan. Periksa pratinjau dan perbedaannya, lalu terbitkan.", "success")
        return redirect(url_for("consent.text_draft", kind=kind)), 303
    form = {"title": base.title, "body": base.body, "note": getattr(draft, "note", "")}
    return render_template(
        "consent/admin_edit.html", kind=kind, label=texts.KIND_LABELS[kind], form=form, errors={}
    )


@bp.get("/admin/persetujuan/<kind>/draf")
@admin_only
def text_draft(kind: str) -> Any:
    editing.require_kind(kind)
    draft = editing.draft(db.session, kind)
    if draft is None:
        flash("Belum ada draf; sunting teks untuk membuatnya.", "info")
        return redirect(url_for("consent.texts_index"))
    current_text = editing.current(db.session, kind)
    return render_template(
        "consent/admin_version.html",
        kind=kind,
        label=texts.KIND_LABELS[kind],
        text=editing.as_text(draft),
        row=draft,
        against=current_text,
        title_diff=editing.diff(current_text.title, draft.title),
        body_diff=editing.diff(current_text.body, draft.body),
        is_draft=True,
    )


@bp.get("/admin/persetujuan/<kind>/v<int:version>")
@admin_only
def text_version(kind: str, version: int) -> Any:
    editing.require_kind(kind)
    text = editing.find(db.session, kind, version)
    if text is None:
        raise NotFound("Versi ini tidak ada.")
    before = editing.previous(db.session, kind, version)
    return render_template(
        "consent/admin_version.html",
        kind=kind,
        label=texts.KIND_LABELS[kind],
        text=text,
        row=None,
        against=before,
        title_diff=editing.diff(before.title, text.title) if before else None,
        body_diff=editing.diff(before.body, text.body) if before else None,
        is_draft=False,
    )


@bp.post("/admin/persetujuan/<kind>/terbitkan")
@admin_only
def text_publish(kind: str) -> Any:
    editing.require_kind(kind)
    try:
        row = editing.publish(db.session, kind, actor=current())
    except DomainError as err:
        db.session.rollback()
        flash(_error_text(err), "error")
        return redirect(url_for("consent.text_draft", kind=kind)), 303
    flash(f"Versi {row.version} diterbitkan dan berlaku untuk sesi yang belum disetujui.", "success")
    return redirect(url_for("consent.texts_index")), 303


@bp.post("/admin/persetujuan/<kind>/buang")
@admin_only
def text_discard(kind: str) -> Any:
    editing.require_kind(kind)
    editing.discard(db.session, kind, actor=current())
    flash("Draf dibuang.", "success")
    return redirect(url_for("consent.texts_index")), 303
