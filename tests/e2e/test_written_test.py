"""Issue 16 items 3–5 in real Chromium against the real server: the assessor opens a 10-question written test from the
live page; the candidate answers it on their live page while the session is live and recorded; answers autosave and
a reload keeps them; the timer ends the test and a later answer is refused; the automatic score is right; no HTTP
response and no Socket.IO frame the candidate's page receives carries the key; the assessor scores an essay and
judges an oral question (at the media clock) from the page; the decision shows the evidence per KUK; the session's
bundle with all of it verifies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remote_tuk.demo import DEMO_BANK
from tests.components import require
from tests.e2e.conftest import Server, api, chromium_available, sign_in, wait_until
from tests.e2e.test_live_session import move, open_live, shot

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

DEMO = json.loads(DEMO_BANK.read_text())
MC_CODES = [f"PG-{i:02d}" for i in range(1, 9)]
ESSAY_CODES = ["ES-01", "ES-02"]
WRONG = {"PG-07", "PG-08"}
DURATION_S = 60  # the smallest the page offers: 1 minute


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    require(chromium_available(), "Debian Chromium + the playwright package", "apt-get install -y chromium")
    srv = Server(tmp_path / "server")
    srv.tmp.mkdir(parents=True)
    srv.prepare()
    from remote_tuk.extensions import db
    from remote_tuk.instruments import services as instruments

    with srv.app_context():
        instruments.import_bank(db.session, DEMO_BANK.read_bytes(), DEMO_BANK.name, actor=None)
    srv.start()
    yield srv
    srv.stop()


def _right_positions(server: Server, sid: str) -> dict[str, int]:
    """uid -> the position of the right option on the candidate's screen, from the database (the key and the seed)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.instruments import services as bank
    from remote_tuk.instruments.models import QuestionKind

    engine = create_engine(server.db_url)
    try:
        with Session(engine) as s:
            session = s.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
            use = bank.use_of(s, session, "written")
            revs = bank.questions_of(s, use, (QuestionKind.MULTIPLE_CHOICE,))
            keys = bank.keys_for(s, revs)
            return {r.uid: bank.option_order(use.seed, r.uid, len(r.options)).index(keys[r.id].correct_option)
                    for r in revs}
    finally:
        engine.dispose()


def _no_key(text: str) -> list[str]:
    found = [e[:40] for e in (q.get("expected_answer") for q in DEMO["questions"]) if e and e[:60] in text]
    found += [f for f in ('"correct', '"expected_answer"', '"score"', '"mc_correct"', '"option":') if f in text]
    return found


def test_candidate_answers_a_written_test_opened_by_the_assessor(server: Server, browser: Any) -> None:
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    assessor = browser.new_context().new_page()
    sign_in(assessor, base, "asesor_a", cast.totp["asesor_a"])
    candidate = browser.new_context().new_page()
    sign_in(candidate, base, "asesi_a")

    # everything the candidate's browser receives: HTTP responses and Socket.IO frames
    seen: list[str] = []

    def on_response(resp: Any) -> None:
        if "/api/" in resp.url or "/langsung" in resp.url:
            try:
                seen.append(resp.text())
            except Exception:  # noqa: BLE001 - a body not kept (e.g. a redirect) has nothing to check
                pass

    candidate.on("response", on_response)
    candidate.on("websocket", lambda ws: ws.on("framereceived", lambda payload: seen.append(str(payload))))

    move(assessor, sid, "checking", "ready", "live")
    open_live(assessor, base, sid)
    open_live(candidate, base, sid)

    # 1. the assessor chooses 10 questions and a minute, and opens the test from the live page
    assessor.wait_for_selector("[data-written-open]:not([hidden]) [data-written-choices] input", timeout=20_000)
    assessor.click("[data-written-all]")  # none
    wanted = MC_CODES + ESSAY_CODES
    for code in wanted:
        assessor.check(f'[data-written-choices] input[value^="{code}@"]')
    assessor.fill("[data-written-open] [name=minutes]", "1")
    assessor.click("[data-written-open] button.primary")
    assessor.wait_for_selector("[data-written-run]:not([hidden])", timeout=10_000)

    # 2. the candidate's page shows it (told over /live) and the candidate answers: 6 right, 2 wrong, 2 essays
    candidate.wait_for_selector("[data-written][data-status=open] .written-question", timeout=15_000)
    uids = candidate.eval_on_selector_all(".written-question", "els => els.map((e) => e.dataset.uid)")
    assert sorted(u.split("@")[0] for u in uids) == sorted(wanted)  # in the bank's order (unit, element, KUK)
    essays = [u for u in uids if u.split("@")[0] in ESSAY_CODES]
    right = _right_positions(server, sid)
    chosen: dict[str, int] = {}
    for uid in uids:
        code = uid.split("@")[0]
        item = f'.written-question[data-uid="{uid}"]'
        if code in ESSAY_CODES:
            candidate.fill(f"{item} textarea", f"Jawaban {code}: antrean berkapasitas tetap, FIFO, O(1).")
            candidate.locator(f"{item} textarea").blur()
        else:
            chosen[uid] = right[uid] if code not in WRONG else (right[uid] + 1) % 4
            candidate.check(f'{item} input[data-choice="{chosen[uid]}"]')
        candidate.wait_for_selector(f'{item}[data-save=saved]', timeout=10_000)
    assert candidate.get_attribute("[data-written]", "data-answered") == "10"
    shot(candidate, "written-candidate")

    # 3. a reload keeps every answer; the assessor follows the progress live
    candidate.reload()
    candidate.wait_for_selector("[data-written][data-status=open] .written-question", timeout=20_000)
    for uid, pos in chosen.items():
        assert candidate.is_checked(f'.written-question[data-uid="{uid}"] input[data-choice="{pos}"]'), uid
    for uid in essays:
        assert "FIFO" in candidate.input_value(f'.written-question[data-uid="{uid}"] textarea')
    assessor.wait_for_selector('[data-written-run][data-answered="10"]', timeout=15_000)

    # 4. the timer ends the test (on the session media clock); a later answer is refused
    candidate.wait_for_selector("[data-written][data-status=closed]", timeout=(DURATION_S + 30) * 1000)
    assert candidate.locator(".written-question input").first.is_disabled()
    status, body = api(candidate, "POST", f"/api/v1/sessions/{sid}/written/answers", {"uid": uids[0], "choice": 0})
    assert status == 409 and body["error"] == "test_closed", body

    # 5. the automatic score is right; the assessor scores an essay and judges an oral question from the page
    assessor.wait_for_selector('[data-written-run][data-mc-correct="6"]', timeout=15_000)
    status, written = api(assessor, "GET", f"/api/v1/sessions/{sid}/written")
    assert written["test"]["closed_reason"] == "time_up"
    assert written["test"]["score"]["mc_correct"] == 6 and written["test"]["score"]["mc_total"] == 8
    essay = f'.written-review-item[data-uid="{essays[0]}"]'
    assessor.click(f"{essay} [data-essay-verdict=K]")
    assessor.wait_for_selector(f'{essay} [data-scored="K"]', timeout=10_000)
    assessor.select_option("[data-oral-bank]", index=1)
    assessor.fill("[data-oral-form] [name=answer_summary]", "Menjelaskan alur dengan contoh kasus.")
    assessor.click("[data-oral-form] [data-oral-verdict=K]")
    assessor.wait_for_selector('[data-oral-list] .oral-item[data-number="1"]', timeout=10_000)
    oral_media_s = float(assessor.get_attribute('[data-oral-list] .oral-item[data-number="1"]', "data-media-s"))
    assert oral_media_s > DURATION_S  # after the whole test, on the same clock as the recording
    shot(assessor, "written-assessor")

    # 6. nothing the candidate's browser received carries the key
    assert seen and not [leak for text in seen for leak in _no_key(text)]

    # an observation mark too (the review room below seeks to it)
    item = assessor.locator(".kuk-item").first
    item.locator("[data-verdict=BK]").click()
    assessor.wait_for_selector(f'.kuk-item[data-kuk="{item.get_attribute("data-kuk")}"][data-version="1"]',
                               timeout=10_000)

    # 7. the end: the decision shows the evidence per KUK from every method, with its moment
    assessor.click("[data-action=end]")
    assessor.click("[data-action=end-confirm]")
    assessor.wait_for_selector("[data-live-decisions][data-evidence=loaded]:not([hidden])", timeout=20_000)
    sources = set(assessor.eval_on_selector_all("[data-unit-evidence] .kuk-evidence-item",
                                                "els => els.map((e) => e.dataset.source)"))
    assert {"written", "essay", "oral"} <= sources, sources
    assert assessor.locator("[data-unit-evidence] .ev-moment").count() > 0
    # a moment opens the review room at that time of the recording (once the recording is joined, seconds after the end)
    recording = f"/api/v1/sessions/{sid}/recording"
    wait_until(lambda: (lambda r: r[0] == 200 and r[1].get("full"))(api(assessor, "GET", recording)), 45,
               "the joined recording")
    moment = assessor.locator("[data-unit-evidence] a.ev-moment").first
    media_s = float(moment.get_attribute("data-media-s"))
    assert moment.get_attribute("href").endswith(f"/sesi/{sid}/tinjauan#t={media_s:.1f}")
    with assessor.context.expect_page() as opened:
        moment.click()
    review = opened.value
    review.wait_for_selector("[data-review-player]", state="attached", timeout=20_000)
    assert review.get_attribute("[data-review-player]", "data-seeked-from-link") == f"{media_s:.1f}"
    # issue 15: after this real live session the room plays, and a KUK mark on the timeline seeks to within 1 s
    review.wait_for_function("() => document.querySelector('[data-review-player]').readyState >= 1", timeout=20_000)
    mark = review.locator("[data-timeline-kind=mark]").first
    target = float(mark.get_attribute("data-media-s"))
    mark.click()
    wait_until(lambda: abs(review.evaluate("document.querySelector('[data-review-player]').currentTime")
                           - target) <= 1.0 or None, 10, "the player at the mark")
    review.close()
    shot(assessor, "written-decision")
    for fs in assessor.locator("fieldset[data-unit]").all():
        fs.locator("input[value=BK]").check()
        fs.locator("textarea").fill("Bukti belum lengkap untuk semua KUK.")
    assessor.click("[data-live-decisions] .decision-actions button")
    assessor.wait_for_selector("[data-live-decision-done]:not([hidden])", timeout=15_000)
    move(assessor, sid, "decided")
    time.sleep(2)
    server.stop()

    from evidence_store.verifier import verify_bundle
    from remote_tuk.extensions import evidence

    with server.app_context() as app:
        store = evidence.store
        wait_until(lambda: store.list_entries(sid)[-1]["kind"] == "close", 5, "the closed chain")
        types = [e.get("type") for e in store.list_entries(sid) if e.get("kind") == "item"]
        bundle = store.export_bundle(sid, app.config["RTUK"].var_dir / "bundle.zip")
        key = store.describe_parameters()["verifier_key"]
    assert types.count("written.answer") == 10 and types.count("written.closed") == 1
    assert {"written.opened", "written.essay_score", "oral.question", "instrument.bank_pinned"} <= set(types)
    report = verify_bundle(bundle, key)
    assert report.ok, [str(f) for f in report.failures]
