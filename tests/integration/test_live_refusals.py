"""Live session refusals: strangers, malformed SDP, wrong state, bad chunks. A refusal changes nothing."""

from __future__ import annotations

import hashlib
from html import unescape

import pytest
from sqlalchemy import func, select

from remote_tuk.extensions import socketio
from tests.conftest import csrf_token, login, satisfy_gate

SDP_NO_MEDIA = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@pytest.fixture
def backend():
    """The live flow runs on SQLite; the database layer itself is covered on both backends."""
    return "sqlite"


def _client(app, cast, who):
    c = app.test_client()
    login(c, cast, who)
    return c, csrf_token(c, "/akun/kata-sandi")


def _sock(app, http):
    return socketio.test_client(app, namespace="/live", flask_test_client=http)


def _go_live(app, cast):
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, cast.session_a)
    a, token = _client(app, cast, "asesor_a")
    for to in ("checking", "ready", "live"):
        assert (
            a.post(
                f"/api/v1/sessions/{cast.session_a}/transition", json={"to": to}, headers={"X-CSRFToken": token}
            ).status_code
            == 200
        )
    return a, token


def _chunk(http, token, cast, seq, body, sha=None, **headers):
    h = {
        "X-CSRFToken": token,
        "X-Chunk-Seq": str(seq),
        "X-Chunk-SHA256": sha or hashlib.sha256(body).hexdigest(),
        "Content-Type": "application/octet-stream",
        **headers,
    }
    return http.post(f"/api/v1/sessions/{cast.session_a}/recording/chunks", data=body, headers=h)


def _chunks(app):
    from remote_tuk.extensions import db
    from remote_tuk.live.models import RecordingChunk

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(RecordingChunk))


def test_anonymous_socket_refused(live_app):
    assert not socketio.test_client(live_app, namespace="/live").is_connected("/live")


def test_stranger_cannot_join_or_offer(live_app, cast):
    _go_live(live_app, cast)
    other, _ = _client(live_app, cast, "asesi_b")
    sc = _sock(live_app, other)
    assert sc.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)["error"] == "not_found"
    ack = sc.emit("offer", {"session": cast.session_a, "sdp": SDP_NO_MEDIA}, namespace="/live", callback=True)
    assert ack["error"] == "not_found"


@pytest.mark.parametrize(
    ("sdp", "code"),
    [
        ("hello", "validation_failed"),
        ("x" * 70_000, "validation_failed"),
        ("not an sdp at all, v=1", "invalid_sdp"),
        (SDP_NO_MEDIA, "sdp_missing_media"),
    ],
)
def test_malformed_sdp(live_app, cast, sdp, code):
    _go_live(live_app, cast)
    cand, _ = _client(live_app, cast, "asesi_a")
    sc = _sock(live_app, cand)
    ack = sc.emit("offer", {"session": cast.session_a, "sdp": sdp}, namespace="/live", callback=True)
    assert ack["ok"] is False
    assert ack["error"] in (code, "invalid_sdp"), ack


def test_media_refused_in_the_wrong_state(live_app, cast):
    cand, _ = _client(live_app, cast, "asesi_a")  # the session is still 'scheduled'
    sc = _sock(live_app, cand)
    ack = sc.emit("offer", {"session": cast.session_a, "sdp": SDP_NO_MEDIA}, namespace="/live", callback=True)
    assert ack["error"] == "invalid_state"


@pytest.mark.parametrize(
    "payload",
    [None, [], "x", {"session": "a"}, {"session": "../../../etc/passwd"}, {"session": "abcdefgh12", "extra": 1}],
)
def test_bad_payloads(live_app, cast, payload):
    cand, _ = _client(live_app, cast, "asesi_a")
    ack = _sock(live_app, cand).emit("join", payload, namespace="/live", callback=True)
    assert ack["ok"] is False and ack["error"] in ("validation_failed", "not_found")


def test_chunk_rules(live_app, cast):
    from tests.integration.test_live_session import _webm

    assessor, a_token = _go_live(live_app, cast)
    cand, c_token = _client(live_app, cast, "asesi_a")
    body = _webm(seconds=1.0)[:4000]  # the first chunk of a recorder run starts a WebM stream
    assert _chunk(cand, c_token, cast, 0, body).status_code == 201
    # the same bytes again: accepted as a duplicate, nothing new stored
    assert _chunk(cand, c_token, cast, 0, body).get_json()["duplicate"] is True
    # other bytes under a used sequence number
    assert _chunk(cand, c_token, cast, 0, body + b"!").status_code == 409
    # the body does not hash to the header
    r = _chunk(cand, c_token, cast, 1, body, sha="0" * 64)
    assert r.status_code == 422 and r.get_json()["error"] == "chunk_hash_mismatch"
    # malformed headers
    assert _chunk(cand, c_token, cast, "-1", body).status_code == 422
    assert _chunk(cand, c_token, cast, 1, body, sha="xyz").status_code == 422
    assert _chunk(cand, c_token, cast, 1, b"").status_code == 422
    # oversized
    big = b"\0" * (live_app.config["RTUK"].rtc.max_chunk_bytes + 1)
    assert _chunk(cand, c_token, cast, 1, big).status_code == 413
    # the assessor does not upload the candidate's recording
    assert _chunk(assessor, a_token, cast, 1, body).status_code == 403
    assert _chunks(live_app) == 1
    # out of sequence: accepted (nothing is lost) and the gap is logged
    r = _chunk(cand, c_token, cast, 5, body)
    assert r.status_code == 201 and r.get_json()["gap_from"] == 1
    status = assessor.get(f"/api/v1/sessions/{cast.session_a}/recording").get_json()
    assert status["gaps"] == [[1, 4]] and status["missing"] == 4 and status["chunks"] == 2
    from remote_tuk.extensions import evidence

    with live_app.app_context():
        events = [e for e in evidence.store.list_entries(cast.session_a) if e.get("type") == "session.event"]
    assert any(e["metadata"].get("event") == "recording.gap" for e in events)
    assert any(e["metadata"].get("event") == "recording.conflict" for e in events)


def test_chunks_refused_before_live(live_app, cast):
    cand, token = _client(live_app, cast, "asesi_a")
    r = _chunk(cand, token, cast, 0, b"data")
    assert r.status_code == 409 and r.get_json()["error"] == "invalid_state"
    assert _chunks(live_app) == 0


def test_marks_and_decisions_refusals(live_app, cast):
    assessor, token = _go_live(live_app, cast)
    url = f"/api/v1/sessions/{cast.session_a}"
    assert (
        assessor.post(
            f"{url}/marks", json={"kuk_id": 999999, "verdict": "K"}, headers={"X-CSRFToken": token}
        ).status_code
        == 422
    )
    assert (
        assessor.post(
            f"{url}/marks", json={"kuk_id": 1, "verdict": "MAYBE"}, headers={"X-CSRFToken": token}
        ).status_code
        == 422
    )
    # decisions only after the end
    assert (
        assessor.post(
            f"{url}/decisions",
            json={"unit_id": 1, "verdict": "K", "reason": "baik sekali"},
            headers={"X-CSRFToken": token},
        ).status_code
        == 409
    )
    other, o_token = _client(live_app, cast, "asesor_b")
    assert (
        other.post(f"{url}/marks", json={"kuk_id": 1, "verdict": "K"}, headers={"X-CSRFToken": o_token}).status_code
        == 404
    )
    witness, w_token = _client(live_app, cast, "auditor_a")
    assert (
        witness.post(f"{url}/marks", json={"kuk_id": 1, "verdict": "K"}, headers={"X-CSRFToken": w_token}).status_code
        == 403
    )
    assert witness.get(f"{url}/marks").status_code == 200


def test_witness_is_view_only(live_app, cast):
    _go_live(live_app, cast)
    witness, _ = _client(live_app, cast, "auditor_a")
    sc = _sock(live_app, witness)
    joined = sc.emit("join", {"session": cast.session_a}, namespace="/live", callback=True)
    assert joined["role"] == "witness" and joined["can_talk"] is False and joined["can_control"] is False
    assert (
        sc.emit("control", {"session": cast.session_a, "action": "end"}, namespace="/live", callback=True)["error"]
        == "forbidden"
    )
    assert (
        sc.emit("chat", {"session": cast.session_a, "text": "halo"}, namespace="/live", callback=True)["error"]
        == "forbidden"
    )


def test_live_page_by_role(live_app, cast):
    for who, template_marker in (
        ("asesi_a", '"role": "candidate"'),
        ("asesor_a", '"role": "assessor"'),
        ("auditor_a", '"role": "witness"'),
    ):
        c, _ = _client(live_app, cast, who)
        page = c.get(f"/sesi/{cast.session_a}/langsung")
        assert page.status_code == 200, who
        html = unescape(page.get_data(as_text=True))
        assert "data-live" in html
        assert template_marker in html.replace("\u0022", '"'), who
    stranger, _ = _client(live_app, cast, "asesi_b")
    assert stranger.get(f"/sesi/{cast.session_a}/langsung").status_code == 404
