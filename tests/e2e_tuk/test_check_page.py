"""Issue 5 end to end in Chromium: the candidate's guided TUK check, the assessor's confirmations, the gate, live."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e_tuk.flows import watch_console, by_key, give_consent, open_check, run_check, state, wait_state

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


def test_candidate_passes_the_whole_check(tuk_server: Any, launch: Any) -> None:
    server = tuk_server()
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    browser = launch("face")
    cand = browser.new_context().new_page()
    log = watch_console(cand, "candidate")
    sign_in(cand, base, "asesi_a")
    open_check(cand, base, sid)
    give_consent(cand)
    try:
        rows, seconds = run_check(cand)
    finally:
        print("\n".join(log))
    print("full check took", round(seconds, 1), "s; page says", state(cand).get("elapsedMs"), "ms")
    for r in rows:
        print(r)
    res = by_key(rows)
    assert all(r["pass"] for r in rows if r["key"] != "battery"), [r for r in rows if not r["pass"]]
    assert res["camera_resolution"]["value"] == "640×480"
