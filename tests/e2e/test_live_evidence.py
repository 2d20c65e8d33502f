"""Issue 13 through the real pages (Debian Chromium, real WebRTC): the evidence says only what happened, and the live
pages offer the next step.

One server and one browser for the module. Session A goes the whole way: the candidate's pre-session media test
(exactly what the check page does: join, offer, hold, leave), the assessor entering the live page while the session is
still ``checking`` (the next step: declare it ready), fullscreen asked for and lost, live, a KUK mark, a page reload, a
second mark, the end, the decision, and a page closed after the session was decided. The webcam is a 12 s loop whose
frames carry their number, so "the picture at t" can be read from both copies of the recording.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.components import require
from tests.e2e.conftest import CHROMIUM, Server, api, chromium_args, chromium_available, sign_in, wait_until
from tests.e2e.test_live_session import frames, move, open_live, wait_page

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

LOOP_S = 12  # the fake webcam's file loops every 12 s; numbers are compared modulo that
FPS = 30


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require(chromium_available(), "Debian Chromium + the playwright package",
            "apt-get install -y chromium; pip install playwright (no browser download needed)")
    srv = Server(tmp_path_factory.mktemp("e2e-evidence"))
    srv.prepare()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    require(chromium_available(), "Debian Chromium + the playwright package", "apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    from tests.media.face import write_wav, write_y4m

    media = tmp_path_factory.mktemp("media-counter")
    y4m, wav = write_y4m(media / "counter.y4m", seconds=LOOP_S), write_wav(media / "tone.wav", seconds=4)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(y4m, wav))
        try:
            yield b
        finally:
            b.close()


# What the TUK check page's media test does (remote_tuk/static/js/tuk-check.js, mediaTest): its own /live socket,
# join, an offer with the camera and microphone, a few seconds of media, then close and leave.
CHECK_MEDIA_TEST_JS = """async ([sid, holdMs]) => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true});
  const socket = io("/live", {transports: ["websocket"], forceNew: true, reconnection: false});
  await new Promise((ok, fail) => { socket.on("connect", ok); socket.on("connect_error", fail); });
  const call = (ev, p) => new Promise((ok, fail) => socket.timeout(20000).emit(ev, p,
    (err, ack) => err ? fail(err) : ack.ok ? ok(ack) : fail(new Error(ack.error))));
  await call("join", {session: sid});
  const pc = new RTCPeerConnection({iceServers: []});
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => { const f = () => pc.iceGatheringState === "complete" && ok();
    pc.addEventListener("icegatheringstatechange", f); f(); setTimeout(ok, 5000); });
  const ack = await call("offer", {session: sid, sdp: pc.localDescription.sdp});
  await pc.setRemoteDescription({type: "answer", sdp: ack.sdp});
  await new Promise((ok) => { const f = () => pc.connectionState === "connected" && ok();
    pc.addEventListener("connectionstatechange", f); f(); });
  await new Promise((ok) => setTimeout(ok, holdMs));
  pc.close();
  await call("leave", {session: sid});
  socket.close();
  stream.getTracks().forEach((t) => t.stop());
  return true;
}"""


def _events(store: Any, sid: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for e in store.list_entries(sid):
        if e.get("type") == "session.event":
            body = json.loads(store.read(e["object"]["key"], ("auditor", "e2e")))
            out.append((body["event"], body))
    return out


def _picture_at(webm: bytes, t: float) -> int:
    """The frame number (tests/media/face.py barcode) of the picture a player shows at t seconds (a picture that
    started at most 0.25 s before t: not the last picture before a gap)."""
    import av

    from tests.media.face import HEIGHT, read_counter

    shown = None
    with av.open(io.BytesIO(webm), format="webm") as c:
        for frame in c.decode(video=0):
            if frame.time is None:
                continue
            if frame.time > t:
                break
            shown = frame
    assert shown is not None and shown.time > t - 0.25, f"no current picture at {t} s"
    return read_counter(shown.to_ndarray(format="yuv420p")[:HEIGHT])


def _loop_distance(a: int, b: int) -> int:
    n = LOOP_S * FPS
    d = (a - b) % n
    return min(d, n - d)


def test_a_session_whose_evidence_says_only_what_happened(server: Server, browser: Any, tmp_path: Path) -> None:
    cast, base, sid = server.cast, server.url(), server.cast.session_a
    assessor = browser.new_context().new_page()
    sign_in(assessor, base, "asesor_a", cast.totp["asesor_a"])
    move(assessor, sid, "checking")
    candidate = browser.new_context().new_page()
    sign_in(candidate, base, "asesi_a")

    # 1. the pre-session media test, then the identity step (no media) for a few seconds
    candidate.goto(f"{base}/sesi/{sid}")
    assert candidate.evaluate(CHECK_MEDIA_TEST_JS, [sid, 5000]) is True
    time.sleep(4)

    # 2. issue 13 #9: the assessor enters the live page while the session is still checking: the next step is offered
    open_live(assessor, base, sid)
    assessor.wait_for_selector("[data-live-next][data-gate=open]:not([hidden])", timeout=15_000)
    assert assessor.locator("[data-action=start]").is_hidden()
    assessor.click("[data-live-next] [data-action=ready]")
    assessor.wait_for_selector("#live[data-state=ready] [data-action=start]:not([hidden])", timeout=10_000)
    assert assessor.locator("[data-live-next] [data-action=ready]").is_hidden()

    # 3. issue 13 #13: the profile requires fullscreen; the candidate's live page asks for it and shows its loss
    open_live(candidate, base, sid)
    candidate.wait_for_selector("[data-live-fullscreen][data-state=off]", timeout=10_000)
    candidate.click("[data-live-fullscreen-enter]")
    candidate.wait_for_selector("#live[data-fullscreen=on]", timeout=10_000)
    candidate.evaluate("document.exitFullscreen()")
    candidate.wait_for_selector("#live[data-fullscreen=lost] .fullscreen-lost", timeout=10_000)
    assert "Layar penuh ditinggalkan" in candidate.inner_text("[data-live-fullscreen-text]")
    assert candidate.locator("[data-live-fullscreen-enter]").is_visible()

    wait_page(candidate, lambda s: s["pc"] == "connected", 30, "the candidate's connection")
    wait_page(assessor, lambda s: s["pc"] == "connected", 30, "the assessor's connection")
    time.sleep(3)  # media before live, from the live page this time
    assessor.click("[data-action=start]")
    wait_page(candidate, lambda s: s["state"] == "live" and s["recorder"] == "recording", 15, "live + recording")
    clock = assessor.evaluate("Live.emit('stats', {}).then((a) => a.clock)")
    assert clock["downtime_s"] == 0, clock  # issue 13 #1: the check and the identity step were no downtime

    # 4. marks before and after a reload of the candidate's page
    wait_page(assessor, lambda s: frames(s) > 30, 30, "video at the assessor")
    kuks = [int(k) for k in assessor.eval_on_selector_all(".kuk-item", "els => els.map((e) => e.dataset.kuk)")]
    time.sleep(4)
    marks = []

    def mark(kuk: int) -> None:
        status, body = api(assessor, "POST", f"/api/v1/sessions/{sid}/marks", {"kuk_id": kuk, "verdict": "K"})
        assert status == 201, body
        marks.append(body["mark"]["media_s"])

    # the first mark through the page, with a note a person might write (an unbroken link in it)
    first = assessor.locator(f'.kuk-item[data-kuk="{kuks[0]}"]')
    first.locator(".kuk-note").fill("Menjelaskan langkah dengan benar, lihat https://lsp.example/panduan/observasi/"
                                    "kuk-1-1-penjelasan-lengkap-dengan-contoh")
    first.locator("[data-verdict=K]").click()
    assessor.wait_for_selector(f'.kuk-item[data-kuk="{kuks[0]}"][data-version="1"]', timeout=10_000)
    _status, listing = api(assessor, "GET", f"/api/v1/sessions/{sid}/marks")
    marks.append(next(m["media_s"] for m in listing["marks"] if m["kuk_id"] == kuks[0]))
    # a reload loses what the recorder had not handed over yet (up to one chunk): let the marked moment be uploaded
    wait_page(candidate, lambda s: s["uploaded"] >= 3 and s["pending"] == 0, 20, "the marked moment uploaded")
    candidate.reload()
    candidate.wait_for_selector("#live")
    time.sleep(2)  # nothing is recorded while the page reloads
    wait_page(candidate, lambda s: s["recorder"] == "recording", 30, "recording again after the reload")
    time.sleep(5)
    mark(kuks[1])

    # 5. issue 13 #15: nothing of the KUK panel runs off its right edge, on a laptop and on a phone
    size = assessor.viewport_size
    for width in (size["width"], 390):
        assessor.set_viewport_size({"width": width, "height": size["height"]})
        overflow = assessor.evaluate("""() => {
          const p = document.querySelector('.kuk-panel'), panel = p.getBoundingClientRect();
          const parts = '.kuk-item [data-kuk-current], .kuk-item [data-verdict], .kuk-note';
          const out = [...document.querySelectorAll(parts)]
            .map((e) => e.getBoundingClientRect()).filter((r) => r.right > panel.right - 1 || r.left < panel.left);
          return {elements: out.length, scroll: p.scrollWidth - p.clientWidth};
        }""")
        assert overflow == {"elements": 0, "scroll": 0}, (width, overflow)
    assessor.set_viewport_size(size)

    time.sleep(2)
    assessor.click("[data-action=end]")
    assessor.click("[data-action=end-confirm]")
    wait_page(candidate, lambda s: s["state"] == "ended" and s["pending"] == 0, 30, "every chunk uploaded")

    # 6. issue 13 #15 and #7: after the end the decisions are on screen with what the evidence says per unit; "Simpan
    # keputusan" is visible without scrolling anything; K cannot be chosen for a unit whose KUK lack evidence for K
    assessor.wait_for_selector("[data-live-decisions][data-evidence=loaded]:not([hidden])", timeout=15_000)
    visible = assessor.evaluate("""() => {
      const b = document.querySelector('[data-live-decisions] .decision-actions button');
      const r = b.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return r.top >= 0 && r.bottom <= window.innerHeight && (hit === b || b.contains(hit));
    }""")
    assert visible
    fieldsets = assessor.locator("fieldset[data-unit]").all()
    assert fieldsets and all(fs.get_attribute("data-k-allowed") == "0" for fs in fieldsets)
    assert all(fs.locator("input[value=K]").is_disabled() for fs in fieldsets)
    assert "KUK" in fieldsets[0].locator("[data-unit-evidence]").inner_text()
    for fs in fieldsets:
        fs.locator("input[value=BK]").check()
        fs.locator("textarea").fill("Bukti belum lengkap untuk semua KUK.")
    assessor.click("[data-live-decisions] .decision-actions button")
    assessor.wait_for_selector("[data-live-decision-done]:not([hidden])", timeout=15_000)

    def recordings() -> Any:
        st, rec = api(assessor, "GET", f"/api/v1/sessions/{sid}/recording")
        return rec if st == 200 and rec.get("full") and rec.get("server_full") else None

    rec = wait_until(recordings, 60, "both joined recordings")
    log_before = server.log_path.stat().st_size
    move(assessor, sid, "decided")

    # 7. issue 13 #6: a page still open after the decision closes: no traceback, nothing written to the closed chain
    time.sleep(1)
    candidate.close()
    assessor.goto(f"{base}/sesi/{sid}")
    time.sleep(2)
    server.stop()
    with open(server.log_path, "rb") as fh:
        fh.seek(log_before)
        log_after = fh.read().decode(errors="replace")
    assert "Traceback" not in log_after and "is closed" not in log_after, log_after[-3000:]

    from remote_tuk.extensions import evidence

    with server.app_context():
        store = evidence.store
        entries = store.list_entries(sid)
        events = _events(store, sid)
        browser_copy = store.read(rec["full"]["object_key"], ("auditor", "e2e"))
        server_copy = store.read(rec["server_full"]["object_key"], ("auditor", "e2e"))
    assert entries[-1]["kind"] == "close"
    names = [name for name, _body in events]
    live_at = names.index("state.live")
    # issue 13 #1: before live, the media test ending is its own event and nothing looks like a lost connection
    assert not {"media.stalled", "media.resumed"} & set(names[:live_at]), names[:live_at]
    pre = [body for name, body in events[:live_at] if name == "media.ended"]
    assert pre and pre[0]["data"]["phase"] == "pre_session", pre
    assert "page.left" not in names[names.index("state.decided"):]

    # issue 13 #2 and #5: a mark at t shows the same picture in both copies, before and after the reload
    seen = []
    for t in marks:
        in_browser, in_server = _picture_at(browser_copy, t), _picture_at(server_copy, t)
        seen.append((t, in_browser, in_server))
        assert _loop_distance(in_browser, in_server) <= 9, seen  # 0.3 s at 30 frames/s
    print("marks: (media_s, browser frame, server frame)", seen)
