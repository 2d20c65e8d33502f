"""The LSP's TUK requirement profiles: validation with field errors, the default, per-scheme profiles."""

from __future__ import annotations

from sqlalchemy import func, select

from config import DEFAULT_TUK_PROFILE
from tests.conftest import csrf_token


def _form(token, name="Profil ketat", **overrides):
    data = {"csrf_token": token, "name": name, "valid_minutes": "20", "is_default": "1"}
    for req in DEFAULT_TUK_PROFILE.requirements:
        data[f"{req.key}.enabled"] = "1"
        if req.mandatory:
            data[f"{req.key}.mandatory"] = "1"
        for bound in ("min", "max", "min_height"):
            if getattr(req, bound) is not None:
                data[f"{req.key}.{bound}"] = str(getattr(req, bound))
    data.update(overrides)
    return data


def _count(app):
    from remote_tuk.extensions import db
    from remote_tuk.tuk.models import RequirementProfileRecord

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RequirementProfileRecord))


def test_impossible_thresholds_are_refused_with_field_errors(app, login_as):
    admin = login_as("admin")
    token = csrf_token(admin, "/admin/profil-tuk/baru")
    resp = admin.post(
        "/admin/profil-tuk/baru",
        data=_form(
            token,
            **{
                "camera_resolution.min": "100000",
                "packet_loss.max": "150",
                "lighting.min": "-5",
                "round_trip_time.max": "abc",
            },
        ),
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "round_trip_time.max" in html and "harus angka" in html
    assert "tidak boleh negatif" in html
    resp = admin.post("/admin/profil-tuk/baru", data=_form(token, **{"camera_resolution.min": "100000"}))
    assert resp.status_code == 422
    assert "mustahil dipenuhi" in resp.get_data(as_text=True)
    assert _count(app) == 0


def test_profile_saved_default_and_used_by_sessions(app, login_as, cast):
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db
    from remote_tuk.tuk.services import profile_for

    admin = login_as("admin")
    token = csrf_token(admin, "/admin/profil-tuk/baru")
    resp = admin.post("/admin/profil-tuk/baru", data=_form(token, **{"upload_bandwidth.min": "3000"}))
    assert resp.status_code == 302
    assert "Profil ketat" in admin.get("/admin/profil-tuk/").get_data(as_text=True)
    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        assert profile_for(db.session, sess).get("upload_bandwidth").min == 3000
    # a scheme-specific profile wins over the default
    resp = admin.post(
        "/admin/profil-tuk/baru", data=_form(token, name="Skema JWD", is_default="", **{"upload_bandwidth.min": "500"})
    )
    assert resp.status_code == 302
    from remote_tuk.tuk.models import RequirementProfileRecord

    with app.app_context():
        pid = db.session.scalar(select(RequirementProfileRecord.id).where(RequirementProfileRecord.name == "Skema JWD"))
    assert (
        admin.post(
            "/admin/profil-tuk/skema",
            data={"csrf_token": token, "scheme_id": str(cast.scheme_id), "profile_id": str(pid)},
        ).status_code
        == 302
    )
    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        assert profile_for(db.session, sess).get("upload_bandwidth").min == 500
    # the dossier quotes the LSP's default profile
    from remote_tuk.dossier.facts import _lsp_profile

    with app.app_context():
        assert _lsp_profile(db.session).get("upload_bandwidth").min == 3000
    assert (
        admin.post(
            "/admin/profil-tuk/skema", data={"csrf_token": token, "scheme_id": "999", "profile_id": ""}
        ).status_code
        == 422
    )


def test_duplicate_name_and_unknown_profile(app, login_as):
    admin = login_as("admin")
    token = csrf_token(admin, "/admin/profil-tuk/baru")
    assert admin.post("/admin/profil-tuk/baru", data=_form(token)).status_code == 302
    assert admin.post("/admin/profil-tuk/baru", data=_form(token)).status_code == 409
    assert admin.get("/admin/profil-tuk/4242").status_code == 404


def test_only_admins(login_as):
    for who in ("asesor_a", "asesi_a", "auditor_a"):
        assert login_as(who).get("/admin/profil-tuk/").status_code == 403
