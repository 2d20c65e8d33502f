"""Issue 13 #7: unit decisions follow the evidence. K only when every KUK of the unit has evidence for K (observation
marks today, any other provider plugged in later); otherwise K is refused with the KUK lacking it; BK needs a
reason; a K made stale by a later mark keeps the session from being decided."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token, login, satisfy_gate


@pytest.fixture
def ended(app, cast):
    """The assessor of session A, the session ended; returns (client, token, units {id: [kuk ids]})."""
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    satisfy_gate(app.config["RTUK"].sqlalchemy_url, cast.session_a)
    http = app.test_client()
    login(http, cast, "asesor_a")
    token = csrf_token(http, "/akun/kata-sandi")
    for to in ("checking", "ready", "live", "ended"):
        r = http.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": to}, headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()
    with app.app_context():
        s = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        units = {u.id: [k.id for e in u.elements for k in e.kuks] for u in s.schedule.scheme.units}
    return http, token, units


def _mark(http, token, cast, kuk_id, verdict):
    r = http.post(f"/api/v1/sessions/{cast.session_a}/marks", json={"kuk_id": kuk_id, "verdict": verdict},
                  headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.get_json()


def _decide(http, token, cast, unit_id, verdict, reason="Sesuai bukti yang ada."):
    return http.post(f"/api/v1/sessions/{cast.session_a}/decisions", headers={"X-CSRFToken": token},
                     json={"unit_id": unit_id, "verdict": verdict, "reason": reason})


def test_k_needs_evidence_for_k_on_every_kuk(ended, cast):
    http, token, units = ended
    (u1, kuks1), (u2, _kuks2), (u3, kuks3) = list(units.items())
    # no marks at all: refused, every KUK of the unit listed
    r = _decide(http, token, cast, u2, "K")
    assert r.status_code == 422 and r.get_json()["error"] == "kuk_evidence_missing"
    assert len(next(iter(r.get_json()["details"]["kuk"].values()))) == len(units[u2])
    # one KUK marked BK (the rest K): refused, that KUK named
    for k in kuks1:
        _mark(http, token, cast, k, "K")
    _mark(http, token, cast, kuks1[0], "BK")
    r = _decide(http, token, cast, u1, "K")
    assert r.status_code == 422
    (lacking,) = r.get_json()["details"]["kuk"].values()
    assert len(lacking) == 1
    # BK always with a reason; BK with a reason is accepted
    assert _decide(http, token, cast, u1, "BK", reason="").status_code == 422
    assert _decide(http, token, cast, u1, "BK").status_code == 201
    # every KUK K (the current version counts: BK then K is K)
    for k in kuks3:
        _mark(http, token, cast, k, "BK")
        _mark(http, token, cast, k, "K")
    assert _decide(http, token, cast, u3, "K").status_code == 201

    evidence = http.get(f"/api/v1/sessions/{cast.session_a}/units/evidence").get_json()["units"]
    by_unit = {u["unit_id"]: u for u in evidence}
    assert by_unit[u3]["k_allowed"] and by_unit[u3]["decision"]["verdict"] == "K"
    assert not by_unit[u1]["k_allowed"] and by_unit[u1]["lacking"] and by_unit[u1]["decision"]["verdict"] == "BK"
    assert not by_unit[u2]["k_allowed"] and by_unit[u2]["decision"] is None
    first = by_unit[u1]["kuks"][0]
    assert first["why_not"] == "bk" and first["evidence"][0]["source"] == "observation"
    assert by_unit[u2]["kuks"][0]["why_not"] == "no_evidence"


def test_a_k_made_stale_by_a_later_mark_keeps_the_session_undecided(ended, cast):
    http, token, units = ended
    for k in (k for kuks in units.values() for k in kuks):
        _mark(http, token, cast, k, "K")
    for unit in units:
        assert _decide(http, token, cast, unit, "K").status_code == 201
    first_unit, kuks = next(iter(units.items()))
    _mark(http, token, cast, kuks[-1], "BK")  # the assessor changes their mind after deciding
    r = http.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": "decided"},
                  headers={"X-CSRFToken": token})
    assert r.status_code == 422 and r.get_json()["error"] == "kuk_evidence_missing"
    assert _decide(http, token, cast, first_unit, "BK").status_code == 201
    r = http.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": "decided"},
                  headers={"X-CSRFToken": token})
    assert r.status_code == 200


def test_other_methods_of_assessment_plug_in_as_providers(ended, cast, monkeypatch):
    """The extension point: a provider (e.g. written answers, FR.IA.05) counts like observation does."""
    from remote_tuk.assessment import evidence as unit_evidence

    http, token, units = ended
    unit, kuks = next(iter(units.items()))

    def written(db, session):
        for k in kuks:
            yield unit_evidence.KukEvidence(kuk_id=k, source="written", verdict="K", label="Tertulis (FR.IA.05)")

    monkeypatch.setattr(unit_evidence, "PROVIDERS", [*unit_evidence.PROVIDERS, written])
    assert _decide(http, token, cast, unit, "K").status_code == 201  # no observation marks, the written ones count
    _mark(http, token, cast, kuks[0], "BK")  # observation contradicts: no longer K
    assert _decide(http, token, cast, unit, "K").status_code == 422
