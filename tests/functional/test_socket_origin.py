"""Issue 12 #3: Socket.IO accepts a connection only from the app's own origin (or the configured public origin).

A page from another origin, opened by a signed-in assessor, must not be able to open a socket that carries the
assessor's cookie: the Engine.IO handshake is refused on both transports (polling and websocket), for every namespace
(namespaces share the one Engine.IO connection).
"""

from __future__ import annotations

import base64
import os
import socket

import pytest
import requests

from tests.functional.live_server import serving

HANDSHAKE = "/socket.io/?EIO=4&transport={transport}"


def _poll(base: str, origin: str | None, **headers: str) -> requests.Response:
    if origin is not None:
        headers["Origin"] = origin
    return requests.get(base + HANDSHAKE.format(transport="polling"), headers=headers, timeout=10)


class Refused(Exception):
    pass


def _websocket(base: str, origin: str) -> str:
    """A browser's websocket handshake from *origin* (Host with its port, as browsers send it); returns the first
    Engine.IO packet, or raises Refused with the HTTP status line."""
    host, port = base.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {HANDSHAKE.format(transport='websocket')} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in status:
            raise Refused(status)
        while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
            rest += sock.recv(4096)
        assert rest[0] == 0x81 and rest[1] < 126  # one unmasked text frame, short
        return rest[2 : 2 + rest[1]].decode()


@pytest.fixture
def served(app):
    with serving(app) as base:
        yield base


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "http://127.0.0.1.evil.example", "https://127.0.0.1", "http://localhost"],
)
def test_foreign_origin_is_refused_on_polling(served, origin):
    resp = _poll(served, origin)
    assert resp.status_code == 400
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_foreign_origin_is_refused_on_websocket(served):
    with pytest.raises(Refused):
        _websocket(served, "http://evil.example")


def test_same_origin_is_accepted_on_both_transports(served):
    resp = _poll(served, served)
    assert resp.status_code == 200 and resp.text.startswith("0{")  # the Engine.IO open packet
    assert _websocket(served, served).startswith("0{")
    # a client that sends no Origin (not a browser, so it cannot carry someone else's cookie) is not refused here
    assert _poll(served, None).status_code == 200


def test_forwarded_host_counts_only_behind_tls(app, served):
    """Without RTUK_BEHIND_TLS a client-supplied X-Forwarded-Host must not widen the allowed origins."""
    resp = _poll(served, "https://evil.example", **{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"})
    assert resp.status_code == 400


@pytest.fixture
def proxied_app(database, tmp_path):
    from config import load_settings
    from remote_tuk import create_app

    settings = load_settings(
        env="testing",
        database_url=database[0],
        var_dir=tmp_path / "var",
        behind_tls=True,
        public_origin="https://tuk.lsp.example",
    )
    app = create_app(settings)
    yield app
    app.extensions["rtuk_db"].dispose()


def test_behind_tls_the_forwarded_origin_and_the_public_origin_are_accepted(proxied_app):
    with serving(proxied_app) as base:
        forwarded = {"X-Forwarded-Host": "asesmen.lsp.example", "X-Forwarded-Proto": "https"}
        assert _poll(base, "https://asesmen.lsp.example", **forwarded).status_code == 200
        assert _poll(base, "https://tuk.lsp.example").status_code == 200
        assert _poll(base, "https://tuk.lsp.example:443").status_code == 200  # the default port is the same origin
        assert _poll(base, "http://tuk.lsp.example").status_code == 400  # another scheme is another origin
        assert _poll(base, "https://evil.example", **forwarded).status_code == 400
        with pytest.raises(Refused):
            _websocket(base, "https://evil.example")
        assert _websocket(base, "https://tuk.lsp.example").startswith("0{")
