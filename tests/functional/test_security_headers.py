"""Issue 12 #11: the Content-Security-Policy lets pages talk only to their own origin."""

from __future__ import annotations


def _csp(resp) -> dict[str, list[str]]:
    out = {}
    for part in resp.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def test_csp_restricts_connections_forms_and_base(client, cast):
    csp = _csp(client.get("/masuk"))
    assert csp["connect-src"] == ["'self'"]  # 'self' covers ws:/wss: to the same host; a bare ws: is any host
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert not any(v in ("ws:", "wss:", "*", "'unsafe-inline'") for values in csp.values() for v in values)
