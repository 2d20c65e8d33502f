"""The remote TUK check through the real server: consent, server-measured values (forged ones ignored), the media
test over WebRTC, ID and room, the gate refusing to go live until all is done, overrides with a reason."""

from __future__ import annotations

import os
import time

import cv2
import numpy as np
import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.conftest import seed_cast
from tests.integration.test_live_restart import Server, _login, _port
from tests.integration.test_live_session import _webm

pytestmark = pytest.mark.slow

BROWSER_OK = {
    "browser_webrtc": True,
    "browser_mediarecorder": True,
    "camera_labels": ["Integrated Camera (04f2:b6dd)"],
    "microphone_level": 24.0,
    "speaker_check": True,
    "single_display": True,
    "fullscreen": True,
    "battery": {"level": 0.9, "charging": True},
}


@pytest.fixture
def server(tmp_path):
    from remote_tuk.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'rtuk.sqlite3'}"
    upgrade(url)
    cast = seed_cast(url)
    env = {
        **os.environ,
        "RTUK_DATABASE_URL": url,
        "RTUK_VAR_DIR": str(tmp_path / "var"),
        "RTUK_RTC_LOOPBACK_ICE": "true",
        "RTUK_LOGIN_RATE_LIMIT": "1000 per minute",
    }
    srv = Server(env, _port())
    srv.start()
    yield srv, cast, url
    srv.stop()


def _set_default_profile(url: str, **changes) -> None:
    from config import DEFAULT_TUK_PROFILE
    from remote_tuk.tuk.models import RequirementProfileRecord

    data = DEFAULT_TUK_PROFILE.model_dump()
    for req in data["requirements"]:
        req.update(changes.get(req["key"], {}))
    engine = create_engine(url)
    with Session(engine) as s:
        s.add(RequirementProfileRecord(name="Uji", data=data, is_default=True))
        s.commit()
    engine.dispose()


class Api:
    def __init__(self, base: str, http: requests.Session, token: str, sid: str):
        self.base, self.http, self.token, self.sid = base, http, token, sid

    def url(self, path: str) -> str:
        return f"{self.base}/api/v1/sessions/{self.sid}/{path}"

    def post(self, path: str, json=None, data=None, headers=None, **params):
        return self.http.post(
            self.url(path),
            json=json,
            data=data,
            params=params or None,
            headers={"X-CSRFToken": self.token, **(headers or {})},
            timeout=60,
        )

    def get(self, path: str, **params):
        return self.http.get(self.url(path), params=params or None, timeout=60)


def _jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((240, 320, 3), 200, dtype=np.uint8))
    assert ok
    return buf.tobytes()


def upload_chain(cand: Api, check_id: int, sizes=(64 * 1024,) + (256 * 1024,) * 4, report=None):
    """The page's upload measurement: chunks in sequence, each with the previous answer's token, then the result
    with this client's own timing of each chunk (*report* may change what is reported)."""
    token, timings = None, []
    for seq, n in enumerate(sizes):
        headers = {"Content-Type": "application/octet-stream", **({"X-Upload-Token": token} if token else {})}
        t0 = time.perf_counter()
        r = cand.post("tuk/upload", data=os.urandom(n), headers=headers, check=check_id, seq=seq)
        assert r.status_code == 200, r.text
        timings.append({"seq": seq, "bytes": n, "ms": (time.perf_counter() - t0) * 1000})
        token = r.json()["token"]
    if report is not None:
        timings = report(timings)
    return cand.post("tuk/upload-result", json={"check_id": check_id, "token": token, "chunks": timings})


def view_room(asse: Api) -> str:
    """The assessor's player fetching the room scan: the decrypted WebM and its view token."""
    r = asse.get("identity/room.webm")
    assert r.status_code == 200 and r.headers["Content-Type"] == "video/webm" and r.content[:4] == b"\x1a\x45\xdf\xa3"
    asse.room_seconds = float(r.headers["X-Room-Seconds"])
    return r.headers["X-Room-View"]


def confirm_room(asse: Api, view: str) -> None:
    """Confirm the room once the scan has had the time to play to its end."""
    time.sleep(asse.room_seconds)
    r = asse.post("identity/confirm", json={"what": "room", "note": "Ruangan sepi", "view": view})
    assert r.status_code == 201, r.text


def _run_check(cand: Api, *, forged: bool = False) -> dict:
    check_id = cand.post("tuk/start", json={}).json()["check_id"]
    values = dict(BROWSER_OK)
    if forged:
        values.update(
            {
                "upload_bandwidth": 7,
                "camera_resolution": {"width": 3840, "height": 2160},
                "face_visible": True,
                "lighting": 255,
            }
        )
    r = cand.post("tuk/browser", json={"check_id": check_id, "values": values})
    assert r.status_code == 200
    if forged:
        assert set(r.json()["ignored"]) == {"upload_bandwidth", "camera_resolution", "face_visible", "lighting"}
    up = upload_chain(cand, check_id)
    assert up.status_code == 200 and up.json()["upload_kbps"] > 1500, up.text
    t0 = time.perf_counter()
    body = cand.get("tuk/download", check=check_id).content
    elapsed = (time.perf_counter() - t0) * 1000
    # a page claiming an impossible speed is held to what the server's clock allows
    result = {"check_id": check_id, "bytes": len(body), "elapsed_ms": 0.001, "token": body[-256:].decode().strip()}
    down = cand.post("tuk/download-result", json=result)
    assert down.status_code == 200 and 1500 < down.json()["download_kbps"] < len(body) * 8 / elapsed * 1.5
    _media_test(cand, check_id)
    return cand.post("tuk/finish", json={"check_id": check_id}).json()


def _media_test(cand: Api, check_id: int) -> None:
    import socketio

    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from tests.media.face import face_track, tone_track

    client = socketio.Client(http_session=cand.http, reconnection=False)
    client.on("probe", lambda data: {"ok": True}, namespace="/live")
    client.connect(cand.base, namespaces=["/live"], transports=["polling"], wait_timeout=10)
    loop = RtcLoop("tuk-client")
    loop.start()
    try:
        assert client.call("join", {"session": cand.sid}, namespace="/live", timeout=10)["ok"]

        async def make():
            return SyntheticPeer(send=[face_track(), tone_track(440)], recv=["audio"])

        peer = loop.run(make(), 10)
        ack = client.call(
            "offer", {"session": cand.sid, "sdp": loop.run(peer.offer(), 10)}, namespace="/live", timeout=30
        )
        assert ack["ok"], ack
        loop.run(peer.accept(ack["sdp"]), 10)
        loop.run(peer.wait_connected(), 20)
        time.sleep(4)
        r = cand.post("tuk/media", json={"check_id": check_id, "socket_id": client.get_sid("/live")})
        assert r.status_code == 200, r.text
        values = r.json()["values"]
        assert values["camera_resolution"] == {"width": 640, "height": 480}
        assert values["face_visible"]["visible"] is True
        assert values["round_trip_time"] < 300
        stranger = cand.post("tuk/media", json={"check_id": check_id, "socket_id": "someone-elses-socket"})
        assert stranger.status_code == 422
        loop.run(peer.close(), 10)
    finally:
        loop.stop()
        client.disconnect()


def give_consents(cand) -> None:
    """Accept the texts in force as the check page does (FR.AK.01 with the declared location)."""
    offered = cand.get("consent").json()["offered"]
    for text in offered:
        body = {"kind": text["kind"], "version": text["version"], "accept": True}
        if text["kind"] == "fr_ak_01":
            body["location"] = "Bandung, Jawa Barat"
        assert cand.post("consent", json=body).status_code == 201


def cosign(asse) -> None:
    """The assigned assessor co-signs FR.AK.01 (the hash of the form the candidate signed)."""
    form = asse.get("consent").json()["form"]
    r = asse.post("consent/cosign", json={"form_sha256": form["form_sha256"], "confirm": True})
    assert r.status_code == 201, r.text


def test_full_check_then_gate_then_live(server):
    srv, cast, _url = server
    sid = cast.session_a
    http, token = _login(srv.base, "asesi_a", None)
    cand = Api(srv.base, http, token, sid)
    ahttp, atoken = _login(srv.base, "asesor_a", cast.totp["asesor_a"])
    asse = Api(srv.base, ahttp, atoken, sid)

    # nothing before consent
    assert cand.post("tuk/start", json={}).json()["error"] == "consent_required"
    give_consents(cand)
    assert cand.post("consent", json={"kind": "pdp", "version": 7, "accept": True}).status_code == 422

    result = _run_check(cand, forged=True)
    by_key = {r["key"]: r for r in result["results"]}
    assert result["passed"], [r for r in result["results"] if not r["pass"]]
    assert by_key["camera_resolution"]["value"] == "640×480"  # the server's, not the forged 4K
    assert by_key["upload_bandwidth"]["source"] == "server" and by_key["upload_bandwidth"]["value"] > 1500
    assert by_key["microphone_level"]["source"] == "browser"

    # the gate: consent and check done, but ID and room not confirmed
    r = asse.http.post(
        f"{srv.base}/api/v1/sessions/{sid}/transition", json={"to": "ready"}, headers={"X-CSRFToken": atoken}
    )
    assert r.status_code == 409 and r.json()["error"] == "gate_closed"
    assert "id_confirmation" in r.json()["details"]["missing"]
    assert asse.post("identity/confirm", json={"what": "id", "note": "cocok"}).status_code == 409  # nothing sent yet
    assert cand.post("identity/ktp", data=_jpeg(), headers={"Content-Type": "image/jpeg"}).status_code == 201
    assert cand.post("identity/ktp", data=b"GIF89a", headers={"Content-Type": "image/jpeg"}).status_code == 422
    assert cand.post("identity/room", data=_webm(2.0), headers={"Content-Type": "video/webm"}).status_code == 201
    assert cand.post("identity/confirm", json={"what": "id"}).status_code == 403  # only the assessor confirms
    assert asse.post("identity/confirm", json={"what": "id", "note": "Wajah sesuai KTP"}).status_code == 201
    # the room is confirmed only after the assessor played the scan: a confirmation without the recording's view
    # token, or sooner than the recording lasts, is refused
    assert asse.post("identity/confirm", json={"what": "room", "note": "Ruangan sepi"}).status_code == 409
    view = view_room(asse)
    early = asse.post("identity/confirm", json={"what": "room", "note": "Ruangan sepi", "view": view})
    assert early.status_code == 409 and early.json()["error"] == "room_not_viewed"
    confirm_room(asse, view)
    status = cand.get("tuk/status").json()
    assert status["gate"] == {"open": False, "missing": ["assessor_signature"]}  # FR.AK.01 needs both signatures
    cosign(asse)
    status = cand.get("tuk/status").json()
    assert status["gate"] == {"open": True, "missing": []}
    for to in ("ready", "live"):
        r = asse.http.post(
            f"{srv.base}/api/v1/sessions/{sid}/transition", json={"to": to}, headers={"X-CSRFToken": atoken}
        )
        assert r.status_code == 200, r.text
    for client in (http, ahttp):
        assert client.get(f"{srv.base}/sesi/{sid}/pemeriksaan").status_code == 200
    record = ahttp.get(f"{srv.base}/sesi/{sid}/verifikasi-tuk")
    assert record.status_code == 200 and "Ceklis verifikasi TUK jarak jauh" in record.text and "640×480" in record.text


def test_failed_requirement_needs_an_override_with_a_reason(server):
    srv, cast, url = server
    _set_default_profile(url, camera_resolution={"min": 1920, "min_height": 1080})
    sid = cast.session_a
    http, token = _login(srv.base, "asesi_a", None)
    cand = Api(srv.base, http, token, sid)
    ahttp, atoken = _login(srv.base, "asesor_a", cast.totp["asesor_a"])
    asse = Api(srv.base, ahttp, atoken, sid)
    give_consents(cand)
    cosign(asse)
    result = _run_check(cand)
    res = {r["key"]: r for r in result["results"]}["camera_resolution"]
    assert result["passed"] is False and res["pass"] is False
    assert res["threshold"] == "≥ 1920×1080" and res["hint"]
    cand.post("identity/ktp", data=_jpeg(), headers={"Content-Type": "image/jpeg"})
    cand.post("identity/room", data=_webm(2.0), headers={"Content-Type": "video/webm"})
    asse.post("identity/confirm", json={"what": "id"})
    confirm_room(asse, view_room(asse))
    gate = cand.get("tuk/status").json()["gate"]
    assert gate["open"] is False and gate["missing"] == ["tuk_requirements:camera_resolution"]
    assert asse.post("tuk/override", json={"key": "camera_resolution", "reason": ""}).status_code == 422
    assert asse.post("tuk/override", json={"key": "upload_bandwidth", "reason": "tidak gagal kok"}).status_code == 422
    assert cand.post("tuk/override", json={"key": "camera_resolution", "reason": "saya saja"}).status_code == 403
    r = asse.post(
        "tuk/override",
        json={"key": "camera_resolution", "reason": "Kamera 720p cukup untuk demonstrasi praktik pada skema ini."},
    )
    assert r.status_code == 201
    assert cand.get("tuk/status").json()["gate"]["open"] is True

    from config import load_settings
    from evidence_store.store import EvidenceStore

    srv.stop()
    settings = load_settings(var_dir=srv.env["RTUK_VAR_DIR"])
    with EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir) as store:
        types = [e.get("type") for e in store.list_entries(sid)]
    for t in (
        "consent.fr_ak_01",
        "consent.pdp",
        "tuk.check",
        "identity.ktp_snapshot",
        "identity.room_scan",
        "identity.confirmation",
        "tuk.override",
    ):
        assert t in types


def test_declined_consent_records_nothing(server):
    srv, cast, url = server
    sid = cast.session_a
    http, token = _login(srv.base, "asesi_a", None)
    cand = Api(srv.base, http, token, sid)
    r = cand.post("consent", json={"kind": "pdp", "version": 2, "accept": False})
    assert r.status_code == 200 and r.json() == {"declined": True}
    assert cand.post("tuk/start", json={}).status_code == 409
    assert cand.post("identity/ktp", data=_jpeg(), headers={"Content-Type": "image/jpeg"}).status_code == 409
    srv.stop()
    from config import load_settings
    from evidence_store.store import EvidenceStore

    settings = load_settings(var_dir=srv.env["RTUK_VAR_DIR"])
    with EvidenceStore.from_settings(settings.evidence, data_dir=settings.evidence_dir) as store:
        with store.log.locked() as st:
            assert sid not in st.heads  # no evidence chain was even opened
    engine = create_engine(url)
    from remote_tuk.audit.models import AuditEvent

    with Session(engine) as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.kind == "consent_declined")) is not None
    engine.dispose()
