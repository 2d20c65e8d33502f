"""Live proctoring in real Chromium (issue 14): a fake webcam whose face leaves the frame raises a ``no_face`` alert
on the assessor's page and an evidence entry; browser signals from the candidate's page reach the assessor and the
evidence; the assessor's label is evidence."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM, Server, chromium_args, wait_until
from tests.e2e.test_live_session import open_live, ready_pair, wait_page

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


@pytest.fixture
def face_leaves_browser(playwright_instance: Any, fake_devices: tuple[Path, Path], tmp_path: Path) -> Any:
    from tests.media.clips import ClipFiles

    y4m = ClipFiles(tmp_path / "clips").y4m("face_leaves")  # the face leaves the frame at 5 s (15 s, looped)
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=chromium_args(y4m, fake_devices[1]))
    try:
        yield b
    finally:
        b.close()


def _alerts(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('[data-finding-kind]')).map((li) => ({
        kind: li.dataset.findingKind, media_s: Number(li.dataset.findingMediaS), id: Number(li.dataset.findingId),
        source: li.dataset.findingSource, text: li.textContent}))""")


def test_face_leaving_and_browser_signals_reach_the_assessor_and_the_evidence(
    make_server: Any, face_leaves_browser: Any
) -> None:
    server: Server = make_server()
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    assessor, candidate = ready_pair(face_leaves_browser, sid, assessor=(base, "asesor_a", cast.totp["asesor_a"]),
                                     candidate=(base, "asesi_a"), open_pages=False)
    open_live(candidate, base, sid)
    open_live(assessor, base, sid)
    wait_page(candidate, lambda s: s["pc"] == "connected", 30, "the candidate's connection")
    assert candidate.locator("[data-proctor]").count() == 0  # the candidate is not shown the alerts
    assessor.click("[data-action=start]")
    wait_page(candidate, lambda s: s["state"] == "live", 15, "live")
    live_at = time.monotonic()

    # the server's analysis: the face is gone for 10 s of every 15 s loop; no_face holds 3 s
    wait_until(lambda: any(a["kind"] == "no_face" for a in _alerts(assessor)), 45, "a no_face alert on the page")
    seen_after = time.monotonic() - live_at
    alert = next(a for a in _alerts(assessor) if a["kind"] == "no_face")
    assert alert["source"] == "server" and 0 <= alert["media_s"] <= seen_after + 1, (alert, seen_after)
    assert assessor.locator('[data-finding-kind="no_face"] img.proctor-snapshot').count() >= 1
    wait_until(lambda: assessor.evaluate("document.querySelector('[data-proctor]').dataset.analysis") in
               ("ok", "behind"), 10, "the analysis status on the page")

    # the candidate's browser reports: copy, paste, focus lost (each labelled as reported by the browser)
    candidate.evaluate("document.dispatchEvent(new Event('copy'))")
    candidate.evaluate("document.dispatchEvent(new Event('paste'))")
    candidate.evaluate("window.dispatchEvent(new Event('blur'))")
    for kind in ("copy", "paste", "window_blur"):
        wait_until(lambda k=kind: any(a["kind"] == k and a["source"] == "browser" for a in _alerts(assessor)), 20,
                   f"a {kind} alert (candidate: {candidate.evaluate('JSON.stringify(window.liveSignals)')}) "
                   f"{server.log_tail(40)}")
    paste = next(a for a in _alerts(assessor) if a["kind"] == "paste")
    assert "peramban" in paste["text"]

    # the assessor labels the paste as a confirmed violation, with a note
    item = assessor.locator(f'[data-finding-id="{paste["id"]}"]')
    item.locator(".proctor-note").fill("menempel jawaban dari luar")
    item.locator('[data-finding-label="confirmed"]').click()
    assessor.wait_for_selector(f'[data-finding-id="{paste["id"]}"] .proctor-label', timeout=10_000)

    assessor.click("[data-action=end]")
    assessor.click("[data-action=end-confirm]")
    wait_page(candidate, lambda s: s["state"] == "ended", 15, "ended")
    time.sleep(2)
    server.stop()

    with server.app_context():
        from remote_tuk.extensions import evidence
        from remote_tuk.live import services as live

        store = evidence.store
        entries = store.list_entries(sid)

        def docs(type_: str) -> list[dict[str, Any]]:
            return [json.loads(store.read(e["object"]["key"], live.SYSTEM)) for e in entries if e.get("type") == type_]

        findings = docs("proctoring.finding")
        assert any(d["kind"] == "no_face" and d["phase"] == "start" and d["snapshot_object"] for d in findings)
        # the analysis stopped with the session: open incidents ended
        assert all(d["phase"] != "start" or any(c["incident_id"] == d["incident_id"] and c["phase"] == "clear"
                                                for c in findings) for d in findings), findings
        signals = docs("proctoring.browser_signal")
        assert {"copy", "paste", "window_blur"} <= {d["kind"] for d in signals}
        assert all(d["source"] == "browser" and d["reported_by"] == "peramban" for d in signals)
        (label,) = docs("proctoring.finding_label")
        assert (label["label"], label["kind"]) == ("confirmed", "paste")
        assert label["note"] == "menempel jawaban dari luar"
        assert [e for e in entries if e.get("type") == "proctoring.snapshot"]
        reference = docs("proctoring.reference")
        assert reference and reference[0]["ok"] is False  # the seeded KTP object is a placeholder: said, not hidden
