"""The live page and the TUK check page hand the browser a fresh TURN credential when TURN is configured."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from html import unescape

import pytest

from config import load_settings
from tests.conftest import login

SECRET = "functional-turn-secret-0123456789abcdef"
URLS = ["turn:turn.lsp.example:3478?transport=udp", "turns:turn.lsp.example:443?transport=tcp"]


@pytest.fixture
def turn_app(database, tmp_path):
    from remote_tuk import create_app
    from remote_tuk.extensions import limiter

    settings = load_settings(env="testing", database_url=database[0], var_dir=tmp_path / "var",
                             turn={"urls": URLS, "secret": SECRET, "ttl_s": 900})
    app = create_app(settings)
    limiter.reset()
    yield app
    app.extensions["rtuk_evidence"].close()
    app.extensions["rtuk_db"].dispose()


def _page_data(html: str, attr: str) -> dict:
    match = re.search(attr + r"='([^']*)'", html)
    assert match, f"no {attr} on the page"
    return json.loads(unescape(match.group(1)))


@pytest.mark.parametrize(("path", "attr"), [("/sesi/{s}/langsung", "data-live"), ("/sesi/{s}/pemeriksaan", "data-tuk")])
def test_pages_carry_a_time_limited_turn_credential(turn_app, database, path, attr):
    cast = database[1]
    client = turn_app.test_client()
    login(client, cast, "asesi_a")
    before = int(time.time())
    resp = client.get(path.format(s=cast.session_a))
    assert resp.status_code == 200
    servers = _page_data(resp.get_data(as_text=True), attr)["ice_servers"]
    turn = [s for s in servers if s.get("urls") == URLS]
    assert len(turn) == 1, servers
    username, password = turn[0]["username"], turn[0]["credential"]
    expiry, user = username.split(":", 1)
    assert before + 900 <= int(expiry) <= int(time.time()) + 900
    assert user == f"u{cast.users['asesi_a']}.{cast.session_a}"
    assert password == base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()
