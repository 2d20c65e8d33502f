"""What a candidate and an assessor do on the TUK check page, step by step, as a person would (clicks, not API calls)."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import wait_until

RESULTS_JS = """() => Array.from(document.querySelectorAll('[data-results-table] tbody tr')).map((tr) => ({
  key: tr.dataset.key, pass: tr.dataset.pass === '1', label: tr.cells[0].textContent, value: tr.cells[2].textContent,
  threshold: tr.cells[3].textContent, source: tr.cells[4].textContent, hint: tr.cells[5].textContent}))"""


def state(page: Any) -> dict[str, str]:
    return page.evaluate("() => Object.assign({}, document.getElementById('tuk').dataset, {tuk: undefined, i18n: undefined})")


def wait_state(page: Any, predicate: Any, timeout: float, what: str) -> dict[str, str]:
    return wait_until(lambda: (lambda s: s if predicate(s) else None)(state(page)), timeout, what)


def watch_console(page: Any, name: str) -> list[str]:
    """Keep the page's console errors and uncaught exceptions (printed by the tests when something fails)."""
    log: list[str] = []
    page.on("console", lambda m: log.append(f"{name} console.{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: log.append(f"{name} pageerror: {e}"))
    return log


def open_check(page: Any, base: str, sid: str) -> None:
    resp = page.goto(f"{base}/sesi/{sid}/pemeriksaan")
    assert resp is not None and resp.status == 200, (resp and resp.status, page.content()[:3000])
    page.wait_for_selector("#tuk[data-step]", state="attached", timeout=15_000)


def give_consent(page: Any) -> None:
    wait_state(page, lambda s: s.get("step") == "consent", 10, "the consent step")
    for box in page.locator("[data-consent-check]").all():
        box.check()
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


def results(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(RESULTS_JS)


def by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in rows}
