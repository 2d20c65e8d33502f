"""Which browser origins may open a Socket.IO connection (issue 12 #3).

python-engineio checks the ``Origin`` header of every handshake, on polling and on websocket, before any namespace is
involved; ``cors_allowed_origins=[]`` turns that check *off*. The policy here is the same-origin rule browsers apply to
the HTTP pages: the origin the request was addressed to (scheme and ``Host``, which behind a TLS proxy come from
``X-Forwarded-Proto``/``X-Forwarded-Host`` through ProxyFix, and only then), plus the configured public origin.
A request without ``Origin`` is not from a browser page and cannot ride anyone's cookie; it is let through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def parse_origin(text: str) -> Origin | None:
    """``(scheme, host, port)`` of a serialised origin, the default port filled in; None for anything else."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    if parts.username is not None or parts.password is not None or parts.fragment:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def own_origin(environ: Mapping[str, Any]) -> Origin | None:
    """The origin this request was addressed to."""
    host = environ.get("HTTP_HOST") or ""
    return parse_origin(f"{environ.get('wsgi.url_scheme', 'http')}://{host}") if host else None


def origin_policy(public_origin: str = "") -> Callable[[str | None, Mapping[str, Any]], bool]:
    """The ``cors_allowed_origins`` callable for Engine.IO: own origin or *public_origin*, nothing else."""
    configured = parse_origin(public_origin) if public_origin else None

    def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if origin is None:
            return True
        theirs = parse_origin(origin)
        return theirs is not None and theirs in (own_origin(environ), configured)

    return allowed
