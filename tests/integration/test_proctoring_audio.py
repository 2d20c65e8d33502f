"""Issue 14 #3 through the media engine: the candidate's audio (Opus over WebRTC) reaches the voice activity detector
while the session is live; speech during the assessor's quiet phase is a ``speech_in_quiet`` finding on the
assessor's socket and in the evidence, and the analysis reports the audio level."""

from __future__ import annotations

import json
import time

import pytest

from remote_tuk.extensions import evidence, media, socketio
from tests.conftest import csrf_token, login, satisfy_gate

pytestmark = pytest.mark.slow


@pytest.fixture
def backend():
    return "sqlite"


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_speech_in_the_quiet_phase_is_a_finding(live_app, cast):
    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from tests.media.clips import espeak_available, speech_pcm
    from tests.media.face import face_track, tone_track

    if not espeak_available():
        pytest.skip("espeak-ng (Debian) makes the spoken test audio")
    speech = speech_pcm()
    app, sid = live_app, cast.session_a
    assessor_http = app.test_client()
    login(assessor_http, cast, "asesor_a")
    token = csrf_token(assessor_http, "/akun/kata-sandi")
    candidate_http = app.test_client()
    login(candidate_http, cast, "asesi_a")
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, sid)
    for to in ("checking", "ready", "live"):
        r = assessor_http.post(f"/api/v1/sessions/{sid}/transition", json={"to": to}, headers={"X-CSRFToken": token})
        assert r.status_code == 200
    cand = socketio.test_client(app, namespace="/live", flask_test_client=candidate_http)
    assert cand.emit("join", {"session": sid}, namespace="/live", callback=True)["ok"]
    staff = socketio.test_client(app, namespace="/live", flask_test_client=assessor_http)
    assert staff.emit("join", {"session": sid}, namespace="/live", callback=True)["ok"]
    ack = staff.emit("quiet", {"session": sid, "on": True}, namespace="/live", callback=True)
    assert ack["ok"], ack

    clients = RtcLoop("test-clients")
    clients.start()
    try:
        async def make():
            voice = tone_track(440)
            voice._samples = speech  # the spoken sentence, looped
            return SyntheticPeer(send=[face_track(), voice], recv=["audio"])

        peer = clients.run(make(), 10)
        ack = cand.emit("offer", {"session": sid, "sdp": clients.run(peer.offer(), 10)}, namespace="/live",
                        callback=True)
        assert ack["ok"], ack
        clients.run(peer.accept(ack["sdp"]), 10)
        clients.run(peer.wait_connected(), 20)
        assert media.proctoring.is_open(sid)  # the quiet phase was switched on before: applied when it opened

        received: list[dict] = []

        def speech_finding():
            received.extend(staff.get_received("/live"))
            got = [m["args"][0] for m in received if m["name"] == "finding"]
            return [f for f in got if f["kind"] == "speech_in_quiet"]

        found = _wait(speech_finding, 40, "a speech_in_quiet finding on the assessor's socket")
        assert found[0]["source"] == "server" and found[0]["phase"] == "start"
        # the level the assessor's meter shows: the sentence's words are well above silence (its pauses are not)
        _wait(lambda: (media.proctoring.metrics(sid)["level_dbfs"] or -100) > -60, 15, "a speech level")
        received.extend(staff.get_received("/live"))
        levels = [m["args"][0]["dbfs"] for m in received if m["name"] == "level"]
        assert levels and max(levels) > -60, levels  # the assessor's meter gets the level live
        stats = staff.emit("stats", {"session": sid}, namespace="/live", callback=True)
        assert stats["analysis"]["running"] is True
    finally:
        clients.run(peer.close(), 10)
        clients.stop()
    with app.app_context():
        store = evidence.store
        docs = [json.loads(store.read(e["object"]["key"], ("test", "reader"))) for e in store.list_entries(sid)
                if e.get("type") == "proctoring.finding"]
    assert any(d["kind"] == "speech_in_quiet" and d["phase"] == "start" for d in docs), docs
