"""Issue 12 #5 and #9: taking access away reaches the sockets that are already open.

* a sign-in that ends (logout, password change, role change, deactivation) disconnects every socket opened under it;
* a reassigned schedule or a removed auditor grant takes the sockets of whoever lost the session out of its rooms
  (``/sesi`` ``session:<id>``, ``/live`` ``live:<id>``), so they stop receiving its state changes and chat.
"""

from __future__ import annotations

import pytest

from remote_tuk.extensions import socketio
from tests.conftest import csrf_token, login


@pytest.fixture
def app(settings):
    from remote_tuk import create_app
    from remote_tuk.extensions import limiter

    app = create_app(settings)
    limiter.reset()
    yield app
    app.extensions["rtuk_evidence"].close()
    app.extensions["rtuk_db"].dispose()


def _signed_in(app, cast, who):
    http = app.test_client()
    login(http, cast, who)
    return http


def _sesi(app, http, public_id):
    sc = socketio.test_client(app, namespace="/sesi", flask_test_client=http)
    assert sc.emit("follow", {"session": public_id}, namespace="/sesi", callback=True)["ok"] is True
    sc.get_received("/sesi")
    return sc


def _live(app, http, public_id):
    sc = socketio.test_client(app, namespace="/live", flask_test_client=http)
    ack = sc.emit("join", {"session": public_id}, namespace="/live", callback=True)
    assert ack["ok"] is True, ack
    sc.get_received("/live")
    return sc


def _states(sc):
    return [m["args"][0]["state"] for m in sc.get_received("/sesi") if m["name"] == "state"]


def _chats(sc):
    return [m["args"][0]["text"] for m in sc.get_received("/live") if m["name"] == "chat"]


def _candidate_starts_check(app, cast):
    candidate = _signed_in(app, cast, "asesi_a")
    resp = candidate.post(
        f"/api/v1/sessions/{cast.session_a}/transition",
        json={"to": "checking"},
        headers={"X-CSRFToken": csrf_token(candidate, "/akun/kata-sandi")},
    )
    assert resp.status_code == 200
    return candidate


def _admin_post(admin, path, data):
    return admin.post(path, data={**data, "csrf_token": csrf_token(admin, "/admin/jadwal")})


def test_reassigned_assessor_leaves_the_sessions_rooms(app, cast):
    old_http = _signed_in(app, cast, "asesor_a")
    old_sesi, old_live = _sesi(app, old_http, cast.session_a), _live(app, old_http, cast.session_a)
    witness_http = _signed_in(app, cast, "auditor_a")  # still granted: keeps receiving
    witness = _sesi(app, witness_http, cast.session_a)
    witness_live = _live(app, witness_http, cast.session_a)

    admin = _signed_in(app, cast, "admin")
    resp = _admin_post(
        admin,
        f"/admin/jadwal/{cast.schedule_a}/asesor",
        {"assessor_id": str(cast.users["asesor_b"]), "assignment_letter": "009/ST/2026"},
    )
    assert resp.status_code == 302

    assert old_sesi.is_connected("/sesi")  # /sesi follows many sessions: it only leaves this one's room
    assert not old_live.is_connected("/live")  # a /live page serves one session: it is disconnected
    candidate = _candidate_starts_check(app, cast)
    assert _states(old_sesi) == []
    assert _states(witness) == ["checking"]
    chat = _live(app, candidate, cast.session_a)
    assert chat.emit("chat", {"session": cast.session_a, "text": "halo"}, namespace="/live", callback=True)["ok"]
    assert _chats(witness_live) == ["halo"]
    # the old assessor's socket cannot come back in: following again is refused like an unknown session
    again = old_sesi.emit("follow", {"session": cast.session_a}, namespace="/sesi", callback=True)
    assert again["error"] == "not_found"


def test_removed_auditor_grant_leaves_the_rooms(app, cast):
    auditor = _sesi(app, _signed_in(app, cast, "auditor_a"), cast.session_a)
    assessor = _sesi(app, _signed_in(app, cast, "asesor_a"), cast.session_a)
    admin = _signed_in(app, cast, "admin")
    resp = _admin_post(admin, f"/admin/jadwal/{cast.schedule_a}/auditor/{cast.users['auditor_a']}/cabut", {})
    assert resp.status_code == 302
    _candidate_starts_check(app, cast)
    assert _states(auditor) == []
    assert _states(assessor) == ["checking"]
    # revoking a grant that does not exist is a 404, and the page says so
    again = _admin_post(admin, f"/admin/jadwal/{cast.schedule_a}/auditor/{cast.users['auditor_a']}/cabut", {})
    assert again.status_code == 404


def test_logout_disconnects_the_sockets_of_that_sign_in_only(app, cast):
    laptop, phone = _signed_in(app, cast, "asesi_a"), _signed_in(app, cast, "asesi_a")
    laptop_sesi, laptop_live = _sesi(app, laptop, cast.session_a), _live(app, laptop, cast.session_a)
    phone_sesi = _sesi(app, phone, cast.session_a)
    assert laptop.post("/keluar", data={"csrf_token": csrf_token(laptop, "/asesi/")}).status_code == 302
    assert not laptop_sesi.is_connected("/sesi")
    assert not laptop_live.is_connected("/live")
    assert phone_sesi.is_connected("/sesi")


@pytest.mark.parametrize("action", ["deactivate", "role"])
def test_deactivation_and_role_change_disconnect_every_socket(app, cast, action):
    sockets = [_sesi(app, _signed_in(app, cast, "auditor_a"), cast.session_a) for _ in range(2)]
    admin = _signed_in(app, cast, "admin")
    uid = cast.users["auditor_a"]
    if action == "deactivate":
        resp = _admin_post(admin, f"/admin/pengguna/{uid}/status", {"active": "0"})
    else:
        resp = _admin_post(admin, f"/admin/pengguna/{uid}/peran", {"role": "lsp_admin"})
    assert resp.status_code == 302
    assert not any(sc.is_connected("/sesi") for sc in sockets)


def test_registry_forgets_disconnected_sockets(app, cast):
    from remote_tuk.extensions import socket_registry

    before = len(socket_registry)
    sc = _sesi(app, _signed_in(app, cast, "asesi_a"), cast.session_a)
    assert len(socket_registry) == before + 1
    sc.disconnect(namespace="/sesi")
    assert len(socket_registry) == before
