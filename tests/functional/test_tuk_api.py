"""The TUK check's API through the Flask test client, on SQLite and PostgreSQL: what each session state allows (a 4xx
saying so otherwise), malformed input (never a 500), no write on a GET, overrides and confirmations decided before
the evidence log (one entry however often they are sent), the room confirmed only after its scan was played, the
upload measured from a chain of chunks, and requirements a browser cannot measure."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token, login, satisfy_gate

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def _api(cast: Any, path: str) -> str:
    return f"/api/v1/sessions/{cast.session_a}/{path}"


class Client:
    """A signed-in test client with its CSRF token."""

    def __init__(self, client: Any, cast: Any):
        self.c, self.cast = client, cast
        self.token = csrf_token(client, "/akun/kata-sandi")

    def post(self, path: str, json_body: Any = None, *, data: Any = None, headers: Any = None, **query: Any) -> Any:
        h = {"X-CSRFToken": self.token, **(headers or {})}
        if json_body is not None:
            return self.c.post(_api(self.cast, path), json=json_body, headers=h, query_string=query or None)
        return self.c.post(_api(self.cast, path), data=data, headers=h, query_string=query or None)

    def get(self, path: str, **query: Any) -> Any:
        return self.c.get(_api(self.cast, path), query_string=query or None)

    def move(self, to: str, reason: str | None = None) -> Any:
        body = {"to": to} if reason is None else {"to": to, "reason": reason}
        return self.c.post(f"/api/v1/sessions/{self.cast.session_a}/transition", json=body,
                           headers={"X-CSRFToken": self.token})


@pytest.fixture
def cand(app: Any, cast: Any) -> Client:
    c = app.test_client()
    login(c, cast, "asesi_a")
    return Client(c, cast)


@pytest.fixture
def asse(app: Any, cast: Any) -> Client:
    c = app.test_client()
    login(c, cast, "asesor_a")
    return Client(c, cast)


def consent(cand: Client) -> None:
    """Accept the texts offered, FR.AK.01 with the declared location, as the check page does."""
    for text in cand.get("consent").get_json()["offered"]:
        body: dict[str, Any] = {"kind": text["kind"], "version": text["version"], "accept": True}
        if text["kind"] == "fr_ak_01":
            body["location"] = "Rumah, Jl. Merdeka 1, Bandung"
        assert cand.post("consent", body).status_code == 201


def cosign(asse: Client) -> None:
    """The assigned assessor co-signs the FR.AK.01 the candidate signed."""
    form = asse.get("consent").get_json()["form"]
    assert asse.post("consent/cosign", {"form_sha256": form["form_sha256"], "confirm": True}).status_code == 201


def started(cand: Client) -> int:
    """Consent given and a check started (the session is ``checking``); the check's id."""
    consent(cand)
    r = cand.post("tuk/start", {})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["check_id"]


def evidence_of(app: Any, cast: Any, type_: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    from remote_tuk.extensions import evidence

    with app.app_context():
        with evidence.store.log.locked() as st:
            if cast.session_a not in st.heads:
                return []
        entries = evidence.store.list_entries(cast.session_a)
    return [e for e in entries if (type_ is None or e.get("type") == type_) and (kind is None or e.get("kind") == kind)]


def count(app: Any, model: Any) -> int:
    from remote_tuk.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def to_state(asse: Client, app: Any, state: str) -> None:
    """Move session A (gate satisfied) from scheduled to *state* through the state machine."""
    from remote_tuk.assessment.models import AssessmentSession
    from remote_tuk.extensions import db

    path = {
        "checking": ["checking"],
        "ready": ["checking", "ready"],
        "live": ["checking", "ready", "live"],
        "paused": ["checking", "ready", "live", "paused"],
        "ended": ["checking", "ready", "live", "ended"],
        "decided": ["checking", "ready", "live", "ended"],
        "cancelled": ["checking"],
    }[state]
    for to in path:
        assert asse.move(to).status_code == 200, (to, asse.move(to).get_json())
    if state == "cancelled":
        assert asse.move("cancelled", "Asesi sakit, dijadwalkan ulang.").status_code == 200
    if state == "decided":
        with app.app_context():
            public_id = asse.cast.session_a
            sess = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
            units = [u.id for u in sess.schedule.scheme.units]
        for uid in units:
            r = asse.c.post(f"/api/v1/sessions/{asse.cast.session_a}/decisions", headers={"X-CSRFToken": asse.token},
                            json={"unit_id": uid, "verdict": "BK", "reason": "Bukti belum memadai."})
            assert r.status_code == 201, r.get_json()
        assert asse.move("decided").status_code == 200


def room_webm(seconds: float = 1.2) -> bytes:
    from tests.integration.test_live_session import _webm

    return _webm(seconds)


# --- the state table (docs/TUK-CHECK.md, "States") --------------------------------------------------------------


@pytest.mark.parametrize("state", ["ready", "live", "paused", "ended", "decided", "cancelled"])
def test_ktp_and_room_uploads_only_while_the_check_is_open(app, cast, database, cand, asse, state):
    satisfy_gate(database[0], cast.session_a)
    to_state(asse, app, state)
    before = len(evidence_of(app, cast))
    for what, body, mime in (("ktp", JPEG, "image/jpeg"), ("room", room_webm(), "video/webm")):
        r = cand.post(f"identity/{what}", data=body, headers={"Content-Type": mime})
        assert r.status_code == 409, (what, r.status_code, r.get_json())
        assert r.get_json()["error"] == "invalid_state"
        assert r.get_json()["details"] == {"state": state, "allowed": ["checking"]}
    assert len(evidence_of(app, cast)) == before  # nothing reached the evidence log


@pytest.mark.parametrize("state", ["live", "paused", "ended"])
def test_a_started_check_cannot_measure_or_restart_once_live(app, cast, database, cand, asse, state):
    check_id = started(cand)
    cosign(asse)
    satisfy_gate(database[0], cast.session_a, consent=False)
    for to in ["ready", "live"] + {"live": [], "paused": ["paused"], "ended": ["ended"]}[state]:
        assert asse.move(to).status_code == 200
    refused = [
        cand.post("tuk/browser", {"check_id": check_id, "values": {"speaker_check": True}}),
        cand.post("tuk/upload", data=os.urandom(64 * 1024), check=check_id, seq=0),
        cand.get("tuk/download", check=check_id),
        cand.post("tuk/finish", {"check_id": check_id}),
        cand.post("tuk/start", {}),
    ]
    assert [r.status_code for r in refused] == [409] * 5, [r.get_json() for r in refused]
    assert {r.get_json()["error"] for r in refused} == {"invalid_state"}


def test_confirmations_and_overrides_only_while_checking(app, cast, database, cand, asse):
    satisfy_gate(database[0], cast.session_a)
    to_state(asse, app, "ready")
    r = asse.post("identity/confirm", {"what": "id", "note": "cocok"})
    assert r.status_code == 409 and r.get_json()["error"] == "invalid_state"
    r = asse.post("tuk/override", {"key": "jitter", "reason": "Jaringan kantor stabil menurut asesor."})
    assert r.status_code == 409 and r.get_json()["error"] == "invalid_state"


def test_a_new_check_in_ready_takes_the_session_back_to_checking(app, cast, database, cand, asse):
    satisfy_gate(database[0], cast.session_a)
    to_state(asse, app, "ready")
    assert cand.post("tuk/start", {}).status_code == 201
    assert cand.get("tuk/status").get_json()["state"] == "checking"


# --- no write on a GET ------------------------------------------------------------------------------------------


def test_reading_the_check_writes_nothing(app, cast, cand, asse):
    from remote_tuk.tuk.models import IdentityCheck, TukCheck

    check_id = started(cand)
    with app.app_context():
        from remote_tuk.extensions import db

        before = db.session.get(TukCheck, check_id).__dict__.copy()
    for client in (cand, asse):
        assert client.get("tuk/status").status_code == 200
        assert client.get("identity/ktp.jpg").status_code == 422  # nothing sent yet
        assert client.get("identity/room.webm").status_code == 422
        assert client.c.get(f"/sesi/{cast.session_a}/verifikasi-tuk").status_code == 200
    assert len(cand.get("tuk/download", check=check_id).data) == 4_000_000
    assert count(app, IdentityCheck) == 0
    with app.app_context():
        from remote_tuk.extensions import db

        after = db.session.get(TukCheck, check_id).__dict__
        assert {k: v for k, v in after.items() if not k.startswith("_")} == {
            k: v for k, v in before.items() if not k.startswith("_")
        }


# --- overrides --------------------------------------------------------------------------------------------------


def failed_check(cand: Client) -> int:
    """A finished check that measured nothing: every measured requirement failed."""
    check_id = started(cand)
    r = cand.post("tuk/finish", {"check_id": check_id})
    assert r.status_code == 200 and r.get_json()["passed"] is False
    return check_id


REASON = "Unggahan diuji ulang lewat telepon; cukup untuk skema ini."


def test_a_second_override_is_answered_with_the_first_and_writes_nothing(app, cast, cand, asse):
    failed_check(cand)
    first = asse.post("tuk/override", {"key": "upload_bandwidth", "reason": REASON})
    assert first.status_code == 201 and first.get_json()["already"] is False
    again = asse.post("tuk/override", {"key": "upload_bandwidth", "reason": REASON})
    assert again.status_code == 200 and again.get_json() == {**first.get_json(), "already": True}
    other = asse.post("tuk/override", {"key": "upload_bandwidth", "reason": "Alasan lain yang juga panjang."})
    assert other.status_code == 409 and other.get_json()["details"]["reason"] == REASON
    assert len(evidence_of(app, cast, "tuk.override")) == 1


def test_concurrent_overrides_write_one_evidence_entry(app, cast, cand, asse):
    failed_check(cand)
    cookie = asse.c.get_cookie(app.config["SESSION_COOKIE_NAME"])
    clients = []
    for _ in range(6):
        c = app.test_client()
        c.set_cookie(cookie.key, cookie.value, domain=cookie.domain or "localhost")
        clients.append(c)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def send(i: int, c: Any) -> None:
        barrier.wait()
        reason = REASON if i % 2 else f"{REASON} ({i})"
        r = c.post(_api(cast, "tuk/override"), json={"key": "jitter", "reason": reason},
                   headers={"X-CSRFToken": asse.token})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert len(statuses) == 6 and statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, statuses
    assert len(evidence_of(app, cast, "tuk.override")) == 1


# --- the room scan is played before the room is confirmed ---------------------------------------------------------


def test_the_room_is_confirmed_only_after_its_scan_was_played(app, cast, cand, asse):
    started(cand)
    assert cand.post("identity/ktp", data=JPEG, headers={"Content-Type": "image/jpeg"}).status_code == 201
    assert cand.post("identity/room", data=room_webm(), headers={"Content-Type": "video/webm"}).status_code == 201
    blind = asse.post("identity/confirm", {"what": "room", "note": "sepi"})
    assert blind.status_code == 409 and blind.get_json()["error"] == "room_not_viewed"

    reads = len(evidence_of(app, cast, kind="read"))
    served = asse.get("identity/room.webm")
    assert served.status_code == 200 and served.mimetype == "video/webm" and served.data[:4] == b"\x1a\x45\xdf\xa3"
    assert len(evidence_of(app, cast, kind="read")) == reads + 1  # the view is logged like the KTP view
    seconds, view = float(served.headers["X-Room-Seconds"]), served.headers["X-Room-View"]
    assert 1.0 < seconds < 1.5

    too_soon = asse.post("identity/confirm", {"what": "room", "note": "sepi", "view": view})
    assert too_soon.status_code == 409 and too_soon.get_json()["error"] == "room_not_viewed"
    forged = asse.post("identity/confirm", {"what": "room", "note": "sepi", "view": view[:-4] + "AAAA"})
    assert forged.status_code == 409
    time.sleep(seconds)  # the recording's own length: the time it takes to play it
    ok = asse.post("identity/confirm", {"what": "room", "note": "sepi", "view": view})
    assert ok.status_code == 201, ok.get_json()
    again = asse.post("identity/confirm", {"what": "room", "note": "sepi", "view": view})
    assert again.status_code == 200 and again.get_json()["already"] is True
    confirmations = evidence_of(app, cast, "identity.confirmation")
    assert len(confirmations) == 1

    # a new scan clears the confirmation, and the old view does not confirm the new scan
    assert cand.post("identity/room", data=room_webm(), headers={"Content-Type": "video/webm"}).status_code == 201
    assert cand.get("tuk/status").get_json()["identity"]["room_confirmed"] is False
    stale = asse.post("identity/confirm", {"what": "room", "note": "sepi", "view": view})
    assert stale.status_code == 409 and "baru" in stale.get_json()["message"]


def test_a_room_scan_that_does_not_play_is_refused(app, cast, cand):
    started(cand)
    r = cand.post("identity/room", data=b"\x1a\x45\xdf\xa3" + os.urandom(5000), headers={"Content-Type": "video/webm"})
    assert r.status_code == 422 and r.get_json()["details"] == {"room": "tidak dapat diputar"}


# --- the upload measurement ---------------------------------------------------------------------------------------


def upload_chain(cand: Client, check_id: int, sizes: tuple[int, ...] = (64 * 1024,) + (256 * 1024,) * 4):
    token, timings = None, []
    for seq, n in enumerate(sizes):
        t0 = time.perf_counter()
        headers = {"Content-Type": "application/octet-stream", **({"X-Upload-Token": token} if token else {})}
        r = cand.post("tuk/upload", data=os.urandom(n), check=check_id, seq=seq, headers=headers)
        assert r.status_code == 200, r.get_json()
        timings.append({"seq": seq, "bytes": n, "ms": (time.perf_counter() - t0) * 1000})
        token = r.get_json()["token"]
    return token, timings


def measurements(app: Any, check_id: int) -> dict[str, Any]:
    from remote_tuk.extensions import db
    from remote_tuk.tuk.models import TukCheck

    with app.app_context():
        return dict(db.session.get(TukCheck, check_id).measurements or {})


def test_upload_is_the_servers_figure_from_a_chain_of_chunks(app, cast, cand):
    check_id = started(cand)
    token, timings = upload_chain(cand, check_id)
    r = cand.post("tuk/upload-result", {"check_id": check_id, "token": token, "chunks": timings})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["chunks"] == 4 and body["bytes"] == 4 * 256 * 1024 and body["method"] == "sequential_chunks"
    assert body["upload_kbps"] == pytest.approx(body["bytes"] * 8 / body["server_s"] / 1000, rel=0.05)
    stored = measurements(app, check_id)["upload_bandwidth"]
    assert stored["source"] == "server" and stored["value"] == body["upload_kbps"]
    assert stored["detail"]["server_s"] == body["server_s"]


def test_upload_result_the_two_clocks_disagree_on_is_refused(app, cast, cand):
    check_id = started(cand)
    token, timings = upload_chain(cand, check_id)
    for t in timings:
        t["ms"] = t["ms"] * 20 + 400  # a page claiming it took far longer than the server saw
    r = cand.post("tuk/upload-result", {"check_id": check_id, "token": token, "chunks": timings})
    assert r.status_code == 409 and r.get_json()["error"] == "measurement_inconsistent"
    assert "upload_bandwidth" not in measurements(app, check_id)


def test_upload_chain_refuses_what_it_cannot_time(app, cast, cand):
    check_id = started(cand)
    other = cand.post("tuk/start", {}).get_json()["check_id"]
    token, timings = upload_chain(cand, check_id, sizes=(64 * 1024, 256 * 1024))
    octet = {"Content-Type": "application/octet-stream"}
    cases = {
        "no token": cand.post("tuk/upload", data=os.urandom(65536), check=check_id, seq=2, headers=octet),
        "another check's token": cand.post("tuk/upload", data=os.urandom(65536), check=other, seq=2,
                                           headers={**octet, "X-Upload-Token": token}),
        "tampered token": cand.post("tuk/upload", data=os.urandom(65536), check=check_id, seq=2,
                                    headers={**octet, "X-Upload-Token": token[:-3] + "abc"}),
        "out of order": cand.post("tuk/upload", data=os.urandom(65536), check=check_id, seq=5,
                                  headers={**octet, "X-Upload-Token": token}),
        "too big": cand.post("tuk/upload", data=os.urandom(1024 * 1024 + 1), check=check_id, seq=2,
                             headers={**octet, "X-Upload-Token": token}),
        "too small": cand.post("tuk/upload", data=b"x" * 100, check=check_id, seq=0, headers=octet),
        "too few timed chunks": cand.post("tuk/upload-result", {"check_id": check_id, "token": token,
                                                                 "chunks": timings}),
    }
    assert {k: r.status_code for k, r in cases.items()} == dict.fromkeys(cases, 422), {
        k: r.get_json() for k, r in cases.items()
    }


def test_download_result_needs_the_bodys_tail(app, cast, cand):
    check_id = started(cand)
    body = cand.get("tuk/download", check=check_id).data
    tail = body[-256:].decode().strip()
    base = {"check_id": check_id, "bytes": len(body), "elapsed_ms": 500.0}
    assert cand.post("tuk/download-result", {**base, "token": "x" * 20}).status_code == 422
    assert cand.post("tuk/download-result", {**base, "bytes": 5, "token": tail}).status_code == 422
    r = cand.post("tuk/download-result", {**base, "token": tail})
    assert r.status_code == 200 and r.get_json()["download_kbps"] > 0


# --- what a browser cannot measure --------------------------------------------------------------------------------


def test_a_display_the_browser_cannot_measure_is_not_a_failure(app, cast, cand, asse):
    check_id = started(cand)
    values = {"browser_webrtc": True, "unmeasurable": ["single_display"]}
    assert cand.post("tuk/browser", {"check_id": check_id, "values": values}).get_json()["ignored"] == []
    res = {r["key"]: r for r in cand.post("tuk/finish", {"check_id": check_id}).get_json()["results"]}
    single = res["single_display"]
    assert single["status"] == "unmeasurable" and single["value"] == "tidak dapat diukur di peramban ini"
    assert single["pass"] is False and "Chrome" in single["hint"]  # the default profile leaves it to the assessor
    assert res["browser_webrtc"]["status"] == "pass" and res["fullscreen"]["status"] == "not_measured"
    assert "single_display" in cand.get("tuk/status").get_json()["gate"]["missing"][-3]
    r = asse.post("tuk/override", {"key": "single_display", "reason": "Rekaman ruangan memperlihatkan satu layar."})
    assert r.status_code == 201


def test_a_profile_may_accept_what_the_browser_cannot_measure(app, cast, cand):
    from config import DEFAULT_TUK_PROFILE
    from remote_tuk.extensions import db
    from remote_tuk.tuk.models import RequirementProfileRecord

    data = DEFAULT_TUK_PROFILE.model_dump()
    for req in data["requirements"]:
        if req["key"] == "single_display":
            req["if_unmeasurable"] = "accept"
    with app.app_context():
        db.session.add(RequirementProfileRecord(name="Terima", data=data, is_default=True))
        db.session.commit()
    check_id = started(cand)
    cand.post("tuk/browser", {"check_id": check_id, "values": {"unmeasurable": ["single_display"]}})
    res = {r["key"]: r for r in cand.post("tuk/finish", {"check_id": check_id}).get_json()["results"]}
    assert res["single_display"]["status"] == "unmeasurable" and res["single_display"]["pass"] is True


# --- malformed input: a 4xx, never a 500 --------------------------------------------------------------------------


def test_malformed_input_is_refused_with_4xx(app, cast, cand, asse):
    check_id = started(cand)
    huge = 10**30
    octet = {"Content-Type": "application/octet-stream"}
    nested = "[" * 100_000 + "]" * 100_000
    raw = {"Content-Type": "application/json"}
    answers = {
        "upload check=abc": cand.post("tuk/upload", data=b"x" * 70_000, headers=octet, check="abc"),
        "upload check=huge": cand.post("tuk/upload", data=b"x" * 70_000, headers=octet, check=str(huge)),
        "upload check=²": cand.post("tuk/upload", data=b"x" * 70_000, headers=octet, check="²"),
        "upload seq=-1": cand.post("tuk/upload", data=b"x" * 70_000, headers=octet, check=check_id, seq=-1),
        "upload no check": cand.post("tuk/upload", data=b"x" * 70_000, headers=octet),
        "download check=huge": cand.get("tuk/download", check=str(huge)),
        "download check=1e3": cand.get("tuk/download", check="1e3"),
        "browser check_id huge": cand.post("tuk/browser", {"check_id": huge, "values": {}}),
        "browser NaN level": cand.post("tuk/browser", data=json.dumps(
            {"check_id": check_id, "values": {"microphone_level": float("nan")}}), headers=raw),
        "browser infinite battery": cand.post("tuk/browser", data=json.dumps(
            {"check_id": check_id, "values": {"battery": {"level": float("inf"), "charging": False}}}), headers=raw),
        "browser level as text": cand.post("tuk/browser", {"check_id": check_id, "values": {"microphone_level": "x"}}),
        "browser nested": cand.post("tuk/browser", data='{"check_id": 1, "values": {"x": ' + nested + "}}",
                                    headers=raw),
        "finish nested": cand.post("tuk/finish", data=nested, headers=raw),
        "finish array": cand.post("tuk/finish", data="[1]", headers=raw),
        "finish check_id text": cand.post("tuk/finish", {"check_id": "abc"}),
        "upload-result garbage": cand.post("tuk/upload-result", {"check_id": check_id, "token": "a" * 40,
                                                                  "chunks": [{"seq": 1, "bytes": 5, "ms": 1}]}),
        "download-result huge": cand.post("tuk/download-result", {"check_id": huge, "bytes": 1, "elapsed_ms": 1,
                                                                   "token": "x" * 20}),
        "confirm view number": asse.post("identity/confirm", {"what": "room", "view": 123}),
        "confirm what": asse.post("identity/confirm", {"what": "kamar"}),
        "override key number": asse.post("tuk/override", {"key": 5, "reason": REASON}),
        "media check_id huge": cand.post("tuk/media", {"check_id": huge, "socket_id": "x"}),
    }
    bad = {k: (r.status_code, r.get_data(as_text=True)[:200]) for k, r in answers.items()
           if not 400 <= r.status_code < 500}
    assert not bad, bad
    assert cand.get("tuk/status").status_code == 200  # and the server is still well


def test_malformed_profile_ids_are_refused_with_4xx(app, cast):
    c = app.test_client()
    login(c, cast, "admin")
    token = csrf_token(c, "/admin/profil-tuk/")
    answers = {
        "edit huge id": c.get("/admin/profil-tuk/99999999999999999999"),
        "assign ²": c.post("/admin/profil-tuk/skema", data={"scheme_id": "²", "profile_id": "", "csrf_token": token}),
        "assign huge": c.post("/admin/profil-tuk/skema", data={"scheme_id": "9" * 30, "profile_id": "",
                                                               "csrf_token": token}),
        "assign profile ³": c.post("/admin/profil-tuk/skema", data={"scheme_id": str(cast.scheme_id),
                                                                    "profile_id": "³", "csrf_token": token}),
    }
    bad = {k: r.status_code for k, r in answers.items() if not 400 <= r.status_code < 500}
    assert not bad, bad
