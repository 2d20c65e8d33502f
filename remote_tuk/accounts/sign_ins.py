"""Server-side sign-ins (issue 12 #5): created at sign-in, checked on every request and socket event, revoked by
logout, password change, role change and deactivation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from remote_tuk import access
from remote_tuk.accounts.models import SignIn, User
from remote_tuk.db import utcnow

LOGOUT = "logout"
PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a password
ROLE_CHANGED = "role_changed"
DEACTIVATED = "deactivated"
#: Ended sign-ins are kept this long (who was signed in from where, recently), then removed at the user's next sign-in.
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True)
class Started:
    #: Goes into the signed session cookie; only its hash is stored.
    token: str
    sign_in: SignIn


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Session, user: User, *, lifetime: timedelta, ip: str | None, now: datetime | None = None) -> Started:
    """Record a new sign-in of *user* (flushed with the caller's transaction); forgets their long-ended ones."""
    now = now or utcnow()
    db.execute(
        delete(SignIn).where(
            SignIn.user_id == user.id,
            SignIn.expires_at < now - KEEP_ENDED,
        )
    )
    token = secrets.token_urlsafe(32)
    row = SignIn(token_sha256=_digest(token), user_id=user.id, created_at=now, expires_at=now + lifetime, ip=ip)
    db.add(row)
    db.flush()
    return Started(token, row)


def find_active(db: Session, token: object, user_id: int, now: datetime | None = None) -> SignIn | None:
    """The sign-in behind *token* if it belongs to *user_id* and is neither revoked nor expired."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    row = db.scalar(select(SignIn).where(SignIn.token_sha256 == _digest(token)))
    if row is None or row.user_id != user_id or row.revoked_at is not None or row.expires_at <= (now or utcnow()):
        return None
    return row


def revoke(db: Session, sign_in_id: int, *, reason: str, now: datetime | None = None) -> list[int]:
    """End one sign-in (flushed with the caller's transaction); returns it if it was still active."""
    return _revoke(db, SignIn.id == sign_in_id, reason, now)


def revoke_all(db: Session, user: User, *, reason: str, now: datetime | None = None) -> list[int]:
    """End every active sign-in of *user*; returns their ids."""
    return _revoke(db, SignIn.user_id == user.id, reason, now)


def _revoke(db: Session, which: object, reason: str, now: datetime | None) -> list[int]:
    now = now or utcnow()
    stmt = (
        update(SignIn)
        .where(which, SignIn.revoked_at.is_(None), SignIn.expires_at > now)  # type: ignore[arg-type]
        .values(revoked_at=now, revoked_reason=reason)
        .returning(SignIn.id)
    )
    return list(db.scalars(stmt))


def notify_revoked(ids: list[int]) -> None:
    """After the commit: sockets opened under these sign-ins are disconnected."""
    access.changed(sign_ins=ids)
