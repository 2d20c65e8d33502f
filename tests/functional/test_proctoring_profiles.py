"""The proctoring profile per scheme (issue 14 #5): the LSP admin edits it (bad values refused with 422 and the
field named), the live analysis of a session of that scheme uses it, the SOP dossier states it."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from config import DEFAULT_PROCTORING_PROFILE
from config.proctoring_profile import PROCTORING_KINDS
from tests.components import require
from tests.conftest import csrf_token


def _form(token, profile=DEFAULT_PROCTORING_PROFILE, **overrides):
    data = {"csrf_token": token, "name": "Profil ketat", "sample_fps": str(profile.sample_fps),
            "fullscreen_required": "1", "prompts_enabled": "1", "identity.enabled": "1"}
    for kind in PROCTORING_KINDS:
        rule = profile.rules[kind]
        if rule.enabled:
            data[f"{kind}.enabled"] = "1"
        for f in ("hold_s", "clear_s", "repeat_s"):
            data[f"{kind}.{f}"] = str(getattr(rule, f))
    for f, v in profile.thresholds.model_dump().items():
        data[f"thresholds.{f}"] = str(v)
    for f in ("interval_s", "window_s", "min_samples"):
        data[f"identity.{f}"] = str(getattr(profile.identity, f))
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _stored(app, scheme_id):
    from remote_tuk.extensions import db
    from remote_tuk.proctoring.models import SchemeProctoringProfile

    with app.app_context():
        row = db.session.get(SchemeProctoringProfile, scheme_id)
        return None if row is None else row.data


def test_bad_values_are_refused_with_the_field_named(app, login_as, cast):
    admin = login_as("admin")
    url = f"/admin/profil-pengawasan/{cast.scheme_id}"
    token = csrf_token(admin, url)
    for field, value, message in [
        ("no_face.hold_s", "-1", "no_face.hold_s"),
        ("sample_fps", "60", "sample_fps"),
        ("thresholds.covered_std", "abc", "thresholds.covered_std"),
        ("frozen.hold_s", "0.5", "frozen"),  # shorter than the detector's own window
        ("identity.interval_s", "20", "identity"),  # 3 comparisons 20 s apart do not fit a 10 s window
        ("name", "", "name"),
    ]:
        overrides = {field: value, **({"identity.window_s": "10"} if field == "identity.interval_s" else {})}
        resp = admin.post(url, data=_form(token, **overrides))
        assert resp.status_code == 422, (field, resp.status_code)
        assert message in resp.get_data(as_text=True), field
    assert _stored(app, cast.scheme_id) is None
    assert admin.get("/admin/profil-pengawasan/999999").status_code == 404
    assert admin.post("/admin/profil-pengawasan/999999", data=_form(token)).status_code == 404


def test_only_the_lsp_admin_edits_profiles(app, login_as, cast):
    for who in ("asesor_a", "asesi_a", "auditor_a"):
        client = login_as(who)
        assert client.get("/admin/profil-pengawasan/").status_code == 403, who
        assert client.get(f"/admin/profil-pengawasan/{cast.scheme_id}").status_code == 403, who


def test_saved_profile_is_used_by_the_live_analysis_and_reset(app, login_as, cast):
    from remote_tuk.audit.models import AuditEvent
    from remote_tuk.extensions import db
    from remote_tuk.proctoring import profiles
    from remote_tuk.proctoring.runner import LiveProctoring

    admin = login_as("admin")
    url = f"/admin/profil-pengawasan/{cast.scheme_id}"
    page = admin.get(url)
    assert page.status_code == 200 and "no_face.hold_s" in page.get_data(as_text=True)
    token = csrf_token(admin, url)
    resp = admin.post(url, data=_form(token, **{"no_face.hold_s": "5,5", "sample_fps": "2",
                                                "blurred.enabled": None, "thresholds.covered_std": "6"}))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    data = _stored(app, cast.scheme_id)
    assert data["rules"]["no_face"]["hold_s"] == 5.5 and data["rules"]["blurred"]["enabled"] is False
    listing = admin.get("/admin/profil-pengawasan/").get_data(as_text=True)
    assert "Profil ketat" in listing

    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.kind == profiles.PROFILE_CHANGED)) is not None
        hub = LiveProctoring(app.extensions["rtuk_db"].new_session, lambda: None, lambda *a: None)
        profile = hub.profile_for(cast.session_a)  # a session of that scheme
        assert profile.name == "Profil ketat" and profile.sample_fps == 2.0
        assert profile.rule("no_face").hold_s == 5.5 and profile.thresholds.covered_std == 6.0
        assert not profile.rule("blurred").enabled

    resp = admin.post(url, data={"csrf_token": token, "action": "reset"})
    assert resp.status_code == 302
    assert _stored(app, cast.scheme_id) is None
    with app.app_context():
        hub = LiveProctoring(app.extensions["rtuk_db"].new_session, lambda: None, lambda *a: None)
        assert hub.profile_for(cast.session_a) == DEFAULT_PROCTORING_PROFILE


def test_the_dossier_states_the_profile_in_force_per_scheme(app, login_as, cast):
    require(shutil.which("dot") is not None, "graphviz (dot)", "apt-get install graphviz")
    from tests.functional.test_dossier import _fill_everything

    admin = login_as("admin")
    _fill_everything(admin)
    html = admin.get("/admin/dosir/pratinjau").get_data(as_text=True)
    assert 'data-proctoring-profile="SKM-JWD-2026"' in html and "profil standar aplikasi" in html
    assert "Sistem tidak melakukan analisis otomatis" not in html
    url = f"/admin/profil-pengawasan/{cast.scheme_id}"
    token = csrf_token(admin, url)
    assert admin.post(url, data=_form(token, name="Profil ujian tulis", **{"no_face.hold_s": "7"})).status_code == 302
    html = admin.get("/admin/dosir/pratinjau").get_data(as_text=True)
    assert "Profil ujian tulis" in html and "7.0 detik" in html


@pytest.mark.parametrize("path", ["/admin/profil-pengawasan/abc", "/admin/profil-pengawasan/99999999999999"])
def test_odd_scheme_ids_are_not_found(login_as, path):
    assert login_as("admin").get(path).status_code == 404
