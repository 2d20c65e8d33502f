"""Media nodes (issue 18 item 1, docs/DEPLOYMENT.md "Media nodes"): two real ``python -m remote_tuk media-node``
processes, an app with ``RTUK_MEDIA_NODES=redis`` signaling them through a real Redis on 127.0.0.1:6379, synthetic
aiortc peers on loopback. The session is placed on the less-loaded node, video reaches the assessor through it, and
after that node is killed (SIGKILL) the pages' next offers are placed on the other node and video flows again."""

from __future__ import annotations

import json
import signal
import time
import uuid

import pytest

from remote_tuk.extensions import socketio
from tests.components import require
from tests.conftest import csrf_token, login, satisfy_gate
from tests.media_node_procs import REDIS_URL, MediaNodes

pytestmark = pytest.mark.slow

METRICS_TOKEN = "media-node-test-metrics-token-0123456789"


def _metrics(nodes, name: str) -> dict:
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://127.0.0.1:{nodes.ops_ports[name]}"
    assert requests.get(f"{url}/masuk", timeout=5).status_code == 404  # a node serves no pages
    assert requests.get(f"{url}/metrics", timeout=5).status_code == 401
    text = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@pytest.fixture
def backend():
    """The nodes and the app share one SQLite file; the database layer itself is covered on both backends."""
    return "sqlite"


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def remote_app(settings):
    """The app with RTUK_MEDIA_NODES=redis (test client; its media calls go to media nodes under its own prefix)."""
    require(_redis_available(), "Redis", "start redis-server on 127.0.0.1:6379 (apt-get install redis-server)")
    import redis

    from remote_tuk import create_app

    prefix = "rtuk-test-media-" + uuid.uuid4().hex[:12]  # other test runs share this Redis
    settings.rtc.proctoring = False  # the analysis pool is covered elsewhere; two nodes' pools would crowd 2 cores
    settings.media_nodes = "redis"
    settings.media_nodes_url = REDIS_URL
    settings.media_nodes_prefix = prefix
    app = create_app(settings)
    try:
        yield app
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        app.extensions["rtuk_media"].stop()
        app.extensions["rtuk_evidence"].close()
        app.extensions["rtuk_db"].dispose()


@pytest.fixture
def cluster(remote_app, settings, tmp_path):
    """The app and two media nodes."""
    registry = remote_app.extensions["rtuk_media"].remote.registry
    nodes = MediaNodes(settings.database_url, settings.var_dir, registry.prefix, tmp_path, METRICS_TOKEN,
                       proctoring=False, ops_port=True)
    try:
        for name in ("media-1", "media-2"):
            nodes.start(name)
        for name in ("media-1", "media-2"):
            assert _wait(lambda name=name: registry.alive(name), 90), f"{name} did not register:\n{nodes.log(name)}"
        yield remote_app, nodes, registry
    finally:
        nodes.stop()


def _http(app, cast, who):
    c = app.test_client()
    login(c, cast, who)
    return c, csrf_token(c, "/akun/kata-sandi")


def _live(app, cast):
    """The session live, the candidate's and the assessor's pages joined."""
    assessor_http, a_token = _http(app, cast, "asesor_a")
    candidate_http, c_token = _http(app, cast, "asesi_a")
    satisfy_gate(app.config["RTUK"].sqlalchemy_url, cast.session_a)
    for to in ("checking", "ready", "live"):
        r = assessor_http.post(f"/api/v1/sessions/{cast.session_a}/transition", json={"to": to},
                               headers={"X-CSRFToken": a_token})
        assert r.status_code == 200, r.get_json()
    cand_sock = socketio.test_client(app, namespace="/live", flask_test_client=candidate_http)
    asse_sock = socketio.test_client(app, namespace="/live", flask_test_client=assessor_http)
    assert _emit(cand_sock, "join", {"session": cast.session_a})["ok"]
    assert _emit(asse_sock, "join", {"session": cast.session_a})["ok"]
    return (assessor_http, a_token, asse_sock), (candidate_http, c_token, cand_sock)


def _emit(sc, event, payload):
    return sc.emit(event, payload, namespace="/live", callback=True)


async def _make(cls, **kw):
    return cls(**kw)


def test_sessions_on_media_nodes_fail_over_when_a_node_is_killed(cluster, cast):
    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from remote_tuk.medianode.rpc import RpcClient
    from tests.media.face import HEIGHT, WIDTH, face_track, tone_track

    app, nodes, registry = cluster
    hub = app.extensions["rtuk_media"]
    remote = hub.remote
    pid = cast.session_a

    clients = RtcLoop("test-clients")
    clients.start()
    peers = []

    def peer(**kw):
        p = clients.run(_make(SyntheticPeer, **kw), 10)
        peers.append(p)
        return p

    try:
        # media-1 carries a session already (an engine session of its own, signalled directly): it is the busier
        load = peer(send=[face_track(), tone_track(220)], recv=[])
        answer = RpcClient(remote.redis, registry.prefix, 20).call(
            "media-1", "candidate_offer", {"session_id": "loadonly", "sdp": clients.run(load.offer(), 10)})
        clients.run(load.accept(answer), 10)
        clients.run(load.wait_connected(), 20)
        assert _wait(lambda: {n.name: n.sessions for n in registry.nodes()} == {"media-1": 1, "media-2": 0}, 10), \
            registry.nodes()

        (assessor_http, a_token, asse_sock), (_candidate_http, _c_token, cand_sock) = _live(app, cast)

        def connect(sock, event, **kw):
            p = peer(**kw)
            ack = _emit(sock, event, {"session": cast.session_a, "sdp": clients.run(p.offer(), 10)})
            if not ack.get("ok"):
                return p, ack
            clients.run(p.accept(ack["sdp"]), 10)
            clients.run(p.wait_connected(), 20)
            return p, ack

        # the node's engine events reach the pages through the Socket.IO message queue (any app node delivers them)
        queue = remote.redis.pubsub(ignore_subscribe_messages=True)
        queue.subscribe("flask-socketio")
        cand, ack = connect(cand_sock, "offer", send=[face_track(), tone_track(440)], recv=["audio"])
        assert ack["ok"], ack
        first = registry.placement(cast.session_a)
        assert first == "media-2", "the session was not placed on the less-loaded node"
        viewer, ack = connect(asse_sock, "offer", send=[tone_track(880)], recv=["video", "audio"])
        assert ack["ok"], ack
        assert _wait(lambda: viewer.received.video_frames >= 30, 20), "no video through media-2"
        published = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(m["data"][0]["type"] == "media.started" for m in published):
            message = queue.get_message(timeout=0.5)
            if message is not None:
                body = json.loads(message["data"])
                if body.get("event") == "peer" and body.get("room") == f"live:{pid}":
                    published.append(body)
        queue.close()
        assert {m["data"][0]["type"] for m in published} >= {"peer.joined", "media.started"}, published
        stats = _emit(asse_sock, "stats", {"session": cast.session_a})
        assert stats["ok"] and stats["stats"]["candidate"]["state"] == "connected", stats
        # the node's own /metrics (--ops-port): its engine's session and the candidate's video arriving there
        samples = _metrics(nodes, "media-2")
        assert samples[("rtuk_media_sessions", ())] == 1, samples
        assert samples[("rtuk_media_inbound_bitrate_bps", (("kind", "video"),))] > 0, samples
        assert sum(v for (n, _), v in samples.items() if n == "rtuk_evidence_append_seconds_count") > 0, samples

        # kill -9 the node holding the session; the pages' reconnect offers land on media-1
        killed_at = time.monotonic()
        nodes.procs["media-2"].send_signal(signal.SIGKILL)
        nodes.procs["media-2"].wait(10)
        cand2, ack = connect(cand_sock, "restart", send=[face_track(), tone_track(440)], recv=["audio"])
        assert ack["ok"], ack
        assert registry.placement(cast.session_a) == "media-1"
        # the viewer's restart finds no peer on the new node (the page then offers anew, live-common.js)
        _p, ack = connect(asse_sock, "restart", send=[tone_track(880)], recv=["video", "audio"])
        assert not ack["ok"] and ack["error"] == "unknown_peer", ack
        viewer2, ack = connect(asse_sock, "offer", send=[tone_track(880)], recv=["video", "audio"])
        assert ack["ok"], ack
        assert _wait(lambda: viewer2.received.video_frames >= 10, 15), "no video through media-1 after the failover"
        recovered_s = time.monotonic() - killed_at
        assert recovered_s < 10, f"video flowed again only {recovered_s:.1f} s after the kill"
        print(f"failover: video at the viewer again {recovered_s:.2f} s after kill -9")
        assert {n.name for n in registry.nodes()} == {"media-1"}

        # what else the app asks of the session's node: the TUK check's frames (measured on the node), the extra
        # sources' status, and closing the media when the session ends
        hub.watch(pid)
        time.sleep(3)  # sampled at 2 frames/s
        frames, camera = hub.measure_camera(pid)
        assert frames >= 3 and camera is not None and camera.resolution == (WIDTH, HEIGHT), (frames, camera)
        assert hub.measure_camera(pid) == (0, None)  # taking the frames ended the watch
        assert hub.sources.update(pid, "phone", battery=0.42, charging=False)["battery"] == 0.42
        assert hub.sources.of(pid)["phone"]["battery"] == 0.42 and hub.sources.of(pid)["screen"]["state"] == "none"
        assert pid in hub.engine.session_ids() and "nosuchsession" not in hub.engine.session_ids()
        r = assessor_http.post(f"/api/v1/sessions/{pid}/transition", json={"to": "ended"},
                               headers={"X-CSRFToken": a_token})
        assert r.status_code == 200, r.get_json()
        assert _wait(lambda: pid not in hub.engine.session_ids(), 10), "the node kept the ended session's media"
        del cand2, cand
    finally:
        for p in peers:
            try:
                clients.run(p.close(), 10)
            except Exception:  # noqa: BLE001 - a peer of a killed node may already be closed
                pass
        clients.stop()


def test_without_a_live_media_node_the_pages_get_503(remote_app, cast):
    """No media node alive: an offer is answered ``media_unavailable`` (the page's reconnect loop tries again), an
    HTTP media call is a 503; calls for a session placed nowhere (stats) find nothing."""
    from proctor.rtc.loop import RtcLoop
    from proctor.rtc.testing import SyntheticPeer
    from tests.media.face import face_track, tone_track

    (_a_http, _a_token, asse_sock), (candidate_http, c_token, cand_sock) = _live(remote_app, cast)
    clients = RtcLoop("test-clients")
    clients.start()
    try:
        cand = clients.run(_make(SyntheticPeer, send=[face_track(), tone_track(440)], recv=["audio"]), 10)
        sdp = clients.run(cand.offer(), 10)
        started = time.monotonic()
        ack = _emit(cand_sock, "offer", {"session": cast.session_a, "sdp": sdp})
        assert not ack["ok"] and ack["error"] == "media_unavailable", ack
        assert time.monotonic() - started < 2  # told at once, not after the request timeout
        screen = candidate_http.post(f"/api/v1/sessions/{cast.session_a}/sources/screen/offer", json={"sdp": sdp},
                                     headers={"X-CSRFToken": c_token})
        assert screen.status_code == 503 and screen.get_json()["error"] == "media_unavailable", screen.get_json()
        stats = _emit(asse_sock, "stats", {"session": cast.session_a})
        assert stats["ok"] and stats["stats"] is None
        clients.run(cand.close(), 10)
    finally:
        clients.stop()
