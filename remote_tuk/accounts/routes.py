"""Sign-in, second factor, sign-out, password change, TOTP enrolment, one-time join links, language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from remote_tuk.accounts import join_links, services, totp
from remote_tuk.accounts.models import Role, User
from remote_tuk.accounts.schemas import CodeIn, LoginIn, PasswordChangeIn
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.audit import services as audit
from remote_tuk.auth import PENDING_2FA, current, roles_required, sign_in, sign_out, signed_in
from remote_tuk.errors import DomainError, ValidationFailed
from remote_tuk.extensions import client_ip, db, limiter
from remote_tuk.validation import parse

bp = Blueprint("accounts", __name__)


def _login_limit() -> str:
    return current_app.config["RTUK"].login_rate_limit


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user: User) -> str:
    return {
        Role.LSP_ADMIN: url_for("admin.index"),
        Role.ASSESSOR: url_for("assessment.assessor_dashboard"),
        Role.CANDIDATE: url_for("assessment.candidate_dashboard"),
        Role.AUDITOR: url_for("assessment.auditor_dashboard"),
    }[user.role]


@bp.get("/")
def index() -> Any:
    if current_user.is_authenticated:
        return redirect(home_for(current()))
    return redirect(url_for("accounts.login"))


@bp.get("/favicon.ico")
def favicon() -> Any:
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/masuk", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(home_for(current()))
        return render_template("accounts/login.html", next=_safe_next(request.args.get("next")))
    form = parse(LoginIn, request.form)
    try:
        user = services.authenticate(db.session, form.username, form.password, ip=client_ip())
    except DomainError as err:
        return render_template("accounts/login.html", error=err.message, username=form.username), err.status
    nxt = _safe_next(request.form.get("next"))
    if user.totp_enabled:
        session.clear()
        session[PENDING_2FA] = {"id": user.id, "v": user.auth_version, "next": nxt}
        return redirect(url_for("accounts.login_totp"))
    audit.record(db.session, audit.LOGIN, actor_id=user.id, subject=user.username, ip=client_ip())
    db.session.commit()
    sign_in(user)
    return redirect(nxt or home_for(user))


@bp.route("/masuk/totp", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login_totp() -> Any:
    pending = session.get(PENDING_2FA)
    user = db.session.get(User, pending["id"]) if isinstance(pending, dict) else None
    if user is None or user.auth_version != pending.get("v") or not user.active:
        session.pop(PENDING_2FA, None)
        return redirect(url_for("accounts.login"))
    if request.method == "GET":
        return render_template("accounts/totp_login.html")
    try:
        form = parse(CodeIn, request.form)
        totp.verify(db.session, user, form.code, ip=client_ip())
    except DomainError as err:
        return render_template("accounts/totp_login.html", error=err.message), err.status
    audit.record(db.session, audit.LOGIN, actor_id=user.id, subject=user.username, ip=client_ip(), second_factor="totp")
    db.session.commit()
    nxt = pending.get("next")
    sign_in(user)
    return redirect(_safe_next(nxt) or home_for(user))


@bp.post("/keluar")
@signed_in
def logout() -> Any:
    user = current()
    audit.record(db.session, audit.LOGOUT, actor_id=user.id, subject=user.username, ip=client_ip())
    sign_out()  # commits the audit event with the revocation
    flash("Anda telah keluar.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/akun/kata-sandi", methods=["GET", "POST"])
@signed_in
def change_password() -> Any:
    if request.method == "GET":
        return render_template("accounts/password.html")
    user = current()
    try:
        form = parse(PasswordChangeIn, request.form)
        if form.new_password != form.confirm_password:
            raise ValidationFailed("Konfirmasi kata sandi tidak sama.", details={"confirm_password": "tidak sama"})
        services.change_password(db.session, user, form.current_password, form.new_password, ip=client_ip())
    except ValidationFailed as err:
        return render_template("accounts/password.html", error=err.message, errors=err.details), err.status
    sign_in(user)  # every sign-in of this user was revoked; this browser gets a new one
    flash("Kata sandi berhasil diubah. Sesi lain telah dikeluarkan.", "success")
    return redirect(home_for(user))


@bp.route("/akun/totp", methods=["GET", "POST"])
@roles_required(Role.LSP_ADMIN, Role.ASSESSOR)
def totp_enrol() -> Any:
    user = current()
    if user.totp_enabled:
        flash("TOTP sudah aktif.", "info")
        return redirect(home_for(user))
    if not user.totp_secret:
        # The pending secret survives a reload, so a scanned QR code stays valid until the code is confirmed.
        totp.start_enrolment(db.session, user)
    if request.method == "GET":
        return _render_enrol(user)
    try:
        form = parse(CodeIn, request.form)
        totp.confirm_enrolment(db.session, user, form.code, ip=client_ip())
    except ValidationFailed as err:
        return _render_enrol(user, error=err.message), err.status
    flash("Autentikasi dua langkah (TOTP) aktif.", "success")
    return redirect(home_for(user))


def _render_enrol(user: User, error: str | None = None) -> str:
    uri = totp.provisioning_uri(user, current_app.config["RTUK"].totp_issuer)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#111827")
    return render_template("accounts/totp_enrol.html", secret=user.totp_secret, qr_svg=qr_svg, error=error)


@bp.get("/gabung/<token>")
def join(token: str) -> Any:
    """A candidate's one-time link, opened: says what it is for and offers the button that uses it.

    Neither this GET nor a HEAD (link previews, mail scanners) uses the link; only the POST below does."""
    try:
        link = join_links.inspect(db.session, current_app.config["SECRET_KEY"], token)
    except DomainError as err:
        return render_template("error.html", status=err.status, message=err.message), err.status
    sess = db.session.get(AssessmentSession, link.session_id)
    return render_template("accounts/join.html", token=token, s=sess, candidate=db.session.get(User, link.candidate_id))


@bp.post("/gabung/<token>")
def join_redeem(token: str) -> Any:
    """Use the link (once, CSRF-protected): signs the candidate in and opens their session."""
    try:
        link = join_links.redeem(db.session, current_app.config["SECRET_KEY"], token, ip=client_ip())
    except DomainError as err:
        return render_template("error.html", status=err.status, message=err.message), err.status
    user = db.session.get(User, link.candidate_id)
    if user is None or not user.active:
        return render_template("error.html", status=410, message="Akun asesi tidak aktif."), 410
    sign_in(user)
    sess = db.session.get(AssessmentSession, link.session_id)
    return redirect(url_for("assessment.session_detail", public_id=sess.public_id) if sess else home_for(user))


@bp.post("/bahasa")
def set_language() -> Any:
    lang = request.form.get("lang", "id")
    response = redirect(_safe_next(request.form.get("next")) or url_for("accounts.index"))
    if lang in ("id", "en"):
        response.set_cookie(
            "lang", lang, max_age=int(timedelta(days=365).total_seconds()), samesite="Lax", httponly=True
        )
    return response
