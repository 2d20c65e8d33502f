"""Media nodes on the running stack (issue 18, "tests that must exist"): the stack's two app nodes signal its two media
nodes (``python -m remote_tuk media-node``, ``RTUK_MEDIA_NODES=redis``) through its Redis.

* A session's candidate page signals on app1 and its assessor's page on app2 (Socket.IO through nginx, the route
  cookie forcing each node); the session is placed on media2 (media1 carries a session already, so media2 is the
  less-loaded node) and the assessor's synthetic aiortc peer decodes the candidate's video through media2.
* ``kill -9`` of the media node holding a session while the candidate records and uploads: the pages re-offer as the
  live page does (``restart``, then ``offer`` after ``unknown_peer``), the session is placed again and video reaches
  the assessor again within 10 s of the kill; every acknowledged chunk is in the evidence (test_faults' checks) and the
  bundle verifies. supervisord restarts the killed node; the test waits until it is back and ready.

The peers are synthetic aiortc peers in this process (host candidates; the media nodes are on this machine). Figures
are printed (``-s``) for docs/DEPLOYMENT.md.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.stack.test_faults import (  # noqa: F401  (live_session: a fixture used below)
    DRAIN_TIMEOUT_S,
    _both_ready,
    _candidate,
    _check_evidence,
    _report,
    live_session,
)
from tests.integration.stack.test_stack import SocketIO, _wait

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]

MEDIA = ("media1", "media2")
PREFIX = "rtuk:media"  # RTUK_MEDIA_NODES_PREFIX's default, which the stack keeps
#: video must reach the assessor again within this long after the kill
RESUME_S = 10.0


# --- the media nodes -----------------------------------------------------------------------------------------------


def _redis(st):
    import redis

    return redis.Redis(host="127.0.0.1", port=st.stack.port("redis"), db=0, socket_timeout=10)


def _registry(st):
    from remote_tuk.medianode.registry import Registry

    return Registry(_redis(st), PREFIX)


def _heartbeat(st, node: str) -> dict[str, Any] | None:
    raw = _redis(st).get(f"{PREFIX}:node:{node}")
    return json.loads(raw) if raw else None


def _media_metrics(st, node: str) -> dict[tuple[str, tuple], float]:
    auth = {"Authorization": f"Bearer {st.secrets['metrics_token']}"}
    resp = requests.get(f"http://127.0.0.1:{st.stack.port(node)}/metrics", headers=auth, timeout=10)
    assert resp.status_code == 200, (node, resp.status_code)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(resp.text) for s in f.samples}


def _media_ready(st, node: str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{st.stack.port(node)}/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _all_media_ready(st, timeout: float = 90.0) -> None:
    registry = _registry(st)
    for node in MEDIA:
        _wait(lambda n=node: registry.alive(n) and _media_ready(st, n), timeout, f"{node} alive and ready")


# --- the pages -----------------------------------------------------------------------------------------------------


class Peers:
    """Synthetic aiortc peers on a loop of their own (as if they were the browsers)."""

    def __init__(self) -> None:
        from proctor.rtc.loop import RtcLoop

        self.loop = RtcLoop("stack-test-peers")
        self.loop.start()
        self.all: list[Any] = []

    def new(self, **kw):
        from proctor.rtc.testing import SyntheticPeer

        async def make():
            return SyntheticPeer(**kw)

        p = self.loop.run(make(), 10)
        self.all.append(p)
        return p

    def candidate(self):
        from tests.media.face import face_track, tone_track

        return self.new(send=[face_track(), tone_track(440)], recv=["audio"])

    def viewer(self):
        from tests.media.face import tone_track

        return self.new(send=[tone_track(880)], recv=["video", "audio"])

    def close(self) -> None:
        for p in self.all:
            try:
                self.loop.run(p.close(), 10)
            except Exception:  # noqa: BLE001 - a peer of a killed node may be closed already
                pass
        self.loop.stop()


def _page(st, http: requests.Session, node: str) -> SocketIO:
    """A page's /live Socket.IO connection through nginx, held by *node* (the route cookie forced to it)."""
    route = st.route_to(node)
    assert requests.get(f"{st.url}/healthz", cookies={"rtuk_route": route}, verify=st.ca,
                        timeout=5).json()["node"] == node
    return SocketIO(st, {"rtuk_session": http.cookies.get("rtuk_session"), "rtuk_route": route}, "/live")


def _connect(peers: Peers, sock: SocketIO, event: str, public_id: str, peer) -> dict[str, Any]:
    """Send *peer*'s offer as *event* (``offer`` or ``restart``); on success take the answer and wait for ICE."""
    ack = sock.call(event, {"session": public_id, "sdp": peers.loop.run(peer.offer(), 15)})
    if ack.get("ok"):
        peers.loop.run(peer.accept(ack["sdp"]), 10)
        peers.loop.run(peer.wait_connected(20), 25)
    return ack


def _reoffer(peers: Peers, sock: SocketIO, public_id: str, make, deadline: float) -> tuple[Any, list[str]]:
    """What live-common.js does when its media is lost: ``restart``; on ``unknown_peer`` (the new node has no peer
    for it) a new ``offer``; any other refusal (the node not answering, no node alive) is tried again shortly."""
    said = []
    event = "restart"
    while time.monotonic() < deadline:
        peer = make()
        ack = _connect(peers, sock, event, public_id, peer)
        said.append(f"{event}:{'ok' if ack.get('ok') else ack.get('error')}")
        if ack.get("ok"):
            return peer, said
        event = "offer" if ack.get("error") == "unknown_peer" else event
        if ack.get("error") != "unknown_peer":
            time.sleep(0.3)
    raise AssertionError(f"no media again before the deadline: {said}")


def _frames(peers: Peers, viewer, at_least: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if viewer.received.video_frames >= at_least:
            return True
        time.sleep(0.05)
    return False


def _load_on(st, peers: Peers, node: str, name: str) -> None:
    """An engine session of its own on *node* (signalled to it directly): load that placement counts."""
    from remote_tuk.medianode.rpc import RpcClient

    load = peers.candidate()
    answer = RpcClient(_redis(st), PREFIX, 20).call(node, "candidate_offer",
                                                     {"session_id": name, "sdp": peers.loop.run(load.offer(), 15)})
    peers.loop.run(load.accept(answer), 10)
    peers.loop.run(load.wait_connected(20), 25)


def _unload(st, node: str, name: str) -> None:
    from remote_tuk.medianode.rpc import RpcClient

    rpc = RpcClient(_redis(st), PREFIX, 20)
    rpc.call(node, "close_candidate", {"session_id": name})
    rpc.call(node, "follow_state", {"session_id": name, "state": "ended"})


# --- the tests -----------------------------------------------------------------------------------------------------


def test_signaling_on_two_app_nodes_session_on_media_node_2(running_stack, assessor, candidate_http,
                                                            live_session):  # noqa: F811
    st = running_stack
    public_id = live_session
    _all_media_ready(st)
    registry = _registry(st)
    peers = Peers()
    socks: list[SocketIO] = []
    load = f"load-{time.time_ns()}"
    # the stack is shared by the package's modules: an earlier module's live session may still be held on a node
    before = {x.name: x.sessions for x in registry.nodes()}.get("media1", 0)
    try:
        # media1 carries a session already: media2 is the less-loaded node
        _load_on(st, peers, "media1", load)
        loads = _wait(lambda: (n := {x.name: x.sessions for x in registry.nodes()})["media1"] > n["media2"] and n,
                      10, "media1 reporting more sessions than media2")
        cand_sock = _page(st, candidate_http, "app1")
        socks.append(cand_sock)
        asse_sock = _page(st, assessor, "app2")
        socks.append(asse_sock)
        assert cand_sock.call("join", {"session": public_id})["ok"] is True
        assert asse_sock.call("join", {"session": public_id})["ok"] is True

        cand = peers.candidate()
        ack = _connect(peers, cand_sock, "offer", public_id, cand)  # on app1
        assert ack["ok"], ack
        placed = registry.placement(public_id)
        assert placed == "media2", f"placed on {placed} with loads {loads}"
        viewer = peers.viewer()
        ack = _connect(peers, asse_sock, "offer", public_id, viewer)  # on app2
        assert ack["ok"], ack
        t = time.monotonic()
        assert _frames(peers, viewer, 30, 20), f"the assessor decoded {viewer.received.video_frames} video frames"
        first_30_s = time.monotonic() - t

        # media2's own /metrics: it holds the session and receives the candidate's video; media1 only its load
        m2 = _media_metrics(st, "media2")
        assert m2[("rtuk_media_sessions", ())] >= 1, m2
        assert m2[("rtuk_media_inbound_bitrate_bps", (("kind", "video"),))] > 0, m2
        stats = asse_sock.call("stats", {"session": public_id})
        assert stats["ok"] and stats["stats"]["candidate"]["state"] == "connected", stats
        _report("media-two-app-nodes", {
            "candidate_app_node": "app1", "assessor_app_node": "app2", "placed_on": placed,
            "loads_before": loads, "viewer_30_frames_s": round(first_30_s, 2),
            "media2_sessions": m2[("rtuk_media_sessions", ())],
            "media1_sessions": _media_metrics(st, "media1")[("rtuk_media_sessions", ())],
        })
    finally:
        for sock in socks:
            sock.close()
        peers.close()
        _unload(st, "media1", load)
    _wait(lambda: {x.name: x.sessions for x in registry.nodes()}.get("media1") == before, 10, "media1's load closed")


def test_kill_9_of_the_media_node_session_resumes_nothing_lost(running_stack, assessor, candidate_http,
                                                               live_session, tmp_path):  # noqa: F811
    st = running_stack
    public_id = live_session
    _all_media_ready(st)
    registry = _registry(st)
    peers = Peers()
    socks: list[SocketIO] = []
    client = _candidate(st, candidate_http, public_id, 40)
    client.start()
    figures: dict[str, Any] = {}
    try:
        cand_sock = _page(st, candidate_http, "app1")
        socks.append(cand_sock)
        asse_sock = _page(st, assessor, "app2")
        socks.append(asse_sock)
        assert cand_sock.call("join", {"session": public_id})["ok"] is True
        assert asse_sock.call("join", {"session": public_id})["ok"] is True
        assert _connect(peers, cand_sock, "offer", public_id, peers.candidate())["ok"]
        viewer = peers.viewer()
        assert _connect(peers, asse_sock, "offer", public_id, viewer)["ok"]
        assert _frames(peers, viewer, 20, 20), "no video at the assessor before the kill"
        held = registry.placement(public_id)
        assert held in MEDIA, held
        other = next(n for n in MEDIA if n != held)
        _wait(lambda: len(client.acked) >= 3, 30, "chunks acknowledged before the kill")

        pid = int(st.ctl("pid", held).strip())
        assert _heartbeat(st, held)["pid"] == pid
        acked_before = len(client.acked)
        killed = time.monotonic()
        t_kill = client.now()
        os.kill(pid, signal.SIGKILL)
        # the pages notice their media is gone (a browser's ICE turns "disconnected" after a few seconds without
        # packets); here: the killed process's heartbeat has expired (or a new process took the name)
        _wait(lambda: (hb := _heartbeat(st, held)) is None or hb["pid"] != pid, 10, f"{held}'s heartbeat gone")
        noticed_s = time.monotonic() - killed
        back_when_noticed = registry.alive(held)
        deadline = killed + RESUME_S + 20  # failing late is still failing; the figure says by how much
        _cand, cand_said = _reoffer(peers, cand_sock, public_id, peers.candidate, deadline)
        replaced_on = registry.placement(public_id)
        viewer2, view_said = _reoffer(peers, asse_sock, public_id, peers.viewer, deadline)
        assert _frames(peers, viewer2, 10, max(0.1, deadline - time.monotonic())), \
            f"no video at the assessor after the kill ({viewer2.received.video_frames} frames)"
        resumed_s = time.monotonic() - killed
        figures.update({
            "killed": held, "other": other, "replaced_on": replaced_on, "noticed_s": round(noticed_s, 2),
            "killed_node_back_when_noticed": back_when_noticed, "candidate_said": cand_said,
            "viewer_said": view_said, "video_again_s_after_kill": round(resumed_s, 2),
            "acked_before_kill": acked_before,
        })
        print(f"\nkill -9 {held}: video at the assessor again {resumed_s:.2f} s after the kill, session on "
              f"{replaced_on}")
        assert replaced_on in MEDIA, replaced_on
        assert resumed_s < RESUME_S, f"video flowed again only {resumed_s:.1f} s after the kill: {figures}"
        # the recording went on meanwhile, and after
        _wait(lambda: client.made >= 20, 60, "the recording going on")
        for sock in socks:
            sock.close()
        socks.clear()
        client.finish(DRAIN_TIMEOUT_S)
    finally:
        client.stop_recording()
        for sock in socks:
            sock.close()
        peers.close()
    figures.update(client.summary((t_kill, t_kill + figures["video_again_s_after_kill"])))
    # the killed node is back (supervisord restarted it) and ready; both app nodes ready
    t = time.monotonic()
    _all_media_ready(st)
    figures["killed_node_ready_s_after_drain"] = round(time.monotonic() - t, 1)
    figures["killed_node_new_pid"] = _heartbeat(st, figures["killed"])["pid"] != pid
    assert figures["killed_node_new_pid"], "the killed node's heartbeat is the old process's"
    _both_ready(st, 90)
    figures.update(_check_evidence(st, assessor, public_id, client, tmp_path))
    _report("media-node-kill-9", figures)
