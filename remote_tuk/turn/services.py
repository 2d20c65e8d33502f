"""Time-limited TURN credentials (draft-uberti-behave-turn-rest-00, coturn's ``use-auth-secret``).

The app and coturn share one secret. A credential is ``username = "<expiry unix time>:<user id>"`` and
``password = base64(HMAC-SHA1(secret, username))``; coturn recomputes the password from the username, refuses it once
the expiry has passed, and stores nothing. The user id is opaque (``u<user id>.<session public id>``): it appears in
coturn's logs, so it carries no name or NIK, but it lets an operator match a relay to a session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from config.settings import Settings, TurnSettings


class _User(Protocol):
    id: int


class _Session(Protocol):
    public_id: str


@dataclass(frozen=True)
class TurnCredential:
    username: str
    password: str
    expires_at: int  # unix time


def turn_credential(secret: str, user: str, expires_at: int) -> TurnCredential:
    """The TURN REST API credential of *user* valid until *expires_at* (unix seconds)."""
    if not secret:
        raise ValueError("TURN shared secret is empty")
    if ":" in user:
        raise ValueError("a TURN REST user id must not contain ':' (coturn's separator)")
    username = f"{int(expires_at)}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), int(expires_at))


def turn_server(turn: TurnSettings, user: str, now: datetime) -> dict[str, Any]:
    """One RTCIceServer dict with the configured TURN URLs and a credential for *user* valid from *now* for the TTL."""
    cred = turn_credential(turn.secret, user, int(now.timestamp()) + turn.ttl_s)
    return {"urls": list(turn.urls), "username": cred.username, "credential": cred.password}


def ice_servers_for(
    settings: Settings, user: _User, session: _Session, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The RTCIceServer list a page gets: the static ``RTUK_RTC_ICE_SERVERS`` (e.g. STUN) plus, when TURN is
    configured, the TURN URLs with a fresh time-limited credential for this user in this session."""
    servers = [dict(entry) for entry in settings.rtc.ice_servers]
    if settings.turn.enabled:
        servers.append(turn_server(settings.turn, f"u{user.id}.{session.public_id}", now or datetime.now(UTC)))
    return servers
