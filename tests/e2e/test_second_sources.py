"""Issue 19 items 1-2 end to end (real server, Debian Chromium with fake devices).

The phone: a second Chromium context (no account) opens the link decoded from the QR image on the candidate's live
page (OpenCV's QR detector on a screenshot of it), streams its rear camera; the assessor decodes its video beside the
webcam and sees its state and battery; its own chunks and the server's copy are in the session's evidence chain.
The screen: Chromium's fake screen capture is shared as a whole screen, relayed to the assessor and recorded; a tab
share (a real tab capture: Chromium gives one to ``preferCurrentTab``) is refused with a message; stopping the share
is an alert on the assessor's page.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.e2e.conftest import CHROMIUM, Server, chromium_args, wait_until
from tests.e2e.test_live_session import end_session, ready_pair, wait_page
from tests.media.qr import decode_qr

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

SOURCE_JS = """async (source) => {
  const pc = (window.sourcePcs || {})[source];
  const fig = document.querySelector(`[data-source="${source}"]`);
  const video = document.querySelector(`[data-source-video="${source}"]`);
  const out = {pc: pc ? pc.connectionState : 'none', state: fig ? fig.dataset.state : '',
               battery: fig ? (fig.dataset.battery || '') : '', w: video ? video.videoWidth : 0, frames: 0};
  if (pc) (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') { out.frames = s.framesDecoded || 0; out.fw = s.frameWidth; }
  });
  return out;
}"""


def source_view(page: Any, source: str) -> dict[str, Any]:
    return page.evaluate(SOURCE_JS, source)


def qr_link(page: Any) -> str:
    """The link in the QR image the candidate's page shows, decoded from a screenshot of it."""
    img = page.locator("[data-phone-qr-img]")
    img.wait_for(state="visible", timeout=15_000)
    png = img.screenshot()
    gray = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text = decode_qr(gray)
    assert text.startswith("http"), f"no QR code decoded ({text!r})"
    return text


def entries_of(server: Server, sid: str, type_: str) -> list[dict[str, Any]]:
    with server.app_context():
        from remote_tuk.extensions import evidence

        return [e for e in evidence.store.list_entries(sid) if e.get("type") == type_]


def read_object(server: Server, key: str) -> bytes:
    with server.app_context():
        from remote_tuk.extensions import evidence
        from remote_tuk.live.services import SYSTEM

        return bytes(evidence.store.read(key, SYSTEM))


def decoded_frames(data: bytes) -> int:
    import av

    n = 0
    with av.open(io.BytesIO(data), format="webm") as container:
        for _frame in container.decode(video=0):
            n += 1
    return n


def ask_for_phone_and_screen(server: Server) -> None:
    """The LSP's default TUK profile asks for the phone camera and the screen share (advisory: the gate of this
    test's session is already satisfied)."""
    from sqlalchemy import create_engine, insert

    from config.tuk_profile import DEFAULT_TUK_PROFILE, Requirement
    from remote_tuk.tuk.models import RequirementProfileRecord

    profile = DEFAULT_TUK_PROFILE.model_copy(update={"name": "Praktik dengan HP dan layar", "requirements": [
        *DEFAULT_TUK_PROFILE.requirements,
        Requirement(key="phone_camera", mandatory=False), Requirement(key="screen_share", mandatory=False)]})
    engine = create_engine(server.db_url)
    with engine.begin() as conn:
        conn.execute(insert(RequirementProfileRecord).values(name=profile.name, data=profile.model_dump(),
                                                             is_default=True))
    engine.dispose()


@pytest.fixture
def browser(playwright_instance: Any, fake_devices: tuple[Path, Path]) -> Iterator[Any]:
    """The e2e browser, plus: a tab capture asked for with ``preferCurrentTab`` is accepted without a picker (the
    whole screen is Chromium's fake screen capture, which ``--use-fake-ui-for-media-stream`` already picks)."""
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM,
                                            args=[*chromium_args(*fake_devices), "--auto-accept-this-tab-capture"])
    try:
        yield b
    finally:
        b.close()


def test_phone_camera_and_screen_share(make_server: Any, browser: Any) -> None:
    server: Server = make_server()
    cast, base = server.cast, server.url()
    sid = cast.session_a
    ask_for_phone_and_screen(server)
    try:
        assessor, candidate = ready_pair(browser, sid, assessor=(base, "asesor_a", cast.totp["asesor_a"]),
                                         candidate=(base, "asesi_a"))
        wait_page(candidate, lambda s: s["pc"] == "connected", 30, "the candidate's webcam connection")
        assessor.click("[data-action=start]")
        wait_page(candidate, lambda s: s["state"] == "live" and s["recorder"] == "recording", 15, "live")

        # --- the phone joins through the QR code --------------------------------------------------------------
        url = qr_link(candidate)
        assert f"/sesi/{sid}/kamera-hp/" in url
        phone_ctx = browser.new_context()  # no account, no password
        phone = phone_ctx.new_page()
        phone_log: list[str] = []
        phone.on("console", lambda m: phone_log.append(m.text))
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(url)
        with phone.expect_navigation():
            phone.click("[data-phone-connect]")
        assert phone.url.endswith(f"/sesi/{sid}/kamera-hp")
        try:
            wait_until(lambda: phone.evaluate("window.phonePc && window.phonePc.connectionState") == "connected", 30,
                       "the phone's connection")
        except AssertionError:
            print("phone console:", phone_log, phone.locator("#phone").get_attribute("data-state"))
            raise
        # the candidate's page is told that the phone's video reaches the server
        candidate.wait_for_selector('[data-phone-state="flowing"]', timeout=20_000)

        # the assessor decodes the phone's video beside the webcam and sees its state and battery
        # (generous: on a 2-core machine shared with other test runs the assessor's decoder can be starved)
        seen: list[dict[str, Any]] = []
        try:
            view = wait_until(lambda: (lambda v: seen.append(v) or (v if v["frames"] > 30 and v["w"] > 0 else None))(
                source_view(assessor, "phone")), 90, "the phone's video at the assessor")
        except AssertionError:
            print("assessor's view of the phone:", seen[-3:])
            raise
        assert view["state"] == "flowing", view
        battery = wait_until(lambda: source_view(assessor, "phone")["battery"], 20, "the phone's battery")
        assert battery == "unknown" or battery.endswith("%"), battery
        # the same link a second time: refused
        again = browser.new_context().new_page()
        resp = again.goto(url)
        assert resp.status == 410 and again.locator('[data-phone-refused="link_used"]').count() == 1
        again.context.close()

        # --- the screen share -----------------------------------------------------------------------------------
        # A tab (a real tab capture) is refused with a message, and the refusal is evidence.
        candidate.evaluate("""() => {
          const real = navigator.mediaDevices.getDisplayMedia.bind(navigator.mediaDevices);
          window.__realGdm = real;
          navigator.mediaDevices.getDisplayMedia = (c) => real(Object.assign({}, c, {preferCurrentTab: true,
            selfBrowserSurface: 'include', video: {displaySurface: 'browser'}}));
        }""")
        candidate.click("[data-screen-share]")
        try:
            candidate.wait_for_selector('[data-screen-state="refused"]', timeout=10_000)
        except Exception:
            print("screen state:", candidate.locator("[data-screen-state]").get_attribute("data-screen-state"))
            raise
        assert "SELURUH LAYAR" in candidate.locator("[data-screen-state]").inner_text()
        # the verdict function itself, with stubbed settings
        verdicts = candidate.evaluate("""() => ['monitor', 'window', 'browser', undefined].map(
            (s) => window.RtukSources.screenSurfaceVerdict(s ? {displaySurface: s} : {}))""")
        assert [v["ok"] for v in verdicts] == [True, False, False, False], verdicts
        # The whole screen (Chromium's fake screen capture): relayed and recorded.
        candidate.evaluate("() => { navigator.mediaDevices.getDisplayMedia = window.__realGdm; }")
        candidate.click("[data-screen-share]")
        candidate.wait_for_selector('[data-screen-state="sharing"]', timeout=10_000)
        screen = wait_until(lambda: (lambda v: v if v["frames"] > 10 else None)(source_view(assessor, "screen")),
                            90, "the screen at the assessor")
        assert screen["fw"] >= 640, screen
        wait_until(lambda: int(candidate.evaluate("document.getElementById('live').dataset.screenUploaded || 0")) >= 2,
                   30, "screen chunks uploaded")
        # Stopping the share is an alert for the assessor.
        candidate.evaluate("() => window.screenPc.getSenders()[0].track.stop() || "
                           "window.screenPc.getSenders()[0].track.dispatchEvent(new Event('ended'))")
        candidate.wait_for_selector('[data-screen-state="stopped"]', timeout=10_000)
        assessor.wait_for_selector("text=Berbagi layar asesi berhenti.", timeout=15_000)

        wait_until(lambda: int(phone.evaluate("document.getElementById('phone').dataset.uploaded || 0")) >= 3, 30,
                   "the phone's chunks uploaded")
        end_session(assessor)
        wait_until(lambda: phone.evaluate("document.getElementById('phone').dataset.sessionState") == "ended", 20,
                   "the phone follows the end")
        time.sleep(3)
        phone_ctx.close()
    finally:
        server.stop()

    # --- the evidence chain: the phone's chunks, the screen's chunks, the server's copies ---------------------------
    chunks = entries_of(server, sid, "recording.source_chunk")
    phone_chunks = sorted((e for e in chunks if e["metadata"]["stream"] == "phone"), key=lambda e: e["metadata"]["seq"])
    screen_chunks = [e for e in chunks if e["metadata"]["stream"] == "screen"]
    assert len(phone_chunks) >= 3 and len(screen_chunks) >= 2, (len(phone_chunks), len(screen_chunks))
    assert [e["metadata"]["seq"] for e in phone_chunks] == list(range(len(phone_chunks)))
    joined = b"".join(read_object(server, e["object"]["key"]) for e in phone_chunks)
    assert decoded_frames(joined) > 10
    segments = entries_of(server, sid, "recording.source_segment")
    assert {e["metadata"]["stream"] for e in segments} == {"phone", "screen"}, segments
    # the webcam's own recording is untouched by the extra streams
    assert all("stream" not in (e.get("metadata") or {}) for e in entries_of(server, sid, "recording.server_segment"))
