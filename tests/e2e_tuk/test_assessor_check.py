"""The assessor's own connection check on the same page (no consent, no ID and room; no camera requirements)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import api, sign_in
from tests.e2e_tuk.flows import by_key, open_check, run_check, state, watch_console

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


def test_assessor_checks_own_connection(tuk_server: Any, launch: Any) -> None:
    server = tuk_server()
    sid, base = server.cast.session_a, server.url()
    browser = launch("face")
    asse = browser.new_context().new_page()
    log = watch_console(asse, "assessor")
    sign_in(asse, base, "asesor_a", server.cast.totp["asesor_a"])
    open_check(asse, base, sid)
    assert state(asse)["step"] == "devices"
    assert asse.locator("[data-step=consent], [data-step=identity], [data-action=ktp-take]").count() == 0

    # Before the candidate has started (the session is still scheduled) the assessor can already test their own link.
    rows, _ = run_check(asse)
    assert state(asse)["media"] == "measured"
    assert by_key(rows)["upload_bandwidth"]["pass"] and by_key(rows)["round_trip_time"]["source"] == "diukur server"
    assert by_key(rows)["packet_loss"]["pass"], rows

    # The candidate consents and starts (the session is checking): the assessor's media test runs.
    cand = browser.new_context().new_page()
    sign_in(cand, base, "asesi_a")
    open_check(cand, base, sid)
    for text in api(cand, "GET", f"/api/v1/sessions/{sid}/consent")[1]["offered"]:
        consent = {"kind": text["kind"], "version": text["version"], "accept": True, "location": "Bandung"}
        assert api(cand, "POST", f"/api/v1/sessions/{sid}/consent", consent)[0] == 201
    assert api(cand, "POST", f"/api/v1/sessions/{sid}/tuk/start", {})[0] == 201
    rows, _ = run_check(asse)
    print("\n".join(log))
    res = by_key(rows)
    assert state(asse)["media"] == "measured"
    assert not {"camera_resolution", "face_visible", "lighting", "camera_fps"} & set(res)
    assert res["round_trip_time"]["pass"] and res["round_trip_time"]["source"] == "diukur server"
    failed = [r["key"] for r in rows if not r["pass"]]
    assert not failed, rows
