"""A real Chromium live session through the stack: HTTPS through nginx (the browsers trust only the stack's server
key) and the candidate's media relayed by coturn: over UDP with the page held to relayed candidates
(iceTransportPolicy 'relay'), and over TCP for a candidate in a network namespace whose UDP is dropped. The assessor
decodes the candidate's 640x480 video at >= 25 fps.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import tests.e2e.conftest as e2e
from tests.components import require
from tests.conftest import satisfy_gate
from tests.e2e.conftest import CHROMIUM, chromium_args, fake_devices, wait_until  # noqa: F401 - fixture
from tests.e2e.test_live_session import frames, look, open_live, wait_page

pytestmark = [pytest.mark.slow, pytest.mark.chromium, pytest.mark.postgres, pytest.mark.s3]

#: what a firewall that drops direct UDP leaves a browser: relayed candidates only
RELAY_ONLY = """(() => {
  const Native = window.RTCPeerConnection;
  function RelayOnly(config, ...rest) {
    return new Native(Object.assign({}, config || {}, {iceTransportPolicy: 'relay'}), ...rest);
  }
  RelayOnly.prototype = Native.prototype;
  Object.setPrototypeOf(RelayOnly, Native);
  window.RTCPeerConnection = RelayOnly;
})();"""

SELECTED_PAIR = """async () => {
  const pc = window.livePc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return {local: local.candidateType, relay_protocol: local.relayProtocol || '', remote: remote.candidateType,
          remote_address: remote.address};
}"""


#: a transition from inside the page (the browser trusts the stack's key; Playwright's own HTTP client would not)
TRANSITION = """async ([sid, to]) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const resp = await fetch(`/api/v1/sessions/${sid}/transition`, {method: 'POST', body: JSON.stringify({to}),
    headers: {'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': token}});
  return [resp.status, await resp.text()];
}"""


def _spki_pin(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@contextlib.contextmanager
def _password(value: str) -> Iterator[None]:
    """tests/e2e's sign_in types the test cast's password; the stack's demo accounts have their own."""
    saved = e2e.PASSWORD
    e2e.PASSWORD = value
    try:
        yield
    finally:
        e2e.PASSWORD = saved


def _launch(p: Any, st, devices, executable: str = CHROMIUM) -> Any:
    pin = _spki_pin((st.stack.dir / "tls" / "server.pem").read_bytes())
    return p.chromium.launch(executable_path=executable,
                             args=[*chromium_args(*devices), f"--ignore-certificate-errors-spki-list={pin}"])


def _live_session(st, assessor_browser: Any, candidate_browser: Any, relay_only: bool) -> tuple[dict, dict, list]:
    """Both sign in through the proxy (with *relay_only*, the candidate's page may use relayed candidates only), the
    assessor readies and starts the session; returns the selected ICE pairs
    (candidate, assessor) and the assessor's decoded frame rates over 4 s windows followed by the candidate's
    capture rate (a starved machine shows there first)."""
    base = st.url
    admin = dict(host="127.0.0.1", port=st.stack.port("pg"), user="postgres", dbname="rtuk")
    totp = pyotp.random_base32()
    with psycopg.connect(**admin) as conn:
        conn.execute("UPDATE users SET totp_secret = %s, totp_enabled = true WHERE username = 'asesor'", (totp,))
        sid, state = conn.execute("SELECT public_id, state FROM assessment_sessions ORDER BY id LIMIT 1").fetchone()
    satisfy_gate(st.stack.db_url, sid)

    pages = []
    for who, browser in (("asesor", assessor_browser), ("asesi", candidate_browser)):
        ctx = browser.new_context()
        if relay_only and who == "asesi":
            ctx.add_init_script(RELAY_ONLY)
        page = ctx.new_page()
        with _password(st.demo_password(who)):
            e2e.sign_in(page, base, who, totp if who == "asesor" else None)
        pages.append(page)
    assessor, candidate = pages
    for to in {"SCHEDULED": ["checking", "ready"], "CHECKING": ["ready"]}.get(state.upper(), []):
        status, body = assessor.evaluate(TRANSITION, [sid, to])
        assert status == 200, (to, status, body)

    open_live(candidate, base, sid)
    open_live(assessor, base, sid)
    wait_page(candidate, lambda s: s["pc"] == "connected", 60, "the candidate's connection over TURN")
    wait_page(assessor, lambda s: s["pc"] == "connected", 60, "the assessor's connection over TURN")
    pairs = [wait_until(lambda p=page: p.evaluate(SELECTED_PAIR), 20, "a selected candidate pair")
             for page in (candidate, assessor)]

    assessor.click("[data-action=start]")
    wait_page(assessor, lambda s: frames(s) > 30, 40, "decoded video at the assessor")
    time.sleep(2)
    windows = []
    for _ in range(4):
        a, t0 = look(assessor), time.monotonic()
        time.sleep(4)
        b = look(assessor)
        windows.append(round((frames(b) - frames(a)) / (time.monotonic() - t0), 1))
        if windows[-1] >= 25:
            break
    last = look(assessor)
    windows.append(look(candidate).get("capture_fps"))  # the candidate camera's own rate, last, for the messages
    assert (last["in_video"]["w"], last["in_video"]["h"]) == (640, 480), last
    _media_metrics_show_the_session(st)
    return pairs[0], pairs[1], windows


def _media_metrics_show_the_session(st) -> None:
    """The node holding the session's media reports it in /metrics: one session, video arriving, evidence appended.
    With media nodes (deploy/stack_setup.py ``MEDIA_NODES``) that is a media node, and no app node holds media."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families
    from stack_setup import APP_NODES, MEDIA_NODES  # deploy/ is on sys.path (conftest.py)

    auth = {"Authorization": f"Bearer {st.secrets['metrics_token']}"}
    per_node = {}
    for node in (*APP_NODES, *MEDIA_NODES):
        text = requests.get(f"{st.node_url(node)}/metrics", headers=auth, timeout=20).text
        per_node[node] = {(s.name, tuple(sorted(s.labels.items()))): s.value
                          for f in text_string_to_metric_families(text) for s in f.samples}
    holding = [n for n, m in per_node.items() if m[("rtuk_media_sessions", ())] == 1]
    assert len(holding) == 1, {n: m[("rtuk_media_sessions", ())] for n, m in per_node.items()}
    assert holding[0] in (MEDIA_NODES or APP_NODES), holding
    samples = per_node[holding[0]]
    # video arriving (the test's fake camera is a nearly still face: Chromium's encoder sent 39-96 kbit/s of it at
    # load 17, ~300 kbit/s on a quiet machine; the frame rate is asserted above)
    assert samples[("rtuk_media_inbound_bitrate_bps", (("kind", "video"),))] > 10_000, samples
    assert samples[("rtuk_media_inbound_bitrate_bps", (("kind", "audio"),))] > 0, samples
    appended = sum(v for (name, _), v in samples.items() if name == "rtuk_evidence_append_seconds_count")
    assert appended > 0, "no evidence append timed on the node holding the session"


def test_chromium_session_through_proxy_and_turn_udp_only(running_stack, fake_devices):  # noqa: F811
    """The candidate's page holds its RTCPeerConnection to relayed candidates (what a symmetric NAT leaves); the
    assessor connects as it can."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _launch(p, running_stack, fake_devices)
        try:
            cand, asse, windows = _live_session(running_stack, browser, browser, relay_only=True)
        finally:
            browser.close()
    assert cand["local"] == "relay" and cand["relay_protocol"] == "udp", cand  # every packet through coturn
    assert cand["remote"] == "host", cand  # to the app node's media engine
    *decoded, capture = windows
    print(f"candidate over TURN/UDP through the proxy: {max(decoded)} fps at the assessor ({decoded}, capture "
          f"{capture}); assessor pair {asse}")
    assert max(decoded) >= 25, f"assessor decoded {decoded} fps over TURN (candidate capture {capture} fps)"


def test_chromium_behind_a_udp_blocking_firewall_relays_over_tcp(tmp_path, fake_devices):  # noqa: F811
    """The candidate's Chromium runs in a network namespace whose UDP is dropped (a firewall that allows only TCP):
    its page reaches the stack through nginx over HTTPS and its media through coturn over TCP."""
    from playwright.sync_api import sync_playwright

    from tests.integration.stack.conftest import _BASE, started_stack

    require(e2e.netns_available(), "network namespaces", "run as root with iproute2")
    with e2e.NetNs(tmp_path) as ns:
        # policy routing: every UDP packet of the namespace goes to a table whose only route is a blackhole
        subprocess.run(["ip", "netns", "exec", ns.name, "ip", "rule", "add", "ipproto", "udp", "table", "100",
                        "priority", "100"], check=True)
        subprocess.run(["ip", "netns", "exec", ns.name, "ip", "route", "add", "blackhole", "default", "table",
                        "100"], check=True)
        with started_stack(_BASE + 400, host=ns.host_ip, listen=ns.host_ip) as st, sync_playwright() as p:
            assessor_browser = _launch(p, st, fake_devices)
            candidate_browser = _launch(p, st, fake_devices, executable=str(ns.wrapper))
            try:
                cand, asse, windows = _live_session(st, assessor_browser, candidate_browser, relay_only=False)
            finally:
                candidate_browser.close()
                assessor_browser.close()
    assert cand["local"] == "relay" and cand["relay_protocol"] in ("tcp", "tls"), cand
    *decoded, capture = windows
    print(f"candidate behind a UDP-blocking firewall, TURN/{cand['relay_protocol']}: {max(decoded)} fps at the "
          f"assessor ({decoded}, capture {capture}); assessor pair {asse}")
    assert max(decoded) >= 25, f"assessor decoded {decoded} fps over TURN/TCP (candidate capture {capture} fps)"
