"""Issue 12 #5: a session cookie is signed in only while its server-side sign-in is active.

Logging out ends the sign-in on the server, so a copy of the cookie taken before (a stolen cookie, a second tab's
saved request) stops working at once; a password change, a role change and a deactivation end every sign-in of
the user.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import PASSWORD, csrf_token, login


def _copy_cookie(src, app):
    """A second client holding exactly the cookie *src* has now."""
    copy = app.test_client()
    copy.set_cookie("rtuk_session", src.get_cookie("rtuk_session").value)
    return copy


def _sign_ins(app, username):
    from remote_tuk.accounts.models import SignIn, User
    from remote_tuk.extensions import db

    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        return db.session.execute(
            select(SignIn.revoked_reason, SignIn.revoked_at).where(SignIn.user_id == uid).order_by(SignIn.id)
        ).all()


def test_cookie_saved_before_logout_stops_working(app, cast):
    browser = app.test_client()
    login(browser, cast, "asesi_a")
    stolen = _copy_cookie(browser, app)
    assert stolen.get("/asesi/").status_code == 200  # the copy works while the sign-in lives
    assert browser.post("/keluar", data={"csrf_token": csrf_token(browser, "/asesi/")}).status_code == 302
    assert stolen.get("/asesi/").status_code == 302
    resp = stolen.get(f"/api/v1/sessions/{cast.session_a}")
    assert resp.status_code == 401
    assert [r.revoked_reason for r in _sign_ins(app, "asesi_a")] == ["logout"]


def test_logout_ends_only_that_sign_in(app, cast):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, cast, "asesi_a")
    login(phone, cast, "asesi_a")
    laptop.post("/keluar", data={"csrf_token": csrf_token(laptop, "/asesi/")})
    assert laptop.get("/asesi/").status_code == 302
    assert phone.get("/asesi/").status_code == 200


def test_password_change_ends_every_sign_in_and_keeps_this_browser_in(app, cast):
    browser, other = app.test_client(), app.test_client()
    login(browser, cast, "asesi_a")
    login(other, cast, "asesi_a")
    old_copy = _copy_cookie(browser, app)
    new = "Kata-Sandi-Baru-2026!"
    resp = browser.post(
        "/akun/kata-sandi",
        data={
            "current_password": PASSWORD,
            "new_password": new,
            "confirm_password": new,
            "csrf_token": csrf_token(browser, "/akun/kata-sandi"),
        },
    )
    assert resp.status_code == 302
    assert browser.get("/asesi/").status_code == 200
    assert other.get("/asesi/").status_code == 302
    assert old_copy.get("/asesi/").status_code == 302  # the cookie this browser had before the change is dead too
    reasons = [r.revoked_reason for r in _sign_ins(app, "asesi_a")]
    assert reasons == ["password_changed", "password_changed", None]


def _admin_post(admin, path, data):
    return admin.post(path, data={**data, "csrf_token": csrf_token(admin, "/admin/pengguna")})


def test_deactivation_and_role_change_end_every_sign_in(app, cast, login_as):
    admin = login_as("admin")
    auditor = login_as("auditor_b")
    kept = _copy_cookie(auditor, app)
    resp = _admin_post(admin, f"/admin/pengguna/{cast.users['auditor_b']}/peran", {"role": "lsp_admin"})
    assert resp.status_code == 302
    assert auditor.get("/auditor/").status_code == 302
    assert kept.get("/admin/").status_code == 302  # the copy does not come back with the new role either
    candidate = login_as("asesi_b")
    assert _admin_post(admin, f"/admin/pengguna/{cast.users['asesi_b']}/status", {"active": "0"}).status_code == 302
    assert candidate.get("/asesi/").status_code == 302
    assert [r.revoked_reason for r in _sign_ins(app, "auditor_b")] == ["role_changed"]
    assert [r.revoked_reason for r in _sign_ins(app, "asesi_b")] == ["deactivated"]


def test_sign_in_expires_on_the_server_too(app, cast):
    from datetime import timedelta

    from sqlalchemy import update

    from remote_tuk.accounts.models import SignIn
    from remote_tuk.db import utcnow
    from remote_tuk.extensions import db

    browser = app.test_client()
    login(browser, cast, "asesi_a")
    with app.app_context():
        db.session.execute(update(SignIn).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert browser.get("/asesi/").status_code == 302


def test_a_cookie_without_a_sign_in_is_not_signed_in(app, cast):
    """A cookie naming the user id and auth version (all the old cookie held) but no sign-in is refused."""
    browser = app.test_client()
    login(browser, cast, "asesi_a")
    with browser.session_transaction() as sess:
        sess.pop("sign_in")
    assert browser.get("/asesi/").status_code == 302


def test_long_ended_sign_ins_are_forgotten_at_the_next_sign_in(app, cast):
    from datetime import timedelta

    from sqlalchemy import func, update

    from remote_tuk.accounts.models import SignIn
    from remote_tuk.accounts.sign_ins import KEEP_ENDED
    from remote_tuk.db import utcnow
    from remote_tuk.extensions import db

    login(app.test_client(), cast, "asesi_a")
    login(app.test_client(), cast, "asesi_a")
    with app.app_context():
        first = db.session.scalar(select(func.min(SignIn.id)))
        db.session.execute(
            update(SignIn).where(SignIn.id == first).values(expires_at=utcnow() - KEEP_ENDED - timedelta(days=1))
        )
        db.session.commit()
    login(app.test_client(), cast, "asesi_a")
    with app.app_context():
        ids = list(db.session.scalars(select(SignIn.id).order_by(SignIn.id)))
    assert first not in ids and len(ids) == 2
