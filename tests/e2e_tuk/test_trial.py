"""Issue 19 #3 end to end in Chromium: the candidate's trial (uji coba) before the day — the consent preview, the TUK
check's steps, the self-test recording played back to them and sent — and the real session untouched afterwards
(state, consent, TUK checks, evidence chain); the LSP's schedule page lists who has done it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import api, sign_in
from tests.e2e_tuk.flows import by_key, run_check, state, wait_state, watch_console

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

PLAYBACK_JS = """() => { const v = document.querySelector('[data-selftest-playback]');
  return {duration: v.duration, ended: v.ended, currentTime: v.currentTime, played: v.played.length ?
          v.played.end(v.played.length - 1) : 0, hidden: v.hidden, width: v.videoWidth}; }"""


def test_candidate_runs_the_trial_and_the_session_is_untouched(tuk_server: Any, launch: Any, tmp_path: Path) -> None:
    server = tuk_server()
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    browser = launch("face")
    cand = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    log = watch_console(cand, "candidate")
    try:
        sign_in(cand, base, "asesi_a")
        # the way in: the candidate's session page
        cand.goto(f"{base}/sesi/{sid}")
        cand.click("[data-step=trial]")
        cand.wait_for_selector("#tuk[data-trial][data-step]", state="attached", timeout=15_000)
        assert cand.url.endswith(f"/sesi/{sid}/uji-coba")
        # the consent texts as a preview: read, not consented (no location to declare)
        wait_state(cand, lambda s: s.get("step") == "consent", 10, "the consent preview")
        assert cand.locator("[data-consent-kind]").count() == 2
        assert cand.locator("[data-consent-location]").count() == 0
        assert cand.is_disabled("[data-action=consent-accept]")
        for box in cand.locator("[data-consent-check]").all():
            box.check()
        cand.click("[data-action=consent-accept]")
        wait_state(cand, lambda s: s.get("step") == "devices", 15, "the preview read")

        rows, seconds = run_check(cand)
        s = state(cand)
        res = by_key(rows)
        print(f"\nTRIAL CHECK: {seconds:.1f} s; passed={s.get('passed')} media={s.get('media')}")
        assert s["media"] == "skipped"
        assert "camera_resolution" not in res and "round_trip_time" not in res  # measured on the day, not in a trial
        assert res["upload_bandwidth"]["pass"] and res["download_bandwidth"]["pass"]
        assert s["passed"] == "1", [r for r in rows if not r["pass"]]
        assert cand.locator("[data-trial-media-note]").count() == 1

        # the self-test: ~10 s recorded, played back on the page, reported, then sent
        cand.click("[data-action=to-selftest]")
        wait_state(cand, lambda s: s.get("step") == "selftest", 10, "the self-test step")
        cand.wait_for_function("() => document.querySelector('[data-selftest-live]').videoWidth > 0", timeout=15_000)
        cand.click("[data-action=selftest-record]")
        s = wait_state(cand, lambda s: s.get("selftest") in ("played", "failed"), 60, "the self-test played back")
        assert s["selftest"] == "played", (s, cand.text_content("[data-selftest-note]"))
        video = cand.evaluate(PLAYBACK_JS)
        print(f"SELF-TEST PLAYBACK: {video}")
        assert not video["hidden"] and video["width"] > 0
        assert 8 < video["duration"] < 13 and video["ended"] and video["played"] > 8
        assert 8 < float(s["selftestSeconds"]) < 13
        cand.click("[data-action=selftest-send]")
        s = wait_state(cand, lambda s: s.get("selftest") in ("sent", "failed"), 30, "the self-test sent")
        assert s["selftest"] == "sent", cand.text_content("[data-selftest-note]")

        # what the trial kept, as the candidate's page reads it; the real session's gate as before
        code, body = api(cand, "GET", f"/api/v1/sessions/{sid}/trial/status")
        assert code == 200 and body["trial"]["passed"] is True and body["trial"]["selftest_sent"] is True
        assert body["trial"]["consent_previewed"] is True
        code, st = api(cand, "GET", f"/api/v1/sessions/{sid}/tuk/status")
        assert code == 200 and st["state"] == "scheduled" and st["consent"] == [] and st["check"] is None

        # the LSP's schedule page: asesi_a has done it (passed), nobody else on the schedule
        admin = browser.new_context().new_page()
        sign_in(admin, base, "admin", cast.totp.get("admin"))
        admin.goto(f"{base}/admin/jadwal/{cast.schedule_a}")
        row = admin.locator(f'[data-trial-row="{sid}"]')
        assert row.get_attribute("data-trial-done") == "1" and row.get_attribute("data-trial-passed") == "1"
        assert "diputar dan dikirim" in row.text_content()
    except Exception:
        print("\n".join(log))
        print(server.log_tail())
        raise
    finally:
        cand.context.close()

    server.stop()
    with server.app_context() as app:
        from sqlalchemy import func, select

        from remote_tuk.assessment.models import AssessmentSession
        from remote_tuk.consent.models import ConsentForm
        from remote_tuk.extensions import db, evidence
        from remote_tuk.trial.models import TrialRun
        from remote_tuk.tuk.models import Consent, IdentityCheck, TukCheck

        sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
        assert sess.state.value == "scheduled"
        for model in (Consent, ConsentForm, TukCheck, IdentityCheck):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0, model
        store = evidence.store
        with store.log.locked() as st:
            assert sid not in st.heads  # the session's chain was never opened
        run = db.session.scalar(select(TrialRun).where(TrialRun.finished_at.is_not(None)))
        assert run.passed is True and run.selftest_object and 8 < run.selftest_seconds < 13
        types = [e.get("type") for e in store.list_entries(run.chain_id)]
        assert types.count("trial.check") == 1 and types.count("trial.selftest") == 1
        assert app is not None
