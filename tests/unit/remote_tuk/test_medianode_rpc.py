"""A media node validates every request (remote_tuk/medianode/rpc.py): malformed, unknown or badly typed requests get
an error reply (or are dropped when they name no valid reply key); nothing a request carries crashes the node."""

from __future__ import annotations

import json
import time

import pytest

from remote_tuk.medianode import rpc

PREFIX = "rtuk:media:reply:"
RID = "0123456789abcdef0123456789abcdef"


def _server(calls: list | None = None) -> rpc.RpcServer:
    def record(name):
        def handler(args):
            if calls is not None:
                calls.append((name, args))
            if name == "candidate_offer" and args.sdp == "explode":
                raise RuntimeError("engine broke")
            if name == "close_viewer":
                from proctor.errors import UnknownPeer

                raise UnknownPeer("no viewer x")
            return {"method": name}

        return handler

    return rpc.RpcServer(None, "rtuk:media:rpc:n", PREFIX, {m: record(m) for m in rpc.METHODS})


def _req(method="ping", args=None, **over) -> bytes:
    body = {"id": RID, "method": method, "args": {} if args is None else args, "reply": PREFIX + RID,
            "deadline": time.time() + 30, **over}
    return json.dumps(body).encode()


def test_a_valid_request_runs_its_handler():
    calls = []
    key, reply = _server(calls).handle(_req("viewer_offer", {"session_id": "abc-1", "viewer_id": "assessor-3",
                                                             "sdp": "v=0", "can_talk": True}))
    assert key == PREFIX + RID and reply == {"ok": True, "result": {"method": "viewer_offer"}}
    (name, args), = calls
    assert name == "viewer_offer" and args.full is True and args.can_talk is True


@pytest.mark.parametrize(("raw", "code"), [
    (b"\xff\xfe not json", "bad_json"),
    (b"[1, 2]", "bad_request"),
    (b"{}", "bad_reply"),
    (json.dumps({"id": RID, "method": "ping", "reply": "some:other:key", "deadline": 1e12}).encode(), "bad_reply"),
    (json.dumps({"id": "../x", "method": "ping", "reply": PREFIX + "../x", "deadline": 1e12}).encode(), "bad_reply"),
    (b"x" * (rpc.MAX_REQUEST_BYTES + 1), "too_large"),
])
def test_requests_without_a_valid_reply_key_are_dropped(raw, code):
    key, reply = _server().handle(raw)
    assert key is None and reply["ok"] is False and reply["error"]["code"] == code


@pytest.mark.parametrize(("method", "args", "code"), [
    ("shutdown", {}, "unknown_method"),
    (None, {}, "unknown_method"),
    ("__init__", {}, "unknown_method"),
    ("ping", [], "bad_args"),
    ("ping", {"extra": 1}, "bad_args"),
    ("candidate_offer", {"session_id": "abc"}, "bad_args"),  # no sdp
    ("candidate_offer", {"session_id": "abc", "sdp": 5}, "bad_args"),  # strict: no coercion
    ("candidate_offer", {"session_id": "a b;c", "sdp": "v=0"}, "bad_args"),
    ("candidate_offer", {"session_id": "abc", "sdp": "x" * (128 * 1024 + 1)}, "bad_args"),
    ("viewer_offer", {"session_id": "abc", "viewer_id": "v", "sdp": "v=0", "can_talk": "yes"}, "bad_args"),
    ("close_candidate", {"session_id": "abc", "reason": "DROP TABLE"}, "bad_args"),
    ("sources_update", {"session_id": "abc", "source": "phone", "battery": 7.0}, "bad_args"),
])
def test_bad_requests_get_an_error_reply(method, args, code):
    calls = []
    key, reply = _server(calls).handle(_req(method, args))
    assert key == PREFIX + RID
    assert reply["ok"] is False and reply["error"]["kind"] == "bad_request" and reply["error"]["code"] == code
    assert calls == []


def test_a_bad_deadline_is_refused_and_a_passed_one_drops_the_request_unrun():
    calls = []
    server = _server(calls)
    key, reply = server.handle(_req(deadline="soon"))
    assert reply["error"]["code"] == "bad_deadline"
    key, reply = server.handle(_req("candidate_offer", {"session_id": "abc", "sdp": "v=0"}, deadline=time.time() - 1))
    assert key == PREFIX + RID and reply is None and calls == []


def test_handler_failures_become_replies():
    server = _server()
    _key, reply = server.handle(_req("candidate_offer", {"session_id": "abc", "sdp": "explode"}))
    assert reply["error"] == {"kind": "internal", "code": "RuntimeError", "message": "engine broke"}
    _key, reply = server.handle(_req("close_viewer", {"session_id": "abc", "viewer_id": "x"}))
    assert reply["error"]["kind"] == "proctor" and reply["error"]["code"] == "unknown_peer"


def test_every_method_needs_a_handler():
    with pytest.raises(ValueError, match="no handler"):
        rpc.RpcServer(None, "q", PREFIX, {"ping": lambda a: None})


def test_the_proxy_raises_the_nodes_proctor_errors_as_their_own_classes():
    from proctor.errors import ProctorError, SdpMissingMedia, UnknownPeer
    from remote_tuk.medianode.proxy import _proctor_error

    assert type(_proctor_error("unknown_peer", "m")) is UnknownPeer
    assert type(_proctor_error("sdp_missing_media", "m")) is SdpMissingMedia
    other = _proctor_error("something_new", "m")
    assert type(other) is ProctorError and other.code == "something_new"
