"""Signing in and out (Flask-Login glue), and the role checks applied to every route and socket event.

A session cookie is signed in only while the server-side sign-in it names (``accounts.sign_ins``) is active: the user
loader checks it on every request and every socket event, so logging out — or a password change, a role change, a
deactivation — ends that cookie and every copy of it (issue 12 #5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from remote_tuk.accounts import sign_ins
from remote_tuk.accounts.models import Role, User
from remote_tuk.accounts.services import needs_totp
from remote_tuk.errors import Forbidden
from remote_tuk.extensions import client_ip, db, login_manager

F = TypeVar("F", bound=Callable[..., Any])

#: Session key set while a password was accepted but the second factor is still due.
PENDING_2FA = "pending_2fa_user"
#: Session key holding the sign-in's token (its hash is the ``sign_ins`` row).
SIGN_IN = "sign_in"


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Silakan masuk terlebih dahulu."
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> User | None:
        try:
            uid, version = (int(part) for part in user_id.split(":", 1))
        except ValueError:
            return None
        row = sign_ins.find_active(db.session, session.get(SIGN_IN), uid)
        if row is None:
            return None
        user = db.session.get(User, uid)
        if user is None or user.auth_version != version or not user.active:
            return None
        g.sign_in_id = row.id
        return user

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        from remote_tuk.errors import wants_json

        if wants_json():
            from flask import jsonify

            return jsonify({"error": "unauthenticated", "message": "Silakan masuk terlebih dahulu."}), 401
        return redirect(url_for("accounts.login", next=request.full_path if request.method == "GET" else None))


def sign_in(user: User) -> None:
    """Start a sign-in for *user*: a server-side record (committed) and a fresh session cookie naming it."""
    lifetime = timedelta(minutes=current_app.config["RTUK"].session_lifetime_minutes)
    started = sign_ins.start(db.session, user, lifetime=lifetime, ip=client_ip())
    db.session.commit()
    session.clear()
    login_user(user)
    session[SIGN_IN] = started.token
    session.permanent = True
    g.sign_in_id = started.sign_in.id


def current_sign_in_id() -> int | None:
    """The id of the sign-in this request (or socket event) runs under, once the user is loaded."""
    return g.get("sign_in_id") if current_user.is_authenticated else None


def sign_out() -> None:
    """End this sign-in on the server (every copy of the cookie stops working) and clear the cookie."""
    sign_in_id = current_sign_in_id()
    revoked = sign_ins.revoke(db.session, sign_in_id, reason=sign_ins.LOGOUT) if sign_in_id is not None else []
    db.session.commit()
    logout_user()
    session.clear()
    sign_ins.notify_revoked(revoked)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Route decorator: the user must be signed in, past the second factor, and hold one of *roles*."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            user: User = current_user  # type: ignore[assignment]
            if needs_totp(user) and not user.totp_enabled and request.endpoint not in _TOTP_EXEMPT:
                return redirect(url_for("accounts.totp_enrol"))
            if roles and user.role not in roles:
                raise Forbidden("Anda tidak berhak membuka halaman ini.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def signed_in(view: F) -> F:
    return roles_required()(view)


_TOTP_EXEMPT = {"accounts.totp_enrol", "accounts.logout"}


def current() -> User:
    """The signed-in user object itself (not the proxy, which would follow a later login or logout)."""
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]
