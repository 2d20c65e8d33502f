"""Every page and API for every role, including cross-user attempts (object-level checks)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token

PEOPLE = [None, "admin", "asesor_a", "asesor_b", "asesi_a", "asesi_b", "auditor_a", "auditor_b"]
ROLE = {
    "admin": "admin",
    "asesor_a": "asesor",
    "asesor_b": "asesor",
    "asesi_a": "asesi",
    "asesi_b": "asesi",
    "auditor_a": "auditor",
    "auditor_b": "auditor",
}
ALL = {"admin", "asesor", "asesi", "auditor"}

# (path template, roles that may open this kind of page, people who may open this very object or None for "everyone
# with the role")
PAGES = [
    ("/admin/", {"admin"}, None),
    ("/admin/lsp", {"admin"}, None),
    ("/admin/skema", {"admin"}, None),
    ("/admin/skema/{scheme}", {"admin"}, None),
    ("/admin/skema/{scheme}/ekspor.json", {"admin"}, None),
    ("/admin/skema/{scheme}/ekspor.csv", {"admin"}, None),
    ("/admin/pengguna", {"admin"}, None),
    ("/admin/jadwal", {"admin"}, None),
    ("/admin/jadwal/{schedule_a}", {"admin"}, None),
    ("/admin/audit", {"admin"}, None),
    ("/admin/dosir/", {"admin"}, None),
    ("/asesor/", {"asesor"}, None),
    ("/asesi/", {"asesi"}, None),
    ("/auditor/", {"auditor"}, None),
    ("/akun/kata-sandi", ALL, None),
    ("/jadwal/{schedule_a}", {"admin", "asesor", "auditor"}, {"admin", "asesor_a", "auditor_a"}),
    ("/jadwal/{schedule_b}", {"admin", "asesor", "auditor"}, {"admin", "asesor_b"}),
    ("/sesi/{session_a}", ALL, {"admin", "asesor_a", "auditor_a", "asesi_a"}),
    ("/sesi/{session_b}", ALL, {"admin", "asesor_b", "asesi_b"}),
    ("/api/v1/sessions/{session_a}", ALL, {"admin", "asesor_a", "auditor_a", "asesi_a"}),
    ("/sesi/{session_a}/langsung", ALL, {"admin", "asesor_a", "auditor_a", "asesi_a"}),
    ("/sesi/{session_b}/langsung", ALL, {"admin", "asesor_b", "asesi_b"}),
    ("/sesi/{session_a}/bukti", {"admin", "asesor", "auditor"}, {"admin", "asesor_a", "auditor_a"}),
    ("/sesi/{session_a}/verifikasi-tuk", ALL, {"admin", "asesor_a", "auditor_a", "asesi_a"}),
    ("/api/v1/sessions/{session_a}/tuk/status", ALL, {"admin", "asesor_a", "auditor_a", "asesi_a"}),
    ("/admin/profil-tuk/", {"admin"}, None),
    ("/sesi/{session_b}/bukti", {"admin", "asesor", "auditor"}, {"admin", "asesor_b"}),
    ("/api/v1/sessions/{session_b}", ALL, {"admin", "asesor_b", "asesi_b"}),
]


def expected(path: str, roles: set[str], people: set[str] | None, who: str | None) -> int:
    if who is None:
        return 401 if path.startswith("/api/") else 302
    if ROLE[who] not in roles:
        return 403
    if people is not None and who not in people:
        return 404
    return 200


def fill(path: str, cast) -> str:
    return path.format(
        scheme=cast.scheme_id,
        schedule_a=cast.schedule_a,
        schedule_b=cast.schedule_b,
        session_a=cast.session_a,
        session_b=cast.session_b,
    )


@pytest.mark.parametrize("who", PEOPLE, ids=lambda w: w or "anonymous")
def test_page_matrix(login_as, cast, who):
    client = login_as(who)
    failures = []
    for template, roles, people in PAGES:
        path = fill(template, cast)
        want = expected(template, roles, people, who)
        got = client.get(path).status_code
        if got != want:
            failures.append(f"{path}: expected {want}, got {got}")
    assert not failures, "\n".join(failures)


def test_anonymous_is_sent_to_login_with_next(client, cast):
    resp = client.get(f"/sesi/{cast.session_a}")
    assert resp.status_code == 302
    assert "/masuk?next=" in resp.headers["Location"]


def test_unknown_and_foreign_ids_look_the_same(login_as, cast):
    """A 404 for another user's session is indistinguishable from a 404 for a session that does not exist."""
    client = login_as("asesi_a")
    foreign = client.get(f"/api/v1/sessions/{cast.session_b}")
    unknown = client.get("/api/v1/sessions/doesnotexist00")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.get_json() == unknown.get_json()
    foreign_page = client.get(f"/sesi/{cast.session_b}").get_data(as_text=True)
    unknown_page = client.get("/sesi/doesnotexist00").get_data(as_text=True)

    def normalise(html: str, public_id: str) -> str:
        html = re.sub(r'(csrf[-_]token"? (?:content|value)=")[^"]+', r"\1", html)
        return html.replace(public_id, "ID")

    assert normalise(foreign_page, cast.session_b) == normalise(unknown_page, "doesnotexist00")


@pytest.mark.parametrize(
    ("who", "path", "data", "want"),
    [
        ("asesor_a", "/admin/lsp", {"name": "X LSP", "lsp_type": "pihak_kesatu"}, 403),
        ("asesi_a", "/admin/pengguna", {"username": "x"}, 403),
        ("auditor_a", "/admin/jadwal", {"title": "x"}, 403),
        ("asesor_b", "/sesi/{session_a}/status", {"to": "checking"}, 404),
        ("asesi_b", "/sesi/{session_a}/status", {"to": "checking"}, 404),
        ("auditor_a", "/sesi/{session_a}/status", {"to": "checking"}, 403),
        ("asesi_a", "/sesi/{session_a}/status", {"to": "cancelled", "reason": "saya mau"}, 403),
        ("asesor_b", "/admin/sesi/{session_a}/tautan", {}, 403),
    ],
)
def test_writes_are_refused(login_as, cast, who, path, data, want):
    client = login_as(who)
    token = csrf_token(client, "/akun/kata-sandi")
    resp = client.post(fill(path, cast), data={**data, "csrf_token": token})
    assert resp.status_code == want


def test_api_transition_cross_user_refused(login_as, cast):
    client = login_as("asesor_b")
    token = csrf_token(client, "/akun/kata-sandi")
    resp = client.post(
        f"/api/v1/sessions/{cast.session_a}/transition", json={"to": "checking"}, headers={"X-CSRFToken": token}
    )
    assert resp.status_code == 404
    own = login_as("asesor_a")
    token = csrf_token(own, "/akun/kata-sandi")
    ok = own.post(
        f"/api/v1/sessions/{cast.session_a}/transition", json={"to": "checking"}, headers={"X-CSRFToken": token}
    )
    assert ok.status_code == 200
    assert ok.get_json()["state"] == "checking"


def test_admin_changes_a_role_and_it_is_audited(app, login_as, cast):
    from sqlalchemy import select

    from remote_tuk.accounts.models import Role, User
    from remote_tuk.audit.models import AuditEvent
    from remote_tuk.extensions import db

    admin = login_as("admin")
    token = csrf_token(admin, "/admin/pengguna")
    uid = cast.users["auditor_b"]
    # an auditor without a MET number cannot become an assessor
    assert admin.post(f"/admin/pengguna/{uid}/peran", data={"csrf_token": token, "role": "asesor"}).status_code == 422
    assert admin.post(f"/admin/pengguna/{uid}/peran", data={"csrf_token": token, "role": "x"}).status_code == 422
    assert (
        admin.post(f"/admin/pengguna/{uid}/peran", data={"csrf_token": token, "role": "lsp_admin"}).status_code == 302
    )
    with app.app_context():
        assert db.session.get(User, uid).role is Role.LSP_ADMIN
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "role_changed")) is not None
