"""The session state machine: every legal path works, everything else is refused with a clear error."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from remote_tuk.assessment.models import SessionState as S
from remote_tuk.assessment.services import TRANSITIONS
from tests.conftest import csrf_token, satisfy_gate

ALL_STATES = list(S)


def _api(client, cast, to, reason=None):
    token = csrf_token(client, "/akun/kata-sandi")
    body = {"to": to} if reason is None else {"to": to, "reason": reason}
    return client.post(f"/api/v1/sessions/{cast.session_a}/transition", json=body, headers={"X-CSRFToken": token})


def test_full_lifecycle_by_the_assessor(login_as, cast, app, database):
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    satisfy_gate(database[0], cast.session_a)
    asesor = login_as("asesor_a")
    for to in ["checking", "ready", "live", "paused", "live", "ended"]:
        resp = _api(asesor, cast, to)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["state"] == to
    # decided only once every unit has its K/BK decision
    refused = _api(asesor, cast, "decided")
    assert refused.status_code == 422 and "units" in refused.get_json()["details"]
    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        units = [u.id for u in sess.schedule.scheme.units]
    token = csrf_token(asesor, "/akun/kata-sandi")
    for uid in units:
        r = asesor.post(f"/api/v1/sessions/{cast.session_a}/decisions", headers={"X-CSRFToken": token},
                        json={"unit_id": uid, "verdict": "BK", "reason": "Bukti belum memadai."})
        assert r.status_code == 201
    assert _api(asesor, cast, "decided").get_json()["state"] == "decided"

    with app.app_context():
        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        path = [(t.from_state.value, t.to_state.value) for t in sess.transitions]
    assert path == [
        ("scheduled", "checking"),
        ("checking", "ready"),
        ("ready", "live"),
        ("live", "paused"),
        ("paused", "live"),
        ("live", "ended"),
        ("ended", "decided"),
    ]


@pytest.mark.parametrize("to", ["ready", "live", "paused", "ended", "decided"])
def test_skipping_states_is_refused(login_as, cast, to):
    resp = _api(login_as("asesor_a"), cast, to)
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["error"] == "invalid_transition"
    assert body["details"]["from"] == "scheduled"
    assert "checking" in body["details"]["allowed"]


def test_decided_and_cancelled_are_final(login_as, cast):
    asesor = login_as("asesor_a")
    assert _api(asesor, cast, "cancelled", reason="Asesi sakit, dijadwalkan ulang").status_code == 200
    for to in ALL_STATES:
        assert _api(asesor, cast, to.value, reason="x").status_code == 409


def test_cancel_needs_a_reason(login_as, cast):
    asesor = login_as("asesor_a")
    resp = _api(asesor, cast, "cancelled")
    assert resp.status_code == 422
    assert resp.get_json()["details"] == {"reason": "wajib diisi"}
    assert _api(asesor, cast, "cancelled", reason="   ").status_code == 422


def test_candidate_may_only_start_the_check(login_as, cast):
    asesi = login_as("asesi_a")
    assert _api(asesi, cast, "checking").status_code == 200
    assert _api(asesi, cast, "ready").status_code == 403
    assert _api(asesi, cast, "cancelled", reason="ingin batal").status_code == 403


def test_auditor_cannot_change_state(login_as, cast):
    assert _api(login_as("auditor_a"), cast, "checking").status_code == 403


@pytest.mark.parametrize(
    "body", [{"to": "flying"}, {}, {"to": "live", "extra": 1}, {"to": "cancelled", "reason": "x" * 2001}]
)
def test_bad_bodies(login_as, cast, body):
    client = login_as("asesor_a")
    token = csrf_token(client, "/akun/kata-sandi")
    resp = client.post(f"/api/v1/sessions/{cast.session_a}/transition", json=body, headers={"X-CSRFToken": token})
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "validation_failed"


def test_non_json_body(login_as, cast):
    client = login_as("asesor_a")
    token = csrf_token(client, "/akun/kata-sandi")
    resp = client.post(
        f"/api/v1/sessions/{cast.session_a}/transition",
        data="to=live",
        headers={"X-CSRFToken": token, "Content-Type": "text/plain"},
    )
    assert resp.status_code == 422


def test_transition_table_is_closed():
    """Every transition names at least one role, and nothing leaves a final state."""
    for (src, _dst), roles in TRANSITIONS.items():
        assert roles
        assert src not in (S.DECIDED, S.CANCELLED)


def test_html_form_transition(login_as, cast):
    client = login_as("asesor_a")
    token = csrf_token(client, f"/sesi/{cast.session_a}")
    resp = client.post(f"/sesi/{cast.session_a}/status", data={"to": "checking", "csrf_token": token})
    assert resp.status_code == 302
    page = client.get(f"/sesi/{cast.session_a}").get_data(as_text=True)
    assert "Pemeriksaan TUK" in page
    bad = client.post(f"/sesi/{cast.session_a}/status", data={"to": "decided", "csrf_token": token})
    assert bad.status_code == 409
    assert "tidak dapat diubah" in bad.get_data(as_text=True)
