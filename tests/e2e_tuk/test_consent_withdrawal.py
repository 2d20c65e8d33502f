"""Issue 13 item 12 in Chromium: the candidate signs FR.AK.01 with their location on the check page, then withdraws
consent from the dashboard (with a confirmation and a reason); the session is cancelled and the LSP admin sees the
request with its 3 × 24 h deadline on the home page and the privacy page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import api, sign_in
from tests.e2e_tuk.flows import give_consent, open_check, watch_console

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


def test_candidate_withdraws_from_the_dashboard_and_the_lsp_is_told(tuk_server: Any, launch: Any) -> None:
    server = tuk_server()
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    browser = launch("face")
    cand = browser.new_context().new_page()
    log = watch_console(cand, "candidate")
    sign_in(cand, base, "asesi_a")
    open_check(cand, base, sid)
    # FR.AK.01 shows its fields; accepting needs the declared location
    assert "TUK jarak jauh" in cand.text_content("[data-consent-fields]")
    for box in cand.locator("[data-consent-check]").all():
        box.check()
    assert cand.is_disabled("[data-action=consent-accept]")  # no location yet
    for box in cand.locator("[data-consent-check]").all():
        box.uncheck()
    give_consent(cand)
    status, body = api(cand, "GET", f"/api/v1/sessions/{sid}/consent")
    assert status == 200 and body["form"]["fields"]["tuk"]["location"] == "Bandung, Jawa Barat"

    cand.goto(f"{base}/asesi/")
    card = f'[data-session-card="{sid}"]'
    assert cand.get_attribute(f"{card} [data-consent-state]", "data-consent-state") == "given"
    with cand.expect_navigation():
        cand.click(f"{card} [data-action=withdraw-consent]")
    assert "Yang terjadi bila Anda menarik persetujuan" in cand.text_content("main")
    cand.fill("textarea[name=reason]", "Saya belum siap.")
    cand.click("[data-action=withdraw]")  # the confirmation box is required: the browser does not submit
    assert "/tarik-persetujuan" in cand.url
    cand.check("[data-withdraw-confirm]")
    with cand.expect_navigation():
        cand.click("[data-action=withdraw]")
    assert cand.url.endswith("/asesi/")
    assert cand.get_attribute(f"{card} [data-consent-state]", "data-consent-state") == "withdrawn"
    assert cand.get_attribute(f"{card} [data-state-badge]", "class").endswith("state-cancelled")
    assert cand.locator(f"{card} [data-action=withdraw-consent]").count() == 0
    status, body = api(cand, "POST", f"/api/v1/sessions/{sid}/tuk/start", {})
    assert status == 409, body

    admin = browser.new_context().new_page()
    sign_in(admin, base, "admin", cast.totp["admin"])
    admin.goto(f"{base}/admin/")
    assert admin.get_attribute("[data-privacy-notice]", "data-open") == "1"
    with admin.expect_navigation():
        admin.click("[data-privacy-notice] a")
    row = admin.locator('[data-requests] tr[data-status="open"]')
    assert row.count() == 1 and "Penarikan persetujuan" in row.text_content()
    due = datetime.fromisoformat(row.locator("[data-due]").get_attribute("data-due"))
    received = datetime.now(due.tzinfo)
    assert timedelta(hours=71) < due - received <= timedelta(hours=72)
    assert not [line for line in log if "error" in line.lower()], log
