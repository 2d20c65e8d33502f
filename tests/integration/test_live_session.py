"""A live session through the real server code: Socket.IO signaling to the media engine with aiortc peers on
loopback, recording chunks, KUK marks, pause/resume/end, the joined recording, decisions, and a verifying bundle."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest
from sqlalchemy import select

from remote_tuk.extensions import socketio
from tests.conftest import FULL_SESSION_EVIDENCE_TYPES, csrf_token, login, satisfy_gate

pytestmark = pytest.mark.slow

av = pytest.importorskip("av")


def _webm(seconds: float = 6.0, fps: int = 25) -> bytes:
    """A WebM like the browser's MediaRecorder makes (VP8 + Opus), to upload in chunks."""
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="webm")
    v = out.add_stream("libvpx", rate=fps)
    v.width, v.height, v.pix_fmt = 320, 240, "yuv420p"
    a = out.add_stream("libopus", rate=48000)
    a.layout = "mono"
    n = int(seconds * fps)
    for i in range(n):
        img = np.full((240, 320, 3), (i * 7) % 255, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for p in v.encode(frame):
            out.mux(p)
    samples = int(seconds * 48000)
    for start in range(0, samples, 960):
        af = av.AudioFrame.from_ndarray(np.zeros((1, 960), dtype=np.int16), format="s16", layout="mono")
        af.sample_rate, af.pts, af.time_base = 48000, start, Fraction(1, 48000)
        for p in a.encode(af):
            out.mux(p)
    for s in (v, a):
        for p in s.encode():
            out.mux(p)
    out.close()
    return buf.getvalue()


def _duration(data: bytes) -> float:
    c = av.open(io.BytesIO(data))
    try:
        stream = c.streams.video[0]
        last = 0.0
        frames = 0
        for frame in c.decode(stream):
            frames += 1
            last = float(frame.pts * frame.time_base)
        return last if frames else 0.0
    finally:
        c.close()


@pytest.fixture
def backend():
    """The live flow runs on SQLite; the database layer itself is covered on both backends."""
    return "sqlite"


def _http(app, cast, who):
    c = app.test_client()
    login(c, cast, who)
    return c, csrf_token(c, "/akun/kata-sandi")


def _sock(app, http):
    return socketio.test_client(app, namespace="/live", flask_test_client=http)


def _emit(sc, event, payload):
    return sc.emit(event, payload, namespace="/live", callback=True)


def _move(http, token, cast, *states):
    for to in states:
        r = http.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": to}, headers={"X-CSRFToken": token})
        assert r.status_code == 200, r.get_json()


def _upload(http, token, cast, seq, body, sha=None):
    return http.post(
        f"/api/v1/sessions/{cast.session_a}/recording/chunks",
        data=body,
        headers={
            "X-CSRFToken": token,
            "X-Chunk-Seq": str(seq),
            "X-Chunk-SHA256": sha or hashlib.sha256(body).hexdigest(),
            "X-Chunk-Start": str(int(time.time() * 1000)),
            "Content-Type": "application/octet-stream",
        },
    )


def test_whole_live_session(live_app, cast):
    from evidence_store.verifier import verify_bundle
    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db, evidence
    from remote_tuk.live.models import SessionRecording
    from tests.media.face import HEIGHT, WIDTH, face_track, tone_track

    app = live_app
    assessor_http, a_token = _http(app, cast, "asesor_a")
    candidate_http, c_token = _http(app, cast, "asesi_a")
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, cast.session_a)
    _move(assessor_http, a_token, cast, "checking", "ready", "live")

    cand_sock, asse_sock = _sock(app, candidate_http), _sock(app, assessor_http)
    joined = _emit(cand_sock, "join", {"session": cast.session_a})
    assert joined["ok"] and joined["role"] == "candidate" and joined["state"] == "live"
    assert _emit(asse_sock, "join", {"session": cast.session_a})["role"] == "assessor"

    clients = RtcLoop("test-clients")
    clients.start()
    try:
        cand = clients.run(_make(SyntheticPeer, send=[face_track(), tone_track(440)], recv=["audio"]), 10)
        ack = _emit(cand_sock, "offer", {"session": cast.session_a, "sdp": clients.run(cand.offer(), 10)})
        assert ack["ok"], ack
        clients.run(cand.accept(ack["sdp"]), 10)
        clients.run(cand.wait_connected(), 20)
        viewer = clients.run(_make(SyntheticPeer, send=[tone_track(880)], recv=["video", "audio"]), 10)
        ack = _emit(asse_sock, "offer", {"session": cast.session_a, "sdp": clients.run(viewer.offer(), 10)})
        assert ack["ok"], ack
        clients.run(viewer.accept(ack["sdp"]), 10)
        clients.run(viewer.wait_connected(), 20)
        _wait(lambda: viewer.received.video_frames >= 30, 20)
        assert viewer.received.video_sizes == {(WIDTH, HEIGHT)}
        _wait(lambda: cand.received.audio_frames > 10, 10)  # the assessor is heard

        stats = _emit(asse_sock, "stats", {"session": cast.session_a})
        assert stats["ok"] and stats["stats"]["candidate"]["state"] == "connected"
        assert _emit(cand_sock, "stats", {"session": cast.session_a})["error"] == "forbidden"

        # the browser's recording, in chunks
        webm = _webm()
        pieces = [webm[i : i + 20_000] for i in range(0, len(webm), 20_000)]
        for seq, piece in enumerate(pieces):
            assert _upload(candidate_http, c_token, cast, seq, piece).status_code == 201
        assert _upload(candidate_http, c_token, cast, 0, pieces[0]).get_json()["duplicate"] is True

        # a KUK marked twice: two versions, each with the live time it points at
        kuk_id = _first_kuk(app, cast)
        first = assessor_http.post(
            f"/api/v1/sessions/{cast.session_a}/marks",
            headers={"X-CSRFToken": a_token},
            json={"kuk_id": kuk_id, "verdict": "BK", "note": "belum tepat"},
        )
        assert first.status_code == 201 and first.get_json()["mark"]["media_s"] > 0
        second = assessor_http.post(
            f"/api/v1/sessions/{cast.session_a}/marks",
            headers={"X-CSRFToken": a_token},
            json={"kuk_id": kuk_id, "verdict": "K"},
        )
        assert second.get_json()["mark"]["version"] == 2
        listing = assessor_http.get(f"/api/v1/sessions/{cast.session_a}/marks").get_json()
        assert [m["verdict"] for m in listing["marks"]] == ["K"] and len(listing["history"]) == 2
        assert candidate_http.get(f"/api/v1/sessions/{cast.session_a}/marks").status_code == 403

        chat = _emit(cand_sock, "chat", {"session": cast.session_a, "text": "Apakah suara saya terdengar?"})
        assert chat["ok"]
        assert any(m["name"] == "chat" for m in asse_sock.get_received("/live"))

        assert _emit(asse_sock, "control", {"session": cast.session_a, "action": "pause"})["state"] == "paused"
        assert _emit(asse_sock, "control", {"session": cast.session_a, "action": "resume"})["state"] == "live"
        assert _emit(cand_sock, "control", {"session": cast.session_a, "action": "end"})["error"] == "forbidden"
        assert _emit(asse_sock, "control", {"session": cast.session_a, "action": "end"})["state"] == "ended"
        clients.run(cand.close(), 10)
        clients.run(viewer.close(), 10)
    finally:
        clients.stop()

    # the chunks are joined into one playable recording, stored as evidence
    def joined_recording():
        with app.app_context():
            return db.session.scalar(select(SessionRecording))

    _wait(lambda: joined_recording() is not None, 40)
    rec = joined_recording()
    with app.app_context():
        data = evidence.store.read(rec.object_key, ("auditor", "test"))
    assert _duration(data) >= 0.9 * _duration(webm)
    assert rec.chunks == len(pieces) and rec.gaps == 0

    # decided only when every unit has a decision
    r = assessor_http.post(
        f"/api/v1/sessions/{cast.session_a}/transition", json={"to": "decided"}, headers={"X-CSRFToken": a_token}
    )
    assert r.status_code == 422 and "units" in r.get_json()["details"]
    with app.app_context():
        session = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == cast.session_a))
        unit_ids = [u.id for u in session.schedule.scheme.units]
        kuk_ids = [k.id for u in session.schedule.scheme.units for e in u.elements for k in e.kuks]
    # a unit is K only with evidence for K on every KUK: the assessor marks the rest (marks are allowed until decided)
    for kid in kuk_ids:
        if kid != kuk_id:
            r = assessor_http.post(
                f"/api/v1/sessions/{cast.session_a}/marks", headers={"X-CSRFToken": a_token},
                json={"kuk_id": kid, "verdict": "K"},
            )
            assert r.status_code == 201, r.get_json()
    for uid in unit_ids:
        d = assessor_http.post(
            f"/api/v1/sessions/{cast.session_a}/decisions",
            headers={"X-CSRFToken": a_token},
            json={"unit_id": uid, "verdict": "K", "reason": "Semua KUK didemonstrasikan."},
        )
        assert d.status_code == 201
    _move(assessor_http, a_token, cast, "decided")

    # the session's evidence exports and verifies offline
    with app.app_context():
        store = evidence.store
        entries = store.list_entries(cast.session_a)
        bundle = store.export_bundle(cast.session_a, app.config["RTUK"].var_dir / "bundle.zip")
        key = store.describe_parameters()["verifier_key"]
    types = {e.get("type") for e in entries}
    assert FULL_SESSION_EVIDENCE_TYPES <= types
    assert "recording.server_segment" in types
    events = [e for e in entries if e.get("type") == "session.event"]
    assert len(events) >= 6
    assert entries[-1]["kind"] == "close"
    report = verify_bundle(bundle, key)
    assert report.ok, [str(f) for f in report.failures]

    # an auditor granted the schedule sees the evidence drawn and downloads the bundle, then verifies it offline
    auditor_http, u_token = _http(app, cast, "auditor_a")
    page = auditor_http.get(f"/sesi/{cast.session_a}/bukti")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "Potongan rekaman peramban" in html and key in html
    zipped = auditor_http.post(f"/sesi/{cast.session_a}/bukti/bundel.zip", data={"csrf_token": u_token})
    assert zipped.status_code == 200 and zipped.data[:2] == b"PK"
    out = app.config["RTUK"].var_dir / "downloaded.zip"
    out.write_bytes(zipped.data)
    cli = subprocess.run(
        [sys.executable, "-m", "evidence_store", "verify", str(out), "--pubkey", key],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    bad_key = auditor_http.post(
        f"/sesi/{cast.session_a}/bukti/bundel.zip", data={"csrf_token": u_token, "auditor_key": "not a key"}
    )
    assert bad_key.status_code == 422
    assert candidate_http.get(f"/sesi/{cast.session_a}/bukti").status_code == 403


async def _make(cls, **kw):
    return cls(**kw)


def _first_kuk(app, cast):
    from remote_tuk.extensions import db
    from remote_tuk.lsp.models import Element, Kuk, Unit

    with app.app_context():
        return db.session.scalar(
            select(Kuk.id).join(Element).join(Unit).where(Unit.scheme_id == cast.scheme_id).order_by(Kuk.id)
        )


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_recording_runs_are_joined_on_one_timeline():
    """A reloaded page starts a new MediaRecorder (a new WebM stream with timestamps from 0): each run is placed where
    it began on the session media clock, so the reload's gap stays a gap and later pictures keep their time."""
    from remote_tuk.live.webm import JoinFailed, Run, join_runs

    first, second = _webm(seconds=3.0), _webm(seconds=2.0)
    joined = join_runs([Run(0.0, first, [(0, 0)]), Run(5.0, second, [(1, 0)])])
    assert 6.6 <= joined.duration_s <= 7.4  # 5 s (3 s + a 2 s reload gap) + 2 s
    assert _duration(joined.data) >= 0.9 * (5.0 + _duration(second))
    assert [round(r.placed_s, 3) for r in joined.runs] == [0.0, 5.0]
    # a run placed before the previous one ended is moved after it (a client clock that is off never overlaps)
    overlapped = join_runs([Run(0.0, first, [(0, 0)]), Run(1.0, second, [(1, 0)])])
    assert overlapped.runs[1].placed_s >= overlapped.runs[0].end_s
    with pytest.raises(JoinFailed) as failed:
        join_runs([Run(0.0, b"\x1a\x45\xdf\xa3 not a real webm", [(0, 0)])])
    assert failed.value.bad_seq == 0
