"""Issue 12 #9 across app nodes: with a Socket.IO message queue (Redis), an access change made on one node reaches
the sockets held by the others (remote_tuk/sockets/fanout.py), through a real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.components import require
from tests.conftest import login

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@pytest.fixture
def backend():
    """The fan-out does not depend on the database backend; SQLite keeps this quick."""
    return "sqlite"


@pytest.fixture
def node(settings):
    require(_redis_available(), "Redis", "start redis-server on 127.0.0.1:6379 (apt-get install redis-server)")
    from remote_tuk import create_app

    settings.socketio_message_queue = REDIS_URL
    settings.secret_key = "fanout-test-" + uuid.uuid4().hex  # a channel of its own (other test runs share Redis)
    app = create_app(settings)
    fanout = app.extensions["rtuk_access_fanout"]
    assert fanout.wait_subscribed(10)
    yield app
    fanout.close()
    app.extensions["rtuk_evidence"].close()
    app.extensions["rtuk_db"].dispose()


@pytest.fixture
def listening_node(settings):
    """A node whose sockets the Flask-SocketIO test client can hold: the test client refuses a server with a message
    queue, so this app has none and its fan-out listener is the one create_app would wire (same class, same apply)."""
    require(_redis_available(), "Redis", "start redis-server on 127.0.0.1:6379 (apt-get install redis-server)")
    from remote_tuk import create_app
    from remote_tuk.sockets.events import recheck_here
    from remote_tuk.sockets.fanout import Fanout

    app = create_app(settings)
    fanout = Fanout(REDIS_URL, "rtuk-access-test-" + uuid.uuid4().hex, lambda change: recheck_here(app, change))
    assert fanout.wait_subscribed(10)
    yield app, fanout
    fanout.close()
    app.extensions["rtuk_evidence"].close()
    app.extensions["rtuk_db"].dispose()


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_change_published_by_another_node_disconnects_sockets_here(listening_node, cast):
    import redis

    from remote_tuk.extensions import socket_registry, socketio

    node, fanout = listening_node
    http = node.test_client()
    login(http, cast, "asesi_a")
    sc = socketio.test_client(node, namespace="/sesi", flask_test_client=http)
    assert sc.is_connected("/sesi")
    (conn,) = [c for c in socket_registry.connections() if c.namespace == "/sesi"]
    message = {"node": "another-node", "sign_ins": [conn.sign_in_id], "sessions": []}
    redis.Redis.from_url(REDIS_URL).publish(fanout.channel, json.dumps(message))
    assert _wait(lambda: not sc.is_connected("/sesi")), "the other node's revocation did not reach this socket"


def test_changes_made_here_are_published_for_the_other_nodes(node, cast):
    import redis

    from remote_tuk import access

    fanout = node.extensions["rtuk_access_fanout"]
    listener = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(fanout.channel)
    try:
        with node.app_context():
            access.changed(sign_ins=[41, 42], sessions=[cast.session_a])
        received = None
        deadline = time.monotonic() + 10
        while received is None and time.monotonic() < deadline:
            received = listener.get_message(timeout=0.5)
        assert received is not None
        assert json.loads(received["data"]) == {
            "node": fanout.node, "sign_ins": [41, 42], "sessions": [cast.session_a]
        }
    finally:
        listener.close()


def test_malformed_messages_are_ignored(listening_node, cast):
    import redis

    from remote_tuk.extensions import socketio

    node, fanout = listening_node
    http = node.test_client()
    login(http, cast, "asesi_a")
    sc = socketio.test_client(node, namespace="/sesi", flask_test_client=http)
    client = redis.Redis.from_url(REDIS_URL)
    for junk in (b"not json", b"[]", b'{"sign_ins": ["x"]}', b'{"sign_ins": null}'):
        client.publish(fanout.channel, junk)
    time.sleep(1.0)
    assert fanout._thread.is_alive()
    assert sc.is_connected("/sesi")
