"""A candidate withdraws consent in the middle of a live session (real Socket.IO signaling, the media engine, aiortc
peers on loopback): the media is closed at once, uploads, chat and rejoining are refused, the session is cancelled by
the system with the reason, both pages are told, and the LSP gets its request with the 3 × 24 h deadline."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.conftest import satisfy_gate
from tests.functional.test_consent import api, cosign, give_consents
from tests.integration.test_live_session import _emit, _http, _make, _sock, _upload, _wait, _webm

pytestmark = pytest.mark.slow


@pytest.fixture
def backend():
    """The live flow runs on SQLite; the database layer itself is covered on both backends."""
    return "sqlite"


def _connect(clients, sock, sid, **peer):
    """A synthetic browser (made on the clients' loop), offer/answer over the /live socket, connection up."""
    from proctor.rtc.testing import SyntheticPeer

    peer = clients.run(_make(SyntheticPeer, **peer), 10)
    ack = _emit(sock, "offer", {"session": sid, "sdp": clients.run(peer.offer(), 10)})
    assert ack["ok"], ack
    clients.run(peer.accept(ack["sdp"]), 10)
    clients.run(peer.wait_connected(), 20)
    return peer


def test_withdrawal_during_a_live_session_stops_processing_at_once(live_app, cast):
    from proctor.rtc.loop import RtcLoop
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence, media
    from remote_tuk.privacy.models import PrivacyRequest
    from tests.media.face import face_track, tone_track

    app, sid = live_app, cast.session_a
    assessor_http, _ = _http(app, cast, "asesor_a")
    candidate_http, c_token = _http(app, cast, "asesi_a")
    give_consents(candidate_http, cast)
    assert cosign(assessor_http, cast).status_code == 201
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, sid, consent=False)
    for to in ("checking", "ready", "live"):
        assert api(assessor_http, "POST", f"/api/v1/sessions/{sid}/transition", {"to": to}).status_code == 200

    cand_sock, asse_sock = _sock(app, candidate_http), _sock(app, assessor_http)
    assert _emit(cand_sock, "join", {"session": sid})["ok"]
    assert _emit(asse_sock, "join", {"session": sid})["ok"]
    clients = RtcLoop("test-clients")
    clients.start()
    try:
        cand = _connect(clients, cand_sock, sid, send=[face_track(), tone_track(440)], recv=["audio"])
        viewer = _connect(clients, asse_sock, sid, send=[tone_track(880)], recv=["video", "audio"])
        _wait(lambda: viewer.received.video_frames >= 10, 20)
        webm = _webm(2.0)
        assert _upload(candidate_http, c_token, cast, 0, webm[:20_000]).status_code == 201
        assert sid in media.engine.session_ids()
        asse_sock.get_received("/live")  # what came before

        # the candidate withdraws (the dashboard's form posts the same)
        t0 = time.monotonic()
        r = api(candidate_http, "POST", f"/api/v1/sessions/{sid}/consent/withdraw",
                {"reason": "Saya tidak nyaman direkam.", "confirm": True})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["state"] == "cancelled"
        # live media closed for the session as part of the request
        assert sid not in media.engine.session_ids()
        frames = viewer.received.video_frames
        _wait(lambda: cand.pc.connectionState in ("closed", "failed", "disconnected"), 20)
        time.sleep(1.0)
        assert viewer.received.video_frames - frames < 30  # the relay stopped (a few frames were in flight)
        print(f"\nwithdrawal to media closed: {time.monotonic() - t0:.2f} s")

        # both pages are told: the new state and why
        received = asse_sock.get_received("/live")
        states = [m["args"][0] for m in received if m["name"] == "state"]
        notices = [m["args"][0]["message"] for m in received if m["name"] == "notice"]
        assert any(s["state"] == "cancelled" for s in states)
        assert any("menarik persetujuan" in n for n in notices)

        # processing is refused from then on: uploads, chat, media, marks
        assert _upload(candidate_http, c_token, cast, 1, webm[20_000:40_000]).status_code == 409
        chat = _emit(cand_sock, "chat", {"session": sid, "text": "halo?"})
        assert chat["ok"] is False
        rejoin = _emit(cand_sock, "offer", {"session": sid, "sdp": "v=0"})
        assert rejoin["ok"] is False
        mark = api(assessor_http, "POST", f"/api/v1/sessions/{sid}/marks", {"kuk_id": 1, "verdict": "K"})
        assert mark.status_code in (409, 422) and mark.get_json()["error"] != "internal_error"
        clients.run(cand.close(), 10)
        clients.run(viewer.close(), 10)
    finally:
        clients.stop()

    with app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == sid))
        assert session.state.value == "cancelled"
        last = session.transitions[-1]
        assert last.from_state.value == "live" and last.actor_id is None  # the system cancelled
        assert last.reason == "Persetujuan ditarik oleh asesi."
        request = db.session.scalar(select(PrivacyRequest))
        assert request.processing_stopped_at is not None and request.status == "open"
        entries = evidence.store.list_entries(sid, include_related=False)
    kinds = [e.get("type") or e["kind"] for e in entries]
    withdrawn = kinds.index("consent.withdrawn")
    cancelled = next(i for i, e in enumerate(entries) if (e.get("metadata") or {}).get("event") == "state.cancelled")
    assert withdrawn < cancelled and entries[-1]["kind"] == "close"
    # no chunk after the withdrawal made it into the evidence
    assert [e for e in entries[withdrawn:] if e.get("type") == "recording.browser_chunk"] == []
