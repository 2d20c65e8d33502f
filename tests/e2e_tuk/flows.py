"""What a candidate and an assessor do on the TUK check page, step by step, as a person would (clicks, not API)."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import wait_until

RESULTS_JS = """() => Array.from(document.querySelectorAll('[data-results-table] tbody tr')).map((tr) => ({
  key: tr.dataset.key, pass: tr.dataset.pass === '1', status: tr.dataset.status, label: tr.cells[0].textContent,
  value: tr.cells[2].textContent, badge: tr.cells[1].textContent,
  threshold: tr.cells[3].textContent, source: tr.cells[4].textContent, hint: tr.cells[5].textContent}))"""


def state(page: Any) -> dict[str, str]:
    return page.evaluate(
        "() => Object.assign({}, document.getElementById('tuk').dataset, {tuk: undefined, i18n: undefined})"
    )


def wait_state(page: Any, predicate: Any, timeout: float, what: str) -> dict[str, str]:
    return wait_until(lambda: (lambda s: s if predicate(s) else None)(state(page)), timeout, what)


def watch_console(page: Any, name: str) -> list[str]:
    """Keep the page's console errors and uncaught exceptions (printed by the tests when something fails)."""
    log: list[str] = []
    def console(m: Any) -> None:
        if m.type in ("error", "warning"):
            log.append(f"{name} console.{m.type}: {m.text}")

    def response(r: Any) -> None:
        if r.status >= 400:
            log.append(f"{name} HTTP {r.status} {r.request.method} {r.url}")

    page.on("console", console)
    page.on("pageerror", lambda e: log.append(f"{name} pageerror: {e}"))
    page.on("response", response)
    return log


def open_check(page: Any, base: str, sid: str) -> None:
    resp = page.goto(f"{base}/sesi/{sid}/pemeriksaan")
    assert resp is not None and resp.status == 200, (resp and resp.status, page.content()[:3000])
    page.wait_for_selector("#tuk[data-step]", state="attached", timeout=15_000)


def give_consent(page: Any) -> None:
    wait_state(page, lambda s: s.get("step") == "consent", 10, "the consent step")
    for box in page.locator("[data-consent-check]").all():
        box.check()
    page.fill("[data-consent-location]", "Bandung, Jawa Barat")  # FR.AK.01: where the remote TUK is
    page.click("[data-action=consent-accept]")
    wait_state(page, lambda s: s.get("step") == "devices", 15, "consent accepted")


def run_check(page: Any, *, heard: bool = True, timeout: float = 150) -> tuple[list[dict[str, Any]], float]:
    """Click through the check (devices, tone, network, media); returns the results table and the seconds it took."""
    t0 = time.monotonic()
    button = "[data-action=recheck]" if state(page).get("step") == "results" else "[data-action=start]"
    page.click(button)
    page.wait_for_selector("[data-speaker-box]:not([hidden])", timeout=30_000)
    page.click("[data-action=speaker-yes]" if heard else "[data-action=speaker-no]")
    s = wait_state(page, lambda s: s.get("check") in ("done", "error"), timeout, "the check to finish")
    assert s["check"] == "done", (s, page.text_content("[data-tuk-error]"))
    return results(page), time.monotonic() - t0


def mbit(text: str, lang: str = "id") -> float:
    """A figure as the page shows it, in kbit/s: "1.403,5 Mbit/s" on the Indonesian page (decimal comma, dot between
    thousands), "1,403.5 Mbit/s" on the English one."""
    number, unit = text.rsplit(" ", 1)
    assert unit == "Mbit/s", text
    group, decimal = (".", ",") if lang == "id" else (",", ".")
    return float(number.replace(group, "").replace(decimal, ".")) * 1000


def results(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(RESULTS_JS)


def by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in rows}


def send_identity(page: Any) -> None:
    """The candidate's KTP snapshot (camera → canvas → JPEG) and the ~10 s room recording, both uploaded."""
    page.click("[data-action=to-identity]")
    wait_state(page, lambda s: s.get("step") == "identity", 10, "the identity step")
    page.wait_for_function("() => document.querySelector('[data-id-preview]').videoWidth > 0", timeout=15_000)
    page.click("[data-action=ktp-take]")
    wait_state(page, lambda s: s.get("ktp") == "taken", 10, "the KTP snapshot")
    page.click("[data-action=ktp-send]")
    wait_state(page, lambda s: s.get("ktp") == "sent", 20, "the KTP upload")
    page.click("[data-action=room-record]")
    wait_state(page, lambda s: s.get("room") in ("sent", "failed"), 40, "the room recording and upload")
    assert state(page)["room"] == "sent", page.text_content("[data-room-note]")


def assessor_cosigns(page: Any, base: str, sid: str) -> None:
    """The assigned assessor co-signs FR.AK.01 on its page (linked from the check page), then returns to the check."""
    page.click("[data-fr-ak-01-link]")
    page.wait_for_selector("[data-cosign]", timeout=15_000)
    page.check("[data-cosign] input[name=confirm]")
    with page.expect_navigation():
        page.click("[data-cosign] button")
    page.wait_for_selector("[data-sign=assessor].signed", timeout=15_000)
    open_check(page, base, sid)


def play_room_scan(page: Any) -> None:
    """On the assessor's check page: play the candidate's room scan to its end, as an assessor would."""
    wait_state(page, lambda s: s.get("roomReview") == "loaded", 20, "the room scan loaded in the player")
    page.click("[data-action=room-play]")
    wait_state(page, lambda s: s.get("roomReview") == "played", 40, "the room scan played to its end")


def assessor_confirms(page: Any) -> None:
    """On the assessor's check page: confirm ID and room once the candidate has sent them (the room after playing
    its scan)."""
    for what, note in (("id", "Wajah sesuai foto KTP"), ("room", "Ruangan sepi, meja bersih")):
        button = f'[data-action=confirm][data-what="{what}"]'
        if what == "room":
            play_room_scan(page)
        page.wait_for_selector(f"{button}:not([disabled])", timeout=20_000)
        page.fill(f'[data-confirm-note="{what}"]', note)
        page.click(button)
        key = "confirmedId" if what == "id" else "confirmedRoom"
        wait_state(page, lambda s, key=key: s.get(key) == "1", 15, f"the {what} confirmation")
    wait_state(page, lambda s: s.get("gate") == "open", 20, "the gate to open on the assessor's page")


def switch_language(page: Any) -> None:
    """The language button every page has (Indonesian <-> English)."""
    with page.expect_navigation():
        page.click("button[name=lang]")


def throttle(page: Any, kbps: float | None) -> Any:
    """Chromium's own network throttling (DevTools protocol) for this page's HTTP traffic; None lifts it."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = -1 if kbps is None else kbps * 1000 / 8  # bytes per second
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": rate, "uploadThroughput": rate},
    )
    return cdp
