"""The review room in Chromium: the player plays the recording decrypted from the evidence store in byte ranges;
clicking a KUK mark on the timeline seeks the player to within 1 s of the mark's media time, in the middle of a
30-minute recording, taking the server's copy where the browser recording has no picture; the candidate gets the
404 page."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


def _current_time(page) -> float:
    return float(page.evaluate("() => document.querySelector('[data-review-player]').currentTime"))


def test_clicking_a_mark_seeks_the_player_in_a_long_recording(review_server, page):
    server, written = review_server
    sign_in(page, server.url(), "auditor_a")
    page.goto(f"{server.url()}/sesi/{server.cast.session_a}/tinjauan")
    page.wait_for_function("() => document.querySelector('[data-review-player]').readyState >= 1", timeout=30_000)
    duration = float(page.evaluate("() => document.querySelector('[data-review-player]').duration"))
    assert abs(duration - 30 * 60) < 5, duration

    marks = page.query_selector_all("[data-review-item] [data-timeline-kind=mark]")
    assert len(marks) == 2
    src = "() => document.querySelector('[data-review-player]').currentSrc"
    assert page.evaluate(src).endswith("/rekaman/browser.webm")
    for button, at in zip(marks, sorted(written["marks"]), strict=True):
        assert abs(float(button.get_attribute("data-media-s")) - at) < 0.01
        button.click()
        page.wait_for_function("(t) => Math.abs(document.querySelector('[data-review-player]').currentTime - t) < 1 "
                               "&& !document.querySelector('[data-review-player]').seeking", arg=at, timeout=30_000)
        assert abs(_current_time(page) - at) < 1.0
        # 15:00 is where the browser recording has no picture (between its runs): the server's copy plays there
        assert page.evaluate(src).endswith("/rekaman/server.webm")

    # back to the browser recording by hand: 25:00 is inside its second run, so it stays there and seeks
    page.click("[data-review-source=browser]")
    page.wait_for_function(f"() => ({src})().endsWith('/rekaman/browser.webm')")
    late = sorted(written["marks"])[-1]
    marks[-1].click()
    page.wait_for_function("(t) => Math.abs(document.querySelector('[data-review-player]').currentTime - t) < 1 "
                           "&& !document.querySelector('[data-review-player]').seeking", arg=late, timeout=30_000)
    assert page.evaluate(src).endswith("/rekaman/browser.webm")

    # it plays from there (a frame decoded past the mark: the ranged reads serve the middle of the file)
    page.evaluate("() => { const v = document.querySelector('[data-review-player]'); v.muted = true; v.play(); }")
    page.wait_for_function("(t) => document.querySelector('[data-review-player]').currentTime > t + 1",
                           arg=sorted(written["marks"])[-1], timeout=30_000)

    # the filter hides the marks
    page.uncheck("[data-review-filter][value=mark]")
    assert page.is_hidden("[data-review-item=mark]")


def test_playing_through_chunks_missing_inside_a_run_takes_the_servers_copy_and_comes_back(review_server, page):
    from tests.e2e_review.conftest import INNER_HOLE_MS

    server, _ = review_server
    start, end = INNER_HOLE_MS[0] / 1000, INNER_HOLE_MS[1] / 1000
    sign_in(page, server.url(), "auditor_a")
    page.goto(f"{server.url()}/sesi/{server.cast.session_a}/tinjauan#t={start - 2:.0f}")
    player = "document.querySelector('[data-review-player]')"
    page.wait_for_function(f"() => {player}.readyState >= 1 && Math.abs({player}.currentTime - {start - 2}) < 1",
                           timeout=30_000)
    assert page.evaluate(f"() => {player}.currentSrc").endswith("/rekaman/browser.webm")
    page.evaluate(f"() => {{ const v = {player}; v.muted = true; v.play(); }}")
    # into the hole: the server's copy plays, at the same media time
    page.wait_for_function(f"() => {player}.currentSrc.endsWith('/rekaman/server.webm') && {player}.readyState >= 1 "
                           f"&& {player}.currentTime > {start - 1}", timeout=30_000)
    assert _current_time(page) <= end + 2
    # past its end: back to the browser recording, still playing, past the hole
    page.wait_for_function(f"() => {player}.currentSrc.endsWith('/rekaman/browser.webm') && !{player}.paused "
                           f"&& {player}.currentTime > {end}", timeout=30_000)


def test_the_candidate_gets_the_not_found_page(review_server, page):
    server, _ = review_server
    sign_in(page, server.url(), "asesi_a")
    resp = page.goto(f"{server.url()}/sesi/{server.cast.session_a}/tinjauan")
    assert resp is not None and resp.status == 404
