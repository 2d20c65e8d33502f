"""Issue 13 #2 and #5: one session media clock. The server's own copy is recorded while the session is live, placed on
the session clock (not the engine's clock, which started at the first packet of the pre-session check), joined into
a playable WebM, and a KUK mark at t shows the picture the candidate sent at t."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import select

from remote_tuk.extensions import evidence, socketio
from tests.conftest import csrf_token, login, satisfy_gate

pytestmark = pytest.mark.slow
av = pytest.importorskip("av")


@pytest.fixture
def backend():
    return "sqlite"


def _client(app, cast, who):
    c = app.test_client()
    login(c, cast, who)
    return c, csrf_token(c, "/akun/kata-sandi")


def _move(http, token, cast, *states):
    for to in states:
        r = http.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": to}, headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def frame_at(webm: bytes, t: float):
    """The picture shown at *t* seconds: the last frame that starts at or before t."""
    shown = None
    with av.open(io.BytesIO(webm), format="webm") as c:
        for frame in c.decode(video=0):
            if frame.time is not None and frame.time <= t:
                shown = frame
            elif frame.time is not None and frame.time > t:
                break
    assert shown is not None, f"no picture at {t}"
    return shown


def test_a_mark_points_at_the_picture_of_its_moment_in_the_server_copy(live_app, cast):
    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db
    from tests.integration.test_live_session import _first_kuk
    from tests.media.face import HEIGHT, face_track, read_counter, tone_track

    app = live_app
    assessor, a_token = _client(app, cast, "asesor_a")
    candidate, _c_token = _client(app, cast, "asesi_a")
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, cast.session_a)
    _move(assessor, a_token, cast, "checking", "ready")
    cand_sock = socketio.test_client(app, namespace="/live", flask_test_client=candidate)
    assert cand_sock.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)["ok"]
    clients = RtcLoop("test-clients")
    clients.start()
    video = face_track()
    try:
        async def make():
            return SyntheticPeer(send=[video, tone_track(440)], recv=["audio"])

        peer = clients.run(make(), 10)
        ack = cand_sock.emit("offer", {"session": cast.session_a, "sdp": clients.run(peer.offer(), 10)},
                             namespace="/live", callback=True)
        assert ack["ok"], ack
        clients.run(peer.accept(ack["sdp"]), 10)
        clients.run(peer.wait_connected(), 20)
        time.sleep(3.0)  # media before the session is live (the check, the identity step): not on the session clock
        _move(assessor, a_token, cast, "live")
        kuk = _first_kuk(app, cast)
        marks = []
        for pause in (False, True):
            time.sleep(3.0)
            r = assessor.post(f"/api/v1/sessions/{cast.session_a}/marks", json={"kuk_id": kuk, "verdict": "K"},
                              headers={"X-CSRFToken": a_token})
            marks.append(r.get_json()["mark"]["media_s"])
            if not pause:
                _move(assessor, a_token, cast, "paused")
                time.sleep(2.0)  # the server still relays, but a paused session is not recorded
                _move(assessor, a_token, cast, "live")
        time.sleep(1.0)
        _move(assessor, a_token, cast, "ended")
        clients.run(peer.close(), 10)
    finally:
        clients.stop()

    def server_full():
        st = assessor.get(f"/api/v1/sessions/{cast.session_a}/recording").get_json()
        return st["server_full"]

    _wait(server_full, 40)  # the server's own copy is joined (it never was)
    full = server_full()
    from remote_tuk.live.clock import clock_at_utc

    with app.app_context():
        data = evidence.store.read(full["object_key"], ("auditor", "test"))
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        segments = [e for e in evidence.store.list_entries(cast.session_a) if e.get("type") ==
                    "recording.server_segment"]
        sent_clock = {i: clock_at_utc(session, t) for i, t in video.sent_wall.items()}
    assert segments and all(e["metadata"]["clock"] == "session" for e in segments)
    assert min(e["media_range"]["start_ms"] for e in segments) < 1500  # from the start of live, not of the check
    assert 6.5 <= full["duration_s"] <= 9.0  # 3 + 3 + 1 s live; the 2 s pause is not on the clock
    for t in marks:
        shown = frame_at(data, t)
        counter = read_counter(shown.to_ndarray(format="yuv420p")[:HEIGHT])
        assert abs(sent_clock[counter] - t) < 0.35, (t, counter, sent_clock[counter])


def test_the_pre_session_media_test_ending_is_no_disconnection(live_app, cast):
    """Issue 13 #1: leaving the check's media test logged media.stalled and, once the live page joined, media.resumed:
    every session's evidence showed ~20 s of "koneksi asesi terputus" although nothing was cut."""
    import json

    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from tests.media.face import face_track, tone_track

    app = live_app
    assessor, a_token = _client(app, cast, "asesor_a")
    candidate, _ = _client(app, cast, "asesi_a")
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, cast.session_a)
    _move(assessor, a_token, cast, "checking")
    clients = RtcLoop("test-clients")
    clients.start()

    def connect(sock):
        async def make():
            return SyntheticPeer(send=[face_track(), tone_track(440)], recv=["audio"])

        peer = clients.run(make(), 10)
        ack = sock.emit("offer", {"session": cast.session_a, "sdp": clients.run(peer.offer(), 10)},
                        namespace="/live", callback=True)
        assert ack["ok"], ack
        clients.run(peer.accept(ack["sdp"]), 10)
        clients.run(peer.wait_connected(), 20)
        return peer

    try:
        check = socketio.test_client(app, namespace="/live", flask_test_client=candidate)  # the check page's socket
        assert check.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)["ok"]
        peer = connect(check)
        time.sleep(3.0)  # the media test
        clients.run(peer.close(), 10)
        assert check.emit("leave", {"session": cast.session_a}, namespace="/live", callback=True)["ok"]
        check.disconnect(namespace="/live")
        time.sleep(4.0)  # the identity step: longer than a stall (2 s)
        _move(assessor, a_token, cast, "ready")
        live_page = socketio.test_client(app, namespace="/live", flask_test_client=candidate)
        assert live_page.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)["ok"]
        peer = connect(live_page)
        time.sleep(2.0)
        _move(assessor, a_token, cast, "live")
        clock = live_page.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)["clock"]
        clients.run(peer.close(), 10)
    finally:
        clients.stop()
    assert clock["downtime_s"] == 0
    with app.app_context():
        store = evidence.store
        events = [json.loads(store.read(e["object"]["key"], ("auditor", "test")))
                  for e in store.list_entries(cast.session_a) if e.get("type") == "session.event"]
    names = [e["event"] for e in events]
    assert "media.stalled" not in names and "media.resumed" not in names, names
    ended = [e for e in events if e["event"] == "media.ended"]
    assert len(ended) == 1 and ended[0]["data"]["phase"] == "pre_session" and ended[0]["data"]["state"] == "checking"
