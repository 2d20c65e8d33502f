"""kill -9 of the server in the middle of a live session: every acknowledged recording chunk is in the evidence and
plays; after the restart the candidate rejoins the same session (signaling + media) and the recording continues."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest
import requests

from tests.conftest import PASSWORD, satisfy_gate, seed_cast
from tests.integration.test_live_session import _duration, _webm

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str], port: int):
        self.env, self.port, self.proc = env, port, None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "remote_tuk", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/masuk", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("server did not start")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def _login(base: str, username: str, totp: str | None) -> tuple[requests.Session, str]:
    s = requests.Session()
    token = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{base}/masuk").text).group(1)
    r = s.post(
        f"{base}/masuk", data={"username": username, "password": PASSWORD, "csrf_token": token}, allow_redirects=False
    )
    if totp:
        token = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{base}/masuk/totp").text).group(1)
        r = s.post(
            f"{base}/masuk/totp", data={"code": pyotp.TOTP(totp).now(), "csrf_token": token}, allow_redirects=False
        )
    assert r.status_code == 302
    token = re.search(r'name="csrf-token" content="([^"]+)"', s.get(f"{base}/akun/kata-sandi").text).group(1)
    return s, token


@pytest.fixture
def server(tmp_path):
    from remote_tuk.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'rtuk.sqlite3'}"
    upgrade(url)
    cast = seed_cast(url)
    satisfy_gate(url, cast.session_a)
    env = {
        **os.environ,
        "RTUK_DATABASE_URL": url,
        "RTUK_VAR_DIR": str(tmp_path / "var"),
        "RTUK_RTC_LOOPBACK_ICE": "true",
        "RTUK_LOGIN_RATE_LIMIT": "1000 per minute",
    }
    srv = Server(env, _port())
    srv.start()
    yield srv, cast, tmp_path
    srv.stop()


def test_kill_9_mid_session(server):
    srv, cast, tmp = server
    sid = cast.session_a
    assessor, a_token = _login(srv.base, "asesor_a", cast.totp["asesor_a"])
    for to in ("checking", "ready", "live"):
        r = assessor.post(
            f"{srv.base}/api/v1/sessions/{sid}/transition", json={"to": to}, headers={"X-CSRFToken": a_token}
        )
        assert r.status_code == 200, r.text
    candidate, c_token = _login(srv.base, "asesi_a", None)
    webm = _webm(seconds=8.0)
    pieces = [webm[i : i + 15_000] for i in range(0, len(webm), 15_000)]
    half = len(pieces) // 2
    acked: dict[int, str] = {}

    def upload(seq: int) -> requests.Response:
        body = pieces[seq]
        return candidate.post(
            f"{srv.base}/api/v1/sessions/{sid}/recording/chunks",
            data=body,
            headers={
                "X-CSRFToken": c_token,
                "X-Chunk-Seq": str(seq),
                "X-Chunk-SHA256": hashlib.sha256(body).hexdigest(),
                "Content-Type": "application/octet-stream",
            },
            timeout=30,
        )

    for seq in range(half):
        assert upload(seq).status_code == 201
        acked[seq] = hashlib.sha256(pieces[seq]).hexdigest()

    srv.kill9()
    srv.start()

    # the sign-in survives the restart (signed cookie); the page rejoins the same session, media flows again
    _rejoin_media(srv.base, candidate, sid)
    for seq in range(half, len(pieces)):
        r = upload(seq)
        assert r.status_code in (200, 201), r.text
        acked[seq] = hashlib.sha256(pieces[seq]).hexdigest()
    r = assessor.post(
        f"{srv.base}/api/v1/sessions/{sid}/transition", json={"to": "ended"}, headers={"X-CSRFToken": a_token}
    )
    assert r.status_code == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = assessor.get(f"{srv.base}/api/v1/sessions/{sid}/recording").json()
        if status["full"]:
            break
        time.sleep(0.5)
    assert status["full"] and status["gaps"] == [] and status["chunks"] == len(pieces)
    srv.stop()

    # every acknowledged chunk is in the evidence, and the joined recording plays
    from config import load_settings
    from evidence_store.store import EvidenceStore

    settings = load_settings(var_dir=tmp / "var")
    with EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir) as store:
        entries = store.list_entries(sid)
        chunks = {e["metadata"]["seq"]: e for e in entries if e.get("type") == "recording.browser_chunk"}
        assert {seq: e["metadata"]["sha256"] for seq, e in chunks.items()} == acked
        full = next(e for e in entries if e.get("type") == "recording.browser_full")
        data = store.read(full["object"]["key"], ("auditor", "test"))
    assert _duration(data) >= 0.9 * _duration(webm)


def _rejoin_media(base: str, http: requests.Session, sid: str) -> None:
    import socketio

    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from tests.media.face import face_track, tone_track

    client = socketio.Client(http_session=http, reconnection=False)
    client.connect(base, namespaces=["/live"], transports=["polling"], wait_timeout=10)
    loop = RtcLoop("restart-client")
    loop.start()
    try:
        joined = client.call("join", {"session": sid}, namespace="/live", timeout=10)
        assert joined["ok"] and joined["state"] == "live"

        async def make():
            return SyntheticPeer(send=[face_track(), tone_track(440)], recv=["audio"])

        peer = loop.run(make(), 10)
        ack = client.call("offer", {"session": sid, "sdp": loop.run(peer.offer(), 10)}, namespace="/live", timeout=30)
        assert ack["ok"], ack
        loop.run(peer.accept(ack["sdp"]), 10)
        loop.run(peer.wait_connected(), 20)
        loop.run(peer.close(), 10)
    finally:
        loop.stop()
        client.disconnect()
