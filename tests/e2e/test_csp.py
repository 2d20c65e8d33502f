"""Issue 12 #11 in Chromium: the Content-Security-Policy lets a page open a websocket to its own host and to no
other (``connect-src 'self'``; the former ``ws: wss:`` allowed any host)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

OPEN_SOCKET = """async (url) => {
  const blocked = [];
  document.addEventListener('securitypolicyviolation', e => blocked.push(e.violatedDirective + ' ' + e.blockedURI));
  const outcome = await new Promise(resolve => {
    let ws;
    try { ws = new WebSocket(url); } catch (err) { resolve('thrown ' + err.name); return; }
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('error');
    setTimeout(() => resolve('timeout'), 10000);
  });
  await new Promise(r => setTimeout(r, 200));  // violation events are dispatched asynchronously
  return {outcome, blocked};
}"""


def test_websocket_to_own_host_only(make_server: Any, browser: Any) -> None:
    server = make_server()
    page = browser.new_page()
    sign_in(page, server.url(), "asesi_a")
    own = server.url().replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    result = page.evaluate(OPEN_SOCKET, own)
    assert result == {"outcome": "open", "blocked": []}
    other = f"ws://127.0.0.2:{server.port}/socket.io/?EIO=4&transport=websocket"
    result = page.evaluate(OPEN_SOCKET, other)
    assert result["outcome"] != "open"
    assert any(b.startswith("connect-src") for b in result["blocked"]), result
