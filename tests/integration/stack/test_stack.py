"""`make stack` on loopback: HTTPS through nginx trusting the local CA, sign-in, Socket.IO across the two app nodes
through Redis, TURN credentials against the real coturn, metrics per node, readiness following Redis and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import time
from typing import Any

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]


# --- helpers -----------------------------------------------------------------------------------------------------


def _sign_in(st, username: str, route: str) -> requests.Session:
    """A browser-like session signed in through the proxy, pinned to one app node by the route cookie."""
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
    http.verify = st.ca
    http.cookies.set("rtuk_route", route, domain="localhost.local", path="/")
    page = http.get(f"{st.url}/masuk", timeout=10)
    assert page.status_code == 200
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    resp = http.post(f"{st.url}/masuk", data={"username": username, "password": st.demo_password(username),
                                                "csrf_token": token},
                     headers={"Referer": f"{st.url}/masuk"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    return http


def _csrf(http: requests.Session, st, path: str = "/asesi") -> str:
    page = http.get(f"{st.url}{path}", timeout=10)
    assert page.status_code == 200, (path, page.status_code)
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


class SocketIO:
    """Just enough of the Socket.IO v5 / Engine.IO v4 protocol over a real WebSocket through the proxy."""

    def __init__(self, st, cookies: dict[str, str], namespace: str):
        import simple_websocket

        ctx = ssl.create_default_context(cafile=st.ca)
        host = st.url.split("://", 1)[1]
        self.ns = namespace
        self.ws = simple_websocket.Client.connect(
            f"wss://{host}/socket.io/?EIO=4&transport=websocket",
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "Origin": st.url},
            ssl_context=ctx,
        )
        opening = self.ws.receive(timeout=10)
        assert opening and opening.startswith("0"), opening
        self.ws.send(f"40{namespace},")
        reply = self._next(lambda p: p.startswith(f"40{namespace},") or p.startswith(f"44{namespace},"))
        assert reply.startswith(f"40{namespace},"), f"namespace refused: {reply}"
        self.acks = 0

    def _next(self, want, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            packet = self.ws.receive(timeout=max(0.1, deadline - time.monotonic()))
            if packet is None:
                continue
            if packet == "2":  # Engine.IO ping
                self.ws.send("3")
                continue
            if want(packet):
                return packet
        raise AssertionError(f"no matching packet on {self.ns} within {timeout} s")

    def call(self, event: str, data: Any) -> Any:
        self.acks += 1
        n = self.acks
        self.ws.send(f"42{self.ns},{n}" + json.dumps([event, data]))
        packet = self._next(lambda p: p.startswith(f"43{self.ns},{n}["))
        return json.loads(packet[len(f"43{self.ns},{n}"):])[0]

    def wait_event(self, event: str, timeout: float = 15.0) -> Any:
        prefix = f"42{self.ns},"
        packet = self._next(lambda p: p.startswith(prefix) and json.loads(p[len(prefix):])[0] == event, timeout)
        return json.loads(packet[len(prefix):])[1]

    def close(self) -> None:
        """Shut the socket down, wait for simple_websocket's reader thread to end, then close it. (``Client.close``
        closes the socket under the reader blocked in ``recv``; its TLS object keeps the old descriptor number and
        reads from whatever socket the process opens next with it, e.g. a PostgreSQL connection.)"""
        import socket

        with contextlib.suppress(OSError):
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        self.ws.thread.join(timeout=10)
        assert not self.ws.thread.is_alive(), "the WebSocket reader thread did not end"
        self.ws.sock.close()


def _demo_session(st) -> str:
    with psycopg.connect(host="127.0.0.1", port=st.stack.port("pg"), user="postgres", dbname="rtuk") as conn:
        return conn.execute("SELECT public_id FROM assessment_sessions ORDER BY id LIMIT 1").fetchone()[0]


def _ready(st, node: str) -> tuple[int, dict[str, Any]]:
    resp = requests.get(f"{st.node_url(node)}/readyz", timeout=10)
    return resp.status_code, {c["name"]: c for c in resp.json()["checks"]}


def _wait(predicate, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


# --- the tests ---------------------------------------------------------------------------------------------------


def test_https_through_the_proxy_with_the_local_ca(running_stack):
    st = running_stack
    nodes = {requests.get(f"{st.url}/healthz", cookies={"rtuk_route": st.route_to(n)}, verify=st.ca,
                          timeout=5).json()["node"] for n in ("app1", "app2")}
    assert nodes == {"app1", "app2"}
    for node in ("app1", "app2"):
        resp = requests.get(f"{st.url}/readyz", cookies={"rtuk_route": st.route_to(node)}, verify=st.ca, timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.json()["node"] == node
        checks = {c["name"]: c["status"] for c in resp.json()["checks"]}
        assert checks["database"] == checks["socketio_queue"] == checks["ratelimit_storage"] == "ok"
        assert checks["evidence_log"] == checks["evidence_objects"] == "ok"
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # an untrusted client is refused, plain HTTP is redirected to HTTPS, /metrics never leaves through the proxy
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{st.url}/healthz", timeout=5)
    plain = requests.get(f"http://127.0.0.1:{st.stack.port('http')}/masuk", allow_redirects=False, timeout=5)
    assert plain.status_code == 308 and plain.headers["Location"].startswith("https://")
    assert requests.get(f"{st.url}/metrics", verify=st.ca, timeout=5).status_code == 404


def test_sign_in_and_pages_on_both_nodes(running_stack):
    st = running_stack
    for node in ("app1", "app2"):
        http = _sign_in(st, "asesi", st.route_to(node))
        page = http.get(f"{st.url}/asesi", timeout=10)
        assert page.status_code == 200 and "Uji Kompetensi Jarak Jauh" in page.text
        # the signed session is valid on the other node too (nothing about it is kept in one process)
        other = "app2" if node == "app1" else "app1"
        http.cookies.set("rtuk_route", st.route_to(other), domain="localhost.local", path="/")
        assert http.get(f"{st.url}/asesi", timeout=10).status_code == 200


def test_live_page_pins_its_session_to_one_node(running_stack):
    st = running_stack
    public_id = _demo_session(st)
    http = _sign_in(st, "asesi", st.route_to("app1"))
    resp = http.get(f"{st.url}/sesi/{public_id}/pemeriksaan", timeout=10)
    assert resp.status_code == 200
    assert f"rtuk_route={public_id}" in resp.headers.get("Set-Cookie", "")
    data = json.loads(re.search(r"data-tuk='([^']*)'", resp.text).group(1).replace("&#34;", '"'))
    turn = [s for s in data["ice_servers"] if any(u.startswith("turn") for u in s["urls"])]
    assert turn and turn[0]["username"].endswith(f".{public_id}")
    # every browser of this session now reaches the same node, whichever node served the page
    nodes = {requests.get(f"{st.url}/healthz", cookies={"rtuk_route": public_id}, verify=st.ca,
                          timeout=5).json()["node"] for _ in range(6)}
    assert len(nodes) == 1


def test_socketio_state_broadcast_reaches_the_other_node_through_redis(running_stack):
    st = running_stack
    public_id = _demo_session(st)
    to_1, to_2 = st.route_to("app1"), st.route_to("app2")
    follower = _sign_in(st, "asesi", to_1)
    sock = SocketIO(st, {"rtuk_session": follower.cookies.get("rtuk_session"), "rtuk_route": to_1}, "/sesi")
    try:
        ack = sock.call("follow", {"session": public_id})
        assert ack["ok"] is True, ack
        assert ack["state"] == "scheduled"
        # the candidate's own HTTP request lands on app2, whose broadcast must reach the socket held by app1
        actor = _sign_in(st, "asesi", to_2)
        token = _csrf(actor, st)
        assert requests.get(f"{st.url}/healthz", cookies={"rtuk_route": to_2}, verify=st.ca,
                            timeout=5).json()["node"] == "app2"
        resp = actor.post(f"{st.url}/api/v1/sessions/{public_id}/transition", json={"to": "checking"},
                          headers={"X-CSRFToken": token, "Referer": f"{st.url}/asesi", "Accept": "application/json"},
                          timeout=10)
        assert resp.status_code == 200, resp.text
        event = sock.wait_event("state")
        assert event["session"] == public_id and event["state"] == "checking"
    finally:
        sock.close()


def test_socketio_long_polling_handshake_through_the_proxy(running_stack):
    st = running_stack
    resp = requests.get(f"{st.url}/socket.io/?EIO=4&transport=polling", verify=st.ca, timeout=10,
                        cookies={"rtuk_route": st.route_to("app2")})
    assert resp.status_code == 200 and resp.text.startswith("0{"), resp.text[:200]


# --- TURN ---------------------------------------------------------------------------------------------------------


def _allocate(st, username: str, password: str, transport: str, tls: bool = False) -> tuple[str, int]:
    from aioice import turn

    async def run() -> tuple[str, int]:
        ctx = ssl.create_default_context(cafile=st.ca) if tls else None
        port = st.stack.port("turns" if tls else "turn")
        tr, _proto = await asyncio.wait_for(
            turn.create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", port), username, password,
                                      ssl=ctx, transport=transport),
            timeout=10,
        )
        try:
            return tr.get_extra_info("sockname")
        finally:
            tr.close()

    return asyncio.run(run())


@pytest.mark.parametrize(("transport", "tls"), [("udp", False), ("tcp", False), ("tcp", True)])
def test_turn_allocates_with_an_issued_credential(running_stack, transport, tls):
    from config.settings import TurnSettings
    from remote_tuk.turn.services import turn_server

    st = running_stack
    server = turn_server(TurnSettings(urls=["turn:localhost:1"], secret=st.secrets["turn_secret"], ttl_s=600),
                         "u1.SES-test", __import__("datetime").datetime.now(__import__("datetime").UTC))
    relayed = _allocate(st, server["username"], server["credential"], transport, tls)
    assert relayed[0] == "127.0.0.1"
    assert st.stack.port("relay_min") <= relayed[1] <= st.stack.port("relay_max")


@pytest.mark.parametrize("case", ["expired", "forged", "other_secret"])
def test_turn_refuses_expired_and_forged_credentials(running_stack, case):
    from remote_tuk.turn.services import turn_credential

    st = running_stack
    secret = st.secrets["turn_secret"]
    now = int(time.time())
    if case == "expired":
        cred = turn_credential(secret, "u1.SES-test", now - 60)
        username, password = cred.username, cred.password
    elif case == "forged":  # a valid credential's password under a longer expiry
        good = turn_credential(secret, "u1.SES-test", now + 600)
        username, password = f"{now + 86400 * 30}:u1.SES-test", good.password
    else:
        cred = turn_credential("not-the-secret-" + secret, "u1.SES-test", now + 600)
        username, password = cred.username, cred.password
    with pytest.raises(Exception) as refused:
        _allocate(st, username, password, "udp")
    assert "401" in str(refused.value) or "Unauthorized" in str(refused.value), repr(refused.value)


# --- metrics and readiness ----------------------------------------------------------------------------------------


def test_metrics_on_each_node_parse(running_stack):
    st = running_stack
    auth = {"Authorization": f"Bearer {st.secrets['metrics_token']}"}
    for node in ("app1", "app2"):
        assert requests.get(f"{st.node_url(node)}/metrics", timeout=10).status_code == 401
        resp = requests.get(f"{st.node_url(node)}/metrics", headers=auth, timeout=10)
        assert resp.status_code == 200
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(resp.text) for s in f.samples}
        assert samples[("rtuk_node_info", (("node", node),))] == 1
        assert sum(v for (name, _), v in samples.items() if name == "rtuk_sessions") >= 1
        assert samples[("rtuk_evidence_spool_depth", ())] == 0


def test_readiness_follows_redis_and_postgresql(running_stack):
    st = running_stack
    assert _ready(st, "app1")[0] == 200
    st.ctl("stop", "redis")
    try:
        _status, checks = _wait(lambda: (r := _ready(st, "app1"))[0] == 503 and r, 20, "app1 unready without Redis")
        assert checks["socketio_queue"]["status"] == "failed" and checks["database"]["status"] == "ok"
        assert requests.get(f"{st.node_url('app2')}/healthz", timeout=5).status_code == 200  # alive, not ready
    finally:
        st.ctl("start", "redis")
    _wait(lambda: _ready(st, "app1")[0] == 200, 30, "app1 ready again with Redis back")
    _broadcasts_reach_both_nodes(st)
    st.ctl("stop", "postgres")
    try:
        _status, checks = _wait(lambda: (r := _ready(st, "app2"))[0] == 503 and r, 30, "app2 unready without PG")
        assert checks["database"]["status"] == "failed" and checks["socketio_queue"]["status"] == "ok"
    finally:
        st.ctl("start", "postgres")
    for node in ("app1", "app2"):
        _wait(lambda n=node: _ready(st, n)[0] == 200, 60, f"{node} ready again with PostgreSQL back")


def _broadcasts_reach_both_nodes(st) -> None:
    """A message published to the Socket.IO queue reaches a follower on each node: their Redis listeners
    subscribed again by themselves after Redis came back."""
    import socketio

    public_id = _demo_session(st)
    socks = []
    try:
        for node in ("app1", "app2"):
            route = st.route_to(node)
            http = _sign_in(st, "asesi", route)
            sock = SocketIO(st, {"rtuk_session": http.cookies.get("rtuk_session"), "rtuk_route": route}, "/sesi")
            assert sock.call("follow", {"session": public_id})["ok"] is True
            socks.append(sock)
        publisher = socketio.RedisManager(f"redis://127.0.0.1:{st.stack.port('redis')}/0", channel="flask-socketio",
                                          write_only=True)
        for sock in socks:
            def received(sock=sock):
                publisher.emit("redis-back", {"n": 1}, room=f"session:{public_id}", namespace="/sesi")
                try:
                    return sock.wait_event("redis-back", timeout=2)
                except AssertionError:
                    return None
            _wait(received, 90, "a queued broadcast after Redis came back")
    finally:
        for sock in socks:
            sock.close()


def test_object_store_outage_degrades_without_taking_nodes_out(running_stack):
    st = running_stack
    st.ctl("stop", "s3")
    try:
        def degraded():
            status, checks = _ready(st, "app1")
            return status == 200 and checks["evidence_objects"]["status"] == "degraded" and checks
        checks = _wait(degraded, 30, "app1 ready with the object store degraded")
        assert checks["evidence_log"]["status"] == "ok"
    finally:
        st.ctl("start", "s3")
    _wait(lambda: _ready(st, "app1")[1]["evidence_objects"]["status"] == "ok", 90, "the object store back")
