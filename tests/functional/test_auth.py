"""Sign-in, CSRF, rate limiting, lockout, TOTP, join links, password change, cookies."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, csrf_token, login


def _post_login(client, username, password, token=None):
    return client.post(
        "/masuk", data={"username": username, "password": password, "csrf_token": token or csrf_token(client)}
    )


def test_candidate_login_and_logout(client, cast):
    resp = login(client, cast, "asesi_a")
    assert resp.headers["Location"].endswith("/asesi/")
    assert client.get("/asesi/").status_code == 200
    token = csrf_token(client, "/asesi/")
    assert client.post("/keluar", data={"csrf_token": token}).status_code == 302
    assert client.get("/asesi/").status_code == 302


def test_session_cookie_flags(client, cast):
    resp = login(client, cast, "asesi_a")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("rtuk_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_secure_cookie_behind_tls(cast, database, tmp_path):
    from config import load_settings
    from remote_tuk import create_app

    app = create_app(load_settings(env="testing", database_url=database[0], var_dir=tmp_path, behind_tls=True))
    client = app.test_client()
    token = csrf_token(client)
    resp = client.post(
        "/masuk",
        data={"username": "asesi_a", "password": PASSWORD, "csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/masuk"},
    )
    assert resp.status_code == 302
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("rtuk_session="))
    assert "Secure" in cookie
    app.extensions["rtuk_db"].dispose()


def test_wrong_password_is_refused_and_logged(app, client, cast):
    resp = _post_login(client, "asesi_a", "salah-sekali-123")
    assert resp.status_code == 401
    assert "salah" in resp.get_data(as_text=True)
    from remote_tuk.audit.models import AuditEvent
    from remote_tuk.extensions import db

    with app.app_context():
        kinds = db.session.scalars(select(AuditEvent.kind).where(AuditEvent.subject == "asesi_a")).all()
    assert "login_failed" in kinds


def test_unknown_user_gets_same_answer_as_wrong_password(client, cast):
    a = _post_login(client, "asesi_a", "salah-sekali-123")
    b = _post_login(client, "tidak_ada", "salah-sekali-123")
    assert a.status_code == b.status_code == 401


def test_login_without_csrf_token_is_refused(client, cast):
    resp = client.post("/masuk", data={"username": "asesi_a", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/asesi/").status_code == 302  # not signed in


def test_every_form_needs_csrf(login_as, cast):
    client = login_as("admin")
    resp = client.post("/admin/lsp", data={"name": "LSP Tanpa Token", "lsp_type": "pihak_kesatu"})
    assert resp.status_code == 400
    resp = client.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": "cancelled", "reason": "x"})
    assert resp.status_code == 400


def test_login_rate_limit_per_ip(client, cast):
    token = csrf_token(client)
    codes = [_post_login(client, "asesi_a", f"salah-{i}-xxxxx", token).status_code for i in range(6)]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429
    # even the right password is refused while limited
    assert _post_login(client, "asesi_a", PASSWORD, token).status_code == 429


def test_account_lockout_across_ips(app, cast):
    """Many failures for one account from different addresses lock that account for a while."""
    from remote_tuk.accounts.services import LOCKOUT_THRESHOLD

    for i in range(LOCKOUT_THRESHOLD):
        c = app.test_client()
        c.environ_base["REMOTE_ADDR"] = f"10.9.0.{i + 1}"
        assert _post_login(c, "asesi_b", f"salah-{i}-yyyyy").status_code == 401
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "10.9.1.1"
    assert _post_login(c, "asesi_b", PASSWORD).status_code == 429


def test_totp_required_for_admin(client, cast):
    resp = _post_login(client, "admin", PASSWORD)
    assert resp.headers["Location"].endswith("/masuk/totp")
    # not signed in before the second factor
    assert client.get("/admin/").status_code == 302
    token = csrf_token(client, "/masuk/totp")
    assert client.post("/masuk/totp", data={"code": "000000", "csrf_token": token}).status_code == 422
    code = pyotp.TOTP(cast.totp["admin"]).now()
    assert client.post("/masuk/totp", data={"code": code, "csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_totp_code_cannot_be_replayed(app, cast):
    code = pyotp.TOTP(cast.totp["asesor_a"]).now()
    first = app.test_client()
    _post_login(first, "asesor_a", PASSWORD)
    assert (
        first.post("/masuk/totp", data={"code": code, "csrf_token": csrf_token(first, "/masuk/totp")}).status_code
        == 302
    )
    second = app.test_client()
    _post_login(second, "asesor_a", PASSWORD)
    assert (
        second.post("/masuk/totp", data={"code": code, "csrf_token": csrf_token(second, "/masuk/totp")}).status_code
        == 422
    )


def test_totp_enrolment_is_forced_then_works(app, client, cast):
    """A new assessor must enrol TOTP before anything else, and then signs in with it."""
    from remote_tuk.accounts.models import Role
    from remote_tuk.accounts.services import create_user
    from remote_tuk.extensions import db

    with app.app_context():
        create_user(
            db.session,
            username="asesor_baru",
            full_name="Asesor Baru",
            role=Role.ASSESSOR,
            password=PASSWORD,
            created_by=None,
            met_number="MET.000.000099.2021",
        )
        db.session.commit()
    resp = _post_login(client, "asesor_baru", PASSWORD)
    assert resp.status_code == 302
    assert client.get("/asesor/").headers["Location"].endswith("/akun/totp")
    page = client.get("/akun/totp").get_data(as_text=True)
    assert "<svg" in page
    with app.app_context():
        from remote_tuk.accounts.models import User

        secret = db.session.scalar(select(User.totp_secret).where(User.username == "asesor_baru"))
    token = csrf_token(client, "/akun/totp")
    assert client.post("/akun/totp", data={"code": "123456", "csrf_token": token}).status_code == 422
    resp = client.post("/akun/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/asesor/").status_code == 200
    # next login asks for the code
    fresh = app.test_client()
    assert _post_login(fresh, "asesor_baru", PASSWORD).headers["Location"].endswith("/masuk/totp")


def test_password_change_signs_out_other_sessions(app, cast):
    a, b = app.test_client(), app.test_client()
    login(a, cast, "asesi_a")
    login(b, cast, "asesi_a")
    token = csrf_token(a, "/akun/kata-sandi")
    bad = a.post(
        "/akun/kata-sandi",
        data={
            "current_password": PASSWORD,
            "new_password": "pendek",
            "confirm_password": "pendek",
            "csrf_token": token,
        },
    )
    assert bad.status_code == 422
    new = "Kata-Sandi-Baru-2026!"
    ok = a.post(
        "/akun/kata-sandi",
        data={"current_password": PASSWORD, "new_password": new, "confirm_password": new, "csrf_token": token},
    )
    assert ok.status_code == 302
    assert a.get("/asesi/").status_code == 200  # this one stays in
    assert b.get("/asesi/").status_code == 302  # the other one is out
    c = app.test_client()
    assert _post_login(c, "asesi_a", PASSWORD).status_code == 401
    assert _post_login(c, "asesi_a", new).status_code == 302


def test_open_redirect_is_refused(client, cast):
    token = csrf_token(client)
    resp = client.post(
        "/masuk",
        data={"username": "asesi_a", "password": PASSWORD, "csrf_token": token, "next": "https://evil.example/"},
    )
    assert resp.headers["Location"].endswith("/asesi/")


# --- join links ---------------------------------------------------------------------------------------------------


def _issue(app, cast, *, ttl=timedelta(hours=1)):
    from remote_tuk.accounts.join_links import issue
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        admin = db.session.get(type(sess.candidate), cast.users["admin"])
        issued = issue(
            db.session,
            app.config["SECRET_KEY"],
            session_id=sess.id,
            candidate_id=sess.candidate_id,
            created_by=admin,
            ttl=ttl,
        )
    return issued.token


def redeem(client, path: str):
    """What the candidate does: open the link, then press the button on the page (a POST with the page's token)."""
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_token(client, path)})


def test_join_link_signs_in_once(app, cast):
    token = _issue(app, cast)
    c = app.test_client()
    resp = redeem(c, f"/gabung/{token}")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/sesi/{cast.session_a}")
    assert c.get(f"/sesi/{cast.session_a}").status_code == 200
    again = redeem(app.test_client(), f"/gabung/{token}")
    assert again.status_code == 410
    assert "sudah dipakai" in again.get_data(as_text=True)
    # the POST straight away (a stale page's button) is refused the same way, and audited
    other = app.test_client()
    late = other.post(f"/gabung/{token}", data={"csrf_token": csrf_token(other)})
    assert late.status_code == 410


def test_join_link_expiry(app, cast):
    token = _issue(app, cast, ttl=timedelta(seconds=1))
    time.sleep(1.2)
    resp = redeem(app.test_client(), f"/gabung/{token}")
    assert resp.status_code == 410
    assert "kedaluwarsa" in resp.get_data(as_text=True)


@pytest.mark.parametrize("token", ["x", "eyJqIjoiYWJjIn0.forged.signature", "a" * 500])
def test_join_link_forged_or_garbage(app, cast, token):
    assert app.test_client().get(f"/gabung/{token}").status_code == 410
    c = app.test_client()
    assert c.post(f"/gabung/{token}", data={"csrf_token": csrf_token(c)}).status_code == 410


def test_admin_creates_join_link_from_schedule_page(login_as, cast):
    admin = login_as("admin")
    token = csrf_token(admin, f"/admin/jadwal/{cast.schedule_a}")
    page = admin.post(f"/admin/sesi/{cast.session_a}/tautan", data={"csrf_token": token}).get_data(as_text=True)
    import re

    url = re.search(r"data-join-link>([^<]+)<", page).group(1)
    path = url.split("localhost", 1)[1]
    candidate = login_as(None)
    assert redeem(candidate, path).status_code == 302
    assert candidate.get("/asesi/").status_code == 200
