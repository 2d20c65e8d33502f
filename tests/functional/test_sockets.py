"""Socket.IO /sesi namespace: authentication on connect, object checks and payload validation on every event."""

from __future__ import annotations

import pytest

from remote_tuk.extensions import socketio
from tests.conftest import login


def _socket(app, http_client):
    return socketio.test_client(app, namespace="/sesi", flask_test_client=http_client)


def test_anonymous_socket_is_refused(app):
    sc = socketio.test_client(app, namespace="/sesi")
    assert not sc.is_connected("/sesi")


def test_follow_and_receive_state_changes(app, cast):
    candidate_http = app.test_client()
    login(candidate_http, cast, "asesi_a")
    candidate = _socket(app, candidate_http)
    assert candidate.is_connected("/sesi")
    ack = candidate.emit("follow", {"session": cast.session_a}, namespace="/sesi", callback=True)
    assert ack == {"ok": True, "state": "scheduled", "label": "Terjadwal"}

    assessor_http = app.test_client()
    login(assessor_http, cast, "asesor_a")
    assessor = _socket(app, assessor_http)
    ack = assessor.emit("transition", {"session": cast.session_a, "to": "checking"}, namespace="/sesi", callback=True)
    assert ack == {"ok": True, "state": "checking"}
    received = [m for m in candidate.get_received("/sesi") if m["name"] == "state"]
    assert received and received[-1]["args"][0]["state"] == "checking"


def test_follow_foreign_session_is_refused(app, cast):
    http = app.test_client()
    login(http, cast, "asesi_b")
    sc = _socket(app, http)
    ack = sc.emit("follow", {"session": cast.session_a}, namespace="/sesi", callback=True)
    assert ack["ok"] is False and ack["error"] == "not_found"
    errors = [m for m in sc.get_received("/sesi") if m["name"] == "error"]
    assert errors and errors[0]["args"][0]["error"] == "not_found"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "text",
        ["list"],
        {"session": "../../etc"},
        {"session": "x"},
        {"session": "a" * 100},
        {f"k{i}": i for i in range(40)},
    ],
)
def test_bad_payloads(app, cast, payload):
    http = app.test_client()
    login(http, cast, "asesi_a")
    sc = _socket(app, http)
    ack = sc.emit("follow", payload, namespace="/sesi", callback=True)
    assert ack["ok"] is False
    assert ack["error"] == "validation_failed"


def test_socket_transition_refusals_change_nothing(app, cast):
    http = app.test_client()
    login(http, cast, "asesor_a")
    sc = _socket(app, http)
    ack = sc.emit("transition", {"session": cast.session_a, "to": "live"}, namespace="/sesi", callback=True)
    assert ack["ok"] is False and ack["error"] == "invalid_transition"
    ack = sc.emit("follow", {"session": cast.session_a}, namespace="/sesi", callback=True)
    assert ack["state"] == "scheduled"
    other = app.test_client()
    login(other, cast, "asesor_b")
    sb = _socket(app, other)
    ack = sb.emit("transition", {"session": cast.session_a, "to": "checking"}, namespace="/sesi", callback=True)
    assert ack["ok"] is False and ack["error"] == "not_found"
