"""Issue 4 end to end: the real server (subprocess) and the real pages in Debian Chromium with a fake webcam and mic.

A candidate and an assessor join the live page; the assessor decodes the candidate's 640x480 video at >= 25 fps, audio
flows both ways, the assessor marks a KUK (its media time is recorded), pauses, resumes and ends the session and
records the unit decisions; the browser recording read back from the evidence store decodes to >= 90 % of the live
time and the session's bundle verifies. Then the candidate's network is cut for 12 s and comes back: the page
reconnects on its own, the gap is logged and the recording continues.
"""

from __future__ import annotations

import io
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.components import require
from tests.conftest import FULL_SESSION_EVIDENCE_TYPES
from tests.e2e.conftest import (
    NetNs,
    Server,
    api,
    chromium_args,
    netns_available,
    sign_in,
    wait_until,
)

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

# What a page knows about itself (the scripts keep it in #live's data attributes) and its RTCPeerConnection's stats.
PAGE_JS = """async () => {
  const root = document.getElementById('live');
  const d = root.dataset, pc = window.livePc;
  const banner = root.querySelector('[data-live-banner]');
  const out = {pc: pc ? pc.connectionState : 'none', media: d.media || '', state: d.state || '',
               recorder: d.recorder || '', uploaded: Number(d.uploaded || 0), pending: Number(d.pending || 0),
               banner: banner && !banner.hidden ? banner.textContent : '',
               conn: (root.querySelector('[data-live-conn]') || {}).textContent || '',
               devices: d.devices || '', closeNote: d.closeNote || ''};
  if (pc) (await pc.getStats()).forEach((s) => {
    if (s.type === 'media-source' && s.kind === 'video')
      out.capture_fps = Math.max(out.capture_fps || 0, s.framesPerSecond || 0);
    if (s.type === 'inbound-rtp') out['in_' + s.kind] = {bytes: s.bytesReceived || 0, frames: s.framesDecoded || 0,
        fps: s.framesPerSecond || 0, w: s.frameWidth || 0, h: s.frameHeight || 0};
    // the candidate also sends the classroom's small layer (160x120): report the camera's full stream
    if (s.type === 'outbound-rtp' && !((out['out_' + s.kind] || {}).w > (s.frameWidth || 0)))
      out['out_' + s.kind] = {bytes: s.bytesSent || 0, fps: s.framesPerSecond || 0,
        w: s.frameWidth || 0, limit: s.qualityLimitationReason || ''};
  });
  return out;
}"""


def shot(page: Any, name: str) -> None:
    """A full-page screenshot into $RTUK_E2E_SCREENSHOTS (for looking at the pages; off by default)."""
    out = os.environ.get("RTUK_E2E_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"), full_page=True)
        size = page.viewport_size
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.screenshot(path=str(Path(out) / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(size)


def look(page: Any) -> dict[str, Any]:
    return page.evaluate(PAGE_JS)


def wait_page(page: Any, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
    return wait_until(lambda: (lambda s: s if predicate(s) else None)(look(page)), timeout, what)


def frames(s: dict[str, Any]) -> int:
    return (s.get("in_video") or {}).get("frames", 0)


def audio_in(s: dict[str, Any]) -> int:
    return (s.get("in_audio") or {}).get("bytes", 0)


def move(page: Any, sid: str, *states: str) -> None:
    for to in states:
        status, body = api(page, "POST", f"/api/v1/sessions/{sid}/transition", {"to": to})
        assert status == 200, (to, status, body)


def open_live(page: Any, base: str, sid: str) -> None:
    page.goto(f"{base}/sesi/{sid}/langsung")
    page.wait_for_selector("#live")


def end_session(assessor: Any) -> None:
    assessor.click("[data-action=end]")
    assessor.click("[data-action=end-confirm]")


def webm_duration(data: bytes) -> tuple[float, int, set[tuple[int, int]]]:
    """Decode the whole recording with PyAV: (last video frame time + one frame, frames, sizes)."""
    import av

    last, count, sizes = 0.0, 0, set()
    with av.open(io.BytesIO(data), format="webm") as container:
        for frame in container.decode(video=0):
            count += 1
            sizes.add((frame.width, frame.height))
            if frame.time is not None:
                last = max(last, frame.time)
    return last + (1 / 30 if count else 0), count, sizes


def event_entries(store: Any, sid: str) -> list[dict[str, Any]]:
    return [e for e in store.list_entries(sid) if e.get("type") == "session.event"]


def event_name(e: dict[str, Any]) -> str:
    return str((e.get("metadata") or {}).get("event", ""))


def ready_pair(
    browser: Any,
    sid: str,
    *,
    assessor: tuple[str, str, str],
    candidate: tuple[str, str],
    open_pages: bool = True,
    candidate_browser: Any = None,
) -> tuple[Any, Any]:
    """The assessor (base, username, TOTP secret) signs in and readies the session; the candidate (base, username)
    signs in, in *candidate_browser* if given; both open the live page. Returns (assessor page, candidate page)."""
    a_base, a_user, a_totp = assessor
    c_base, c_user = candidate
    asse = browser.new_context().new_page()
    sign_in(asse, a_base, a_user, a_totp)
    move(asse, sid, "checking", "ready")
    cand = (candidate_browser or browser).new_context().new_page()
    sign_in(cand, c_base, c_user)
    if open_pages:
        open_live(cand, c_base, sid)
        open_live(asse, a_base, sid)
    return asse, cand


# --- 1. the whole session -----------------------------------------------------------------------------------------


def test_live_session_end_to_end(make_server: Any, browser: Any, tmp_path: Path) -> None:
    server: Server = make_server()
    cast, base = server.cast, server.url()
    sid = cast.session_a
    try:
        assessor, candidate = ready_pair(
            browser,
            sid,
            assessor=(base, "asesor_a", cast.totp["asesor_a"]),
            candidate=(base, "asesi_a"),
            open_pages=False,
        )

        # Both join; the media connects while the session is ready.
        open_live(candidate, base, sid)
        open_live(assessor, base, sid)
        assert candidate.locator(".kuk-panel").count() == 0  # the candidate never sees marks
        wait_page(candidate, lambda s: s["pc"] == "connected", 30, "the candidate's connection")
        wait_page(assessor, lambda s: s["pc"] == "connected", 30, "the assessor's connection")

        time.sleep(3)
        print("before live: candidate", look(candidate), "assessor", look(assessor))
        # The assessor starts the session: the candidate's recorder starts.
        assessor.click("[data-action=start]")
        wait_page(candidate, lambda s: s["state"] == "live" and s["recorder"] == "recording", 15, "live + recording")
        wait_page(assessor, lambda s: frames(s) > 30, 30, "decoded video at the assessor")

        # >= 25 fps at 640x480, decoded by the assessor's page (over 4 s windows once the encoder has ramped up;
        # the best of up to four windows, since other processes on a 2-core machine can steal a window); audio both
        # ways.
        time.sleep(2)
        first, c_first = look(assessor), look(candidate)
        fps, windows = 0.0, []
        for _ in range(4):
            a, t0 = look(assessor), time.monotonic()
            time.sleep(4)
            b = look(assessor)
            windows.append(round((frames(b) - frames(a)) / (time.monotonic() - t0), 1))
            fps = max(windows)
            if fps >= 25:
                break
        second, c_second = look(assessor), look(candidate)
        assert (second["in_video"]["w"], second["in_video"]["h"]) == (640, 480), second
        assert fps >= 25, f"assessor decoded {windows} fps: {second}, candidate {c_second}"
        assert audio_in(second) > audio_in(first) > 0, "no candidate audio at the assessor"
        assert audio_in(c_second) > audio_in(c_first) > 0, "no assessor audio at the candidate"

        # A witness (the auditor granted the schedule) sees and hears, with no controls, marks or chat input.
        witness_ctx = browser.new_context()
        witness = witness_ctx.new_page()
        sign_in(witness, base, "auditor_a")
        open_live(witness, base, sid)
        for hidden in ("[data-live-controls]", "[data-live-chat-form]", ".kuk-item [data-verdict]", "[data-live-mic]"):
            assert witness.locator(hidden).count() == 0, hidden
        assert witness.locator(".kuk-item").count() == assessor.locator(".kuk-item").count() > 0
        wait_page(witness, lambda s: frames(s) > 30 and audio_in(s) > 0, 30, "video and audio at the witness")
        witness_ctx.close()
        status, body = api(candidate, "GET", f"/api/v1/sessions/{sid}/marks")
        assert status == 403, body  # the candidate never sees marks

        # Chat both ways.
        candidate.fill("#chat-text", "Selamat siang, Pak.")
        candidate.click("[data-live-chat-form] button")
        assessor.wait_for_selector("[data-live-chat-log] >> text=Selamat siang, Pak.", timeout=10_000)
        # the line's time is in the LSP's zone (WIB in the demo), named, whatever the browser's own zone
        line = assessor.locator("[data-live-chat-log] li", has_text="Selamat siang, Pak.").last
        sent_at = datetime.fromisoformat(line.locator("time").get_attribute("datetime"))
        wib = sent_at.astimezone(ZoneInfo("Asia/Jakarta"))
        assert line.locator("time").inner_text() == f"{wib:%H:%M} WIB"
        # the assessor reads and writes while watching: on a laptop screen the chat sits right under the video, in
        # its column, not after the tall side column (proctoring, checklist, questions)
        size = assessor.viewport_size
        assessor.set_viewport_size({"width": 1366, "height": 900})
        geometry = assessor.evaluate("""() => {
          const box = s => document.querySelector(s).getBoundingClientRect();
          const media = box('.live-media'), chat = box('.live-chat'), side = box('.live-side');
          return {gap: chat.top - media.bottom, left: chat.left - media.left, right: chat.right - media.right,
                  besideSide: chat.right <= side.left, input: box('#chat-text').top + scrollY,
                  beforeQuality: chat.bottom <= box('.quality').top};
        }""")
        assessor.set_viewport_size({"width": 390, "height": 844})  # a phone: one column, nothing on top of another
        stacked = assessor.evaluate("""() => {
          const boxes = ['.live-media', '.live-chat', '.quality', '.live-side']
            .map((s) => document.querySelector(s).getBoundingClientRect());
          return {inOrder: boxes.every((b, i) => i === 0 || boxes[i - 1].bottom <= b.top + 1),
                  inside: boxes.every((b) => b.left >= 0 && b.right <= innerWidth),
                  scroll: document.documentElement.scrollWidth - innerWidth};
        }""")
        assessor.set_viewport_size(size)
        assert stacked == {"inOrder": True, "inside": True, "scroll": 0}, stacked
        assert 0 <= geometry["gap"] < 40 and abs(geometry["left"]) < 2 and abs(geometry["right"]) < 2, geometry
        assert geometry["besideSide"] and geometry["beforeQuality"] and geometry["input"] < 1100, geometry

        # The assessor marks a KUK, then changes it: two versions, each with the media time it points at.
        item = assessor.locator(".kuk-item").first
        kuk_id = int(item.get_attribute("data-kuk"))
        item.locator(".kuk-note").fill("Menjelaskan langkah dengan benar")
        item.locator("[data-verdict=K]").click()
        assessor.wait_for_selector(f'.kuk-item[data-kuk="{kuk_id}"][data-version="1"]', timeout=10_000)
        clock_at_mark = assessor.evaluate("Live.elapsed()")
        status, marks = api(assessor, "GET", f"/api/v1/sessions/{sid}/marks")
        assert status == 200, marks
        (mark,) = [m for m in marks["marks"] if m["kuk_id"] == kuk_id]
        assert mark["verdict"] == "K" and mark["version"] == 1 and mark["note"] == "Menjelaskan langkah dengan benar"
        assert 3 < mark["media_s"] <= clock_at_mark + 2, (mark, clock_at_mark)
        assert "K · " in item.locator("[data-kuk-current]").inner_text()
        item.locator("[data-verdict=BK]").click()
        assessor.wait_for_selector(f'.kuk-item[data-kuk="{kuk_id}"][data-version="2"]', timeout=10_000)
        status, marks = api(assessor, "GET", f"/api/v1/sessions/{sid}/marks")
        assert [m["verdict"] for m in marks["history"] if m["kuk_id"] == kuk_id] == ["K", "BK"]
        assert marks["history"][-1]["media_s"] >= mark["media_s"]
        shot(assessor, "assessor-live")
        shot(candidate, "candidate-live")

        # Pause and resume: the recorder follows.
        assessor.click("[data-action=pause]")
        wait_page(candidate, lambda s: s["state"] == "paused" and s["recorder"] == "paused", 10, "paused")
        time.sleep(2)
        assessor.click("[data-action=resume]")
        wait_page(candidate, lambda s: s["state"] == "live" and s["recorder"] == "recording", 10, "resumed")
        time.sleep(6)

        # End: the recorder stops, the last chunks are uploaded.
        end_session(assessor)
        wait_page(candidate, lambda s: s["state"] == "ended" and s["recorder"] == "inactive", 10, "ended")
        done = wait_page(candidate, lambda s: s["pending"] == 0 and s["uploaded"] > 0, 30, "all chunks uploaded")
        live_s = assessor.evaluate("Live.elapsed()")  # the server's clock: live time, pauses excluded
        # the candidate's camera and microphone are off (every captured track stopped) and the page says the
        # session is over and everything was sent, so the candidate may close it
        wait_page(candidate, lambda s: s.get("devices") == "released" and s.get("closeNote") == "done", 10,
                  "the devices released and the closing note")
        assert candidate.evaluate("document.getElementById('self-view').srcObject") is None
        assert "boleh menutup" in candidate.text_content("[data-live-close-note]")
        assert candidate.locator("[data-sources]").is_hidden()

        # The other KUK are marked K too (after the end, before the decision), one click each.
        for other in assessor.locator(".kuk-item").all()[1:]:
            other.locator("[data-verdict=K]").click()
            assessor.wait_for_selector(f'.kuk-item[data-kuk="{other.get_attribute("data-kuk")}"][data-version="1"]',
                                       timeout=10_000)

        # The decision per unit follows the evidence: the unit whose first KUK is BK cannot be K; the others can.
        assessor.wait_for_selector("[data-live-decisions][data-evidence=loaded]:not([hidden])", timeout=10_000)
        wait_until(lambda: assessor.locator('fieldset[data-unit][data-k-allowed="1"]').count() >= 2, 10,
                   "the evidence per unit after the last marks")
        shot(assessor, "assessor-ended")
        verdicts = {}
        for fs in assessor.locator("fieldset[data-unit]").all():
            allowed = fs.get_attribute("data-k-allowed") == "1"
            assert fs.locator("input[value=K]").is_disabled() is not allowed
            verdicts[int(fs.get_attribute("data-unit"))] = "K" if allowed else "BK"
            fs.locator(f"input[value={verdicts[int(fs.get_attribute('data-unit'))]}]").check()
            fs.locator("textarea").fill("Sesuai bukti observasi per KUK.")
        assert sorted(verdicts.values()) == ["BK", "K", "K"]
        assessor.click("[data-live-decisions] .decision-actions button")
        assessor.wait_for_selector("[data-live-decision-done]:not([hidden])", timeout=15_000)
        status, decided = api(assessor, "GET", f"/api/v1/sessions/{sid}/decisions")
        assert status == 200 and {d["unit_id"]: d["verdict"] for d in decided["decisions"]} == verdicts

        # The server joins the chunks into one recording.
        def joined() -> Any:
            st, rec = api(assessor, "GET", f"/api/v1/sessions/{sid}/recording")
            return rec if st == 200 and rec.get("full") else None

        rec = wait_until(joined, 45, "the joined recording")
        assert rec["chunks"] == done["uploaded"] and rec["gaps"] == [], rec

        # Back on the session page, the assessor decides the session (this closes its evidence chain).
        with assessor.expect_navigation():
            assessor.click("[data-live-decision-done] a")
        assert assessor.url.endswith(f"/sesi/{sid}")
        with assessor.expect_navigation():
            assessor.click("button[name=to][value=decided]")
        status, info = api(assessor, "GET", f"/api/v1/sessions/{sid}")
        assert status == 200 and info["state"] == "decided", info
    finally:
        server.stop()

    # The recording taken back from the evidence store plays for >= 90 % of the live time; the bundle verifies.
    from evidence_store.verifier import verify_bundle
    from remote_tuk.extensions import evidence

    with server.app_context():
        store = evidence.store
        data = store.read(rec["full"]["object_key"], ("auditor", "e2e"))
        entries = store.list_entries(sid)
        bundle = store.export_bundle(sid, tmp_path / "bundle.zip")
        key = store.describe_parameters()["verifier_key"]
    duration, count, sizes = webm_duration(data)
    print(f"live {live_s:.1f} s, recording {duration:.1f} s ({count} frames, {sizes}), {fps:.1f} fps at the assessor")
    assert duration >= 0.9 * live_s, (duration, live_s)
    assert sizes == {(640, 480)}
    types = {e.get("type") for e in entries}
    assert FULL_SESSION_EVIDENCE_TYPES <= types, types
    names = {event_name(e) for e in entries if e.get("type") == "session.event"}
    assert {"state.live", "state.paused", "state.ended"} <= names, names
    report = verify_bundle(bundle, key)
    assert report.ok, report.render()


# --- 2. the candidate's network is cut for 12 s ---------------------------------------------------------------------


def test_candidate_network_cut_and_back(
    make_server: Any, browser: Any, playwright_instance: Any, fake_devices: tuple[Path, Path], tmp_path: Path
) -> None:
    require(
        netns_available(),
        "network namespaces (root and iproute2)",
        "run as root with iproute2 installed: the candidate's browser runs in its own network namespace",
    )
    with NetNs(tmp_path) as ns:
        # Not loopback-only: the server must gather the veth address the namespaced browser reaches.
        server: Server = make_server(host="0.0.0.0", loopback_ice=False)
        cast = server.cast
        sid = cast.session_b
        c_base = server.url(ns.host_ip)
        c_browser = playwright_instance.chromium.launch(
            executable_path=str(ns.wrapper),
            args=[*chromium_args(*fake_devices), f"--unsafely-treat-insecure-origin-as-secure={c_base}"],
        )
        try:
            assessor, candidate = ready_pair(
                browser,
                sid,
                assessor=(server.url(), "asesor_b", cast.totp["asesor_b"]),
                candidate=(c_base, "asesi_b"),
                candidate_browser=c_browser,
            )
            wait_page(candidate, lambda s: s["pc"] == "connected", 30, "the candidate's connection")
            wait_page(assessor, lambda s: s["pc"] == "connected", 30, "the assessor's connection")
            assessor.click("[data-action=start]")
            wait_page(assessor, lambda s: frames(s) > 30, 30, "decoded video at the assessor")
            before = wait_page(candidate, lambda s: s["uploaded"] >= 2, 20, "chunks uploaded before the cut")

            # The cut: nothing reaches the server; the page says so and keeps recording.
            ns.cut()
            t_cut = time.monotonic()
            down = wait_page(candidate, lambda s: s["media"] == "reconnecting", 15, "the page noticing the cut")
            assert "Koneksi terputus, menyambung kembali" in down["banner"], down
            shot(candidate, "candidate-cut")
            time.sleep(max(0.0, 12 - (time.monotonic() - t_cut)))
            during = look(candidate)
            assert during["recorder"] == "recording" and during["pending"] >= 2, during
            frozen = frames(look(assessor))
            ns.restore()

            # Back: the page reconnects on its own, the queue drains, the assessor sees video again.
            t_restore = time.monotonic()
            back = wait_page(
                candidate,
                lambda s: s["pc"] == "connected" and s["media"] == "connected",
                45,
                "the candidate's page reconnecting",
            )
            reconnect_s = time.monotonic() - t_restore
            assert "Koneksi pulih kembali" in back["banner"], back
            wait_page(assessor, lambda s: frames(s) > frozen + 60, 30, "video at the assessor after the cut")
            drained = wait_page(candidate, lambda s: s["pending"] == 0, 30, "the upload queue draining")
            wait_page(
                candidate,
                lambda s: s["uploaded"] >= drained["uploaded"] + 2,
                15,
                "the recording continuing after the cut",
            )

            clock = assessor.evaluate("Live.emit('stats', {}).then((a) => a.clock)")
            assert clock["downtime_s"] >= 10, clock
            end_session(assessor)
            wait_page(
                candidate,
                lambda s: s["state"] == "ended" and s["pending"] == 0 and s["recorder"] == "inactive",
                30,
                "the end, every chunk uploaded",
            )
            final = look(candidate)
            st, rec = api(assessor, "GET", f"/api/v1/sessions/{sid}/recording")
            assert st == 200 and rec["gaps"] == [] and rec["chunks"] == final["uploaded"] > before["uploaded"], rec
        finally:
            c_browser.close()
            server.stop()

    from remote_tuk.extensions import evidence

    with server.app_context():
        store = evidence.store
        events = event_entries(store, sid)
        resumed = [e for e in events if event_name(e) == "media.resumed"]
        assert any(event_name(e) == "media.stalled" for e in events), [event_name(e) for e in events]
        assert resumed, [event_name(e) for e in events]
        body = json.loads(store.read(resumed[-1]["object"]["key"], ("auditor", "e2e")))
    print(
        f"cut 12 s: reconnected {reconnect_s:.1f} s after the network came back; downtime logged "
        f"{body['data']['downtime_s']:.1f} s; {final['uploaded']} chunks, {before['uploaded']} before the cut, "
        f"{during['pending']} queued during it"
    )
    assert body["data"]["downtime_s"] >= 10, body


# --- 3. the server is killed and restarted ---------------------------------------------------------------------------


def test_server_killed_and_restarted_pages_rejoin(make_server: Any, browser: Any) -> None:
    server: Server = make_server()
    cast, base = server.cast, server.url()
    sid = cast.session_a
    assessor, candidate = ready_pair(
        browser, sid, assessor=(base, "asesor_a", cast.totp["asesor_a"]), candidate=(base, "asesi_a")
    )
    wait_page(assessor, lambda s: s["pc"] == "connected", 30, "the assessor's connection")
    assessor.click("[data-action=start]")
    wait_page(assessor, lambda s: frames(s) > 30, 30, "decoded video at the assessor")
    wait_page(candidate, lambda s: s["uploaded"] >= 2, 20, "chunks uploaded before the kill")

    server.kill()
    t_kill = time.monotonic()
    wait_page(candidate, lambda s: s["media"] == "reconnecting", 20, "the candidate's page noticing")
    time.sleep(max(0.0, 3 - (time.monotonic() - t_kill)))
    server.start()  # same port, database, var directory and secret key

    # Both pages rejoin the same session on their own; video flows again and the recording continues.
    back = wait_page(
        candidate,
        lambda s: s["pc"] == "connected" and s["media"] == "connected",
        60,
        "the candidate's page rejoining after the restart",
    )
    before = frames(look(assessor))
    wait_page(
        assessor,
        lambda s: s["pc"] == "connected" and frames(s) > before + 60,
        60,
        "video at the assessor after the restart",
    )
    drained = wait_page(candidate, lambda s: s["pending"] == 0, 30, "the upload queue draining")
    wait_page(candidate, lambda s: s["uploaded"] >= drained["uploaded"] + 2, 15, "the recording continuing")
    st, rec = api(assessor, "GET", f"/api/v1/sessions/{sid}/recording")
    assert st == 200 and rec["gaps"] == [] and rec["chunks"] >= drained["uploaded"], rec
    print(
        f"restart: both pages back, video and uploads flowing, {time.monotonic() - t_kill:.1f} s after the kill; "
        f"{back['uploaded']} chunks uploaded"
    )
    end_session(assessor)
    wait_page(candidate, lambda s: s["state"] == "ended" and s["pending"] == 0, 30, "the end")


# --- 4. the candidate reloads the page mid-session --------------------------------------------------------------------


def test_candidate_reloads_page_recording_continues(make_server: Any, browser: Any) -> None:
    server: Server = make_server()
    cast, base = server.cast, server.url()
    sid = cast.session_a
    try:
        assessor, candidate = ready_pair(
            browser, sid, assessor=(base, "asesor_a", cast.totp["asesor_a"]), candidate=(base, "asesi_a")
        )
        wait_page(assessor, lambda s: s["pc"] == "connected", 30, "the assessor's connection")
        assessor.click("[data-action=start]")
        first = wait_page(candidate, lambda s: s["uploaded"] >= 3, 20, "chunks uploaded before the reload")

        # A reload starts a new recorder; the sequence numbers continue (kept by the page), no gap, no conflict.
        reloaded_at = time.monotonic()
        candidate.reload()
        candidate.wait_for_selector("#live")
        wait_page(candidate, lambda s: s["recorder"] == "recording" and s["uploaded"] >= 3, 30, "recording again")
        # nothing can be recorded while the page reloads: that stretch is not in the recording
        away_s = time.monotonic() - reloaded_at
        wait_page(assessor, lambda s: frames(s) > 30, 30, "video at the assessor after the reload")
        live_s = assessor.evaluate("Live.elapsed()")
        end_session(assessor)
        wait_page(candidate, lambda s: s["state"] == "ended" and s["pending"] == 0, 30, "the end")
        st, rec = api(assessor, "GET", f"/api/v1/sessions/{sid}/recording")
        assert st == 200 and rec["gaps"] == [] and rec["chunks"] >= first["uploaded"] + 3, rec

        def joined() -> Any:
            st, rec = api(assessor, "GET", f"/api/v1/sessions/{sid}/recording")
            return rec if st == 200 and rec.get("full") else None

        rec = wait_until(joined, 25, "the joined recording")
    finally:
        server.stop()
    from remote_tuk.extensions import evidence

    with server.app_context():
        data = evidence.store.read(rec["full"]["object_key"], ("auditor", "e2e"))
    duration, _count, _sizes = webm_duration(data)
    assert duration >= 0.9 * (live_s - away_s), (duration, live_s, away_s)


# --- 5. the candidate's tab closes with chunks not yet uploaded (issue 19 #5) ---------------------------------------


def test_a_closed_tab_loses_no_chunk(make_server: Any, browser: Any) -> None:
    """Chunks wait in IndexedDB until the server has them: uploads are cut, the tab is closed with chunks queued, the
    session page is opened again in the same browser and uploads them first — every chunk arrives, none twice."""
    server: Server = make_server()
    cast, base = server.cast, server.url()
    sid = cast.session_a
    try:
        assessor, candidate = ready_pair(
            browser, sid, assessor=(base, "asesor_a", cast.totp["asesor_a"]), candidate=(base, "asesi_a")
        )
        wait_page(assessor, lambda s: s["pc"] == "connected", 30, "the assessor's connection")
        assessor.click("[data-action=start]")
        wait_page(candidate, lambda s: s["uploaded"] >= 2, 20, "chunks uploaded")
        assert candidate.evaluate("liveCandidate.durable") is True

        context = candidate.context
        context.route("**/recording/chunks", lambda route: route.abort())  # the network drops the uploads
        before = wait_page(candidate, lambda s: s["pending"] >= 3, 30, "chunks queued while uploads fail")
        queued = candidate.evaluate("liveCandidate.queue.map((c) => c.seq)")
        candidate.wait_for_timeout(300)  # the last chunk's IndexedDB write
        candidate.close()  # the tab closes: the page's memory is gone
        context.unroute("**/recording/chunks")

        again = context.new_page()
        open_live(again, base, sid)
        restored = wait_until(lambda: again.evaluate("Number(document.getElementById('live').dataset.restored || 0)"),
                              20, "the kept chunks found again")
        assert restored >= len(queued), (restored, queued)
        assert "tersimpan di peramban ini" in again.text_content("#live")  # the candidate is told
        wait_page(again, lambda s: s["recorder"] == "recording" and s["uploaded"] >= restored + 2, 40,
                  "the kept chunks and new ones uploaded")
        end_session(assessor)
        wait_page(again, lambda s: s["state"] == "ended" and s["pending"] == 0, 30, "the end")
        assert again.evaluate("liveCandidate.restoredLeft") == 0

        st, rec = api(assessor, "GET", f"/api/v1/sessions/{sid}/recording")
        assert st == 200 and rec["gaps"] == [], rec
        assert rec["chunks"] >= before["uploaded"] + len(queued), (rec, before, queued)
    finally:
        server.stop()
    from sqlalchemy import select

    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live.models import RecordingChunk

    with server.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
        seqs = list(db.session.scalars(select(RecordingChunk.seq).where(RecordingChunk.session_id == session.id)))
        logged = [e["metadata"]["seq"] for e in evidence.store.list_entries(sid)
                  if e.get("type") == "recording.browser_chunk"]
    assert sorted(seqs) == list(range(len(seqs))), seqs  # every number, from 0, no gap
    assert set(queued) <= set(seqs)  # what was queued when the tab closed arrived
    assert sorted(logged) == sorted(seqs), (logged, seqs)  # each chunk in the evidence log once
