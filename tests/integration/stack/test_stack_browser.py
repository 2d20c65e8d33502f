"""A real Chromium live session through the stack: HTTPS through nginx (the browser trusts only the stack's server key)
and media relayed by coturn only (the pages' RTCPeerConnections are held to iceTransportPolicy 'relay', as a
UDP-blocking firewall would force). The assessor decodes the candidate's video at >= 25 fps over TURN.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import tests.e2e.conftest as e2e
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


@pytest.fixture
def stack_browser(running_stack, fake_devices) -> Iterator[Any]:  # noqa: F811
    from playwright.sync_api import sync_playwright

    pin = _spki_pin((running_stack.stack.dir / "tls" / "server.pem").read_bytes())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            *chromium_args(*fake_devices), f"--ignore-certificate-errors-spki-list={pin}"])
        try:
            yield browser
        finally:
            browser.close()


def test_chromium_session_through_proxy_and_turn_only(running_stack, stack_browser):
    st = running_stack
    base = st.url
    admin = dict(host="127.0.0.1", port=st.stack.port("pg"), user="postgres", dbname="rtuk")
    totp = pyotp.random_base32()
    with psycopg.connect(**admin) as conn:
        conn.execute("UPDATE users SET totp_secret = %s, totp_enabled = true WHERE username = 'asesor'", (totp,))
        sid, state = conn.execute("SELECT public_id, state FROM assessment_sessions ORDER BY id LIMIT 1").fetchone()
    satisfy_gate(st.stack.db_url, sid)

    pages = []
    for who in ("asesor", "asesi"):
        ctx = stack_browser.new_context()
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
    for page in (candidate, assessor):
        pair = wait_until(lambda p=page: p.evaluate(SELECTED_PAIR), 20, "a selected candidate pair")
        assert pair["local"] == "relay", pair  # every packet goes through coturn
        assert pair["remote"] == "host", pair  # to the app node's media engine

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
    second = look(assessor)
    assert (second["in_video"]["w"], second["in_video"]["h"]) == (640, 480), second
    assert max(windows) >= 25, f"assessor decoded {windows} fps over TURN: {second}"
    print(f"over TURN through the proxy: {max(windows)} fps at the assessor ({windows})")
