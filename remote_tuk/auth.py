"""Signing in and out (Flask-Login glue), and the role checks applied to every route and socket event."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from remote_tuk.accounts.models import Role, User
from remote_tuk.accounts.services import needs_totp
from remote_tuk.errors import Forbidden
from remote_tuk.extensions import db, login_manager

F = TypeVar("F", bound=Callable[..., Any])

#: Session key set while a password was accepted but the second factor is still due.
PENDING_2FA = "pending_2fa_user"


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
        user = db.session.get(User, uid)
        if user is None or user.auth_version != version or not user.active:
            return None
        return user

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        from remote_tuk.errors import wants_json

        if wants_json():
            from flask import jsonify

            return jsonify({"error": "unauthenticated", "message": "Silakan masuk terlebih dahulu."}), 401
        return redirect(url_for("accounts.login", next=request.full_path if request.method == "GET" else None))


def sign_in(user: User) -> None:
    session.pop(PENDING_2FA, None)
    session.clear()
    login_user(user)
    session.permanent = True


def sign_out() -> None:
    logout_user()
    session.clear()


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
