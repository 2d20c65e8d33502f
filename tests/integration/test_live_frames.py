"""Issue 13 #13: the candidate's video is decoded only while somebody needs frames (the TUK check's camera
measurement, or the live proctoring of issue 14 while the session is live), and the frames kept for it are freed
afterwards; a session is never decoded for nothing."""

from __future__ import annotations

import time

import pytest

from remote_tuk.extensions import media, socketio
from tests.conftest import csrf_token, login, satisfy_gate

pytestmark = pytest.mark.slow


@pytest.fixture
def backend():
    return "sqlite"


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_frames_are_decoded_only_while_wanted_and_then_freed(live_app, cast):
    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from tests.media.face import face_track, tone_track

    app = live_app
    sid = cast.session_a
    assessor = app.test_client()
    login(assessor, cast, "asesor_a")
    a_token = csrf_token(assessor, "/akun/kata-sandi")
    candidate = app.test_client()
    login(candidate, cast, "asesi_a")
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, sid)
    for to in ("checking", "ready"):
        r = assessor.post(f"/api/v1/sessions/{sid}/transition", json={"to": to}, headers={"X-CSRFToken": a_token})
        assert r.status_code == 200
    sock = socketio.test_client(app, namespace="/live", flask_test_client=candidate)
    assert sock.emit("join", {"session": sid}, namespace="/live", callback=True)["ok"]
    clients = RtcLoop("test-clients")
    clients.start()
    try:
        async def make():
            return SyntheticPeer(send=[face_track(), tone_track(440)], recv=["audio"])

        peer = clients.run(make(), 10)
        ack = sock.emit("offer", {"session": sid, "sdp": clients.run(peer.offer(), 10)}, namespace="/live",
                        callback=True)
        assert ack["ok"], ack
        clients.run(peer.accept(ack["sdp"]), 10)
        clients.run(peer.wait_connected(), 20)
        time.sleep(2.0)

        def decoded() -> int:
            return media.stats(sid)["analysis"]["decoded_frames"]

        assert decoded() == 0  # a session nobody measures (and not live: nothing proctored) is not decoded

        # the TUK check's measurement: watch, take the frames, watch again ("a re-measure keeps collecting")
        media.watch(sid)
        _wait(lambda: len(media._frames.get(sid) or ()) >= 3, 20)
        frames = media.take_frames(sid)
        assert len(frames) >= 3 and frames[0].i420.shape == (480 * 3 // 2, 640)
        media.watch(sid)
        _wait(lambda: len(media._frames.get(sid) or ()) >= 1, 20)
        # live: the proctoring analysis decodes at its profile's rate (issue 14), the watch still gets its frames
        r = assessor.post(f"/api/v1/sessions/{sid}/transition", json={"to": "live"}, headers={"X-CSRFToken": a_token})
        assert r.status_code == 200
        assert media.proctoring.is_open(sid)
        _wait(lambda: media.proctoring.metrics(sid)["processed"] >= 2, 30)
        # the candidate's page leaves (the check page does when its media test is over): decoding stops, frames freed
        assert sock.emit("leave", {"session": sid}, namespace="/live", callback=True)["ok"]
        clients.run(peer.close(), 10)
        _wait(lambda: sid not in media._frames, 10)
        assert media.watching() == {}
        _wait(lambda: not media.proctoring.is_open(sid), 10)  # the media ended: nothing left to analyse
    finally:
        clients.stop()
