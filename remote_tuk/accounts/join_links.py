"""Candidates' one-time join links (issue 12 #6).

Opening the link (GET, or HEAD from a chat app's preview or a mail scanner) only shows what it is for; a deliberate
POST from that page, CSRF-protected, redeems it. Redemption is one conditional UPDATE (``used_at IS NULL`` and not
expired) whose row count decides, so of any number of concurrent redemptions exactly one succeeds, on every backend.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import JoinLink, User
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import DomainError

_SALT = "rtuk.join-link.v1"
#: Longer tokens are not ours (a signed payload of a 32-character id is about 100 characters).
MAX_TOKEN_LENGTH = 400


class InvalidJoinLink(DomainError):
    status = 410
    code = "join_link_invalid"


_INVALID = "Tautan masuk tidak valid."
_USED = "Tautan masuk ini sudah dipakai. Minta tautan baru kepada admin LSP."
_EXPIRED = "Tautan masuk sudah kedaluwarsa. Minta tautan baru kepada admin LSP."


@dataclass(frozen=True)
class IssuedJoinLink:
    token: str
    expires_at: datetime
    #: the ``join_links`` row (what an e-mail invitation names instead of the token)
    link_id: int | None = None


def issue(
    db: Session, secret_key: str, *, session_id: int, candidate_id: int, created_by: User, ttl: timedelta
) -> IssuedJoinLink:
    jti = secrets.token_urlsafe(24)
    now = utcnow()
    link = JoinLink(
        jti=jti, session_id=session_id, candidate_id=candidate_id, created_by_id=created_by.id, expires_at=now + ttl
    )
    db.add(link)
    audit.record(db, audit.JOIN_LINK_CREATED, actor_id=created_by.id, session_id=session_id, candidate_id=candidate_id)
    db.commit()
    return IssuedJoinLink(token=token_for(secret_key, jti, session_id), expires_at=link.expires_at, link_id=link.id)


def token_for(secret_key: str, jti: str, session_id: int) -> str:
    """The signed link text for a link row (only its ``jti`` is stored: the e-mail sender makes the text again at
    sending time, so no link is ever kept in the database)."""
    return URLSafeTimedSerializer(secret_key, salt=_SALT).dumps({"j": jti, "s": session_id})


def _link_of(db: Session, secret_key: str, token: str) -> JoinLink | None:
    """The link a well-formed, correctly signed token names, or None."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = URLSafeTimedSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:  # SignatureExpired is a BadSignature too; expiry is the row's, checked below
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("j"), str) or len(payload["j"]) > 64:
        return None
    return db.scalar(select(JoinLink).where(JoinLink.jti == payload["j"]))


def _refusal(link: JoinLink | None, now: datetime) -> tuple[str, str] | None:
    if link is None:
        return "signature", _INVALID
    if link.used_at is not None:
        return "reused", _USED
    if link.expires_at <= now:
        return "expired", _EXPIRED
    return None


def inspect(db: Session, secret_key: str, token: str, *, now: datetime | None = None) -> JoinLink:
    """What the link is for, without using it (the page a GET or HEAD shows). Raises InvalidJoinLink."""
    link = _link_of(db, secret_key, token)
    refusal = _refusal(link, now or utcnow())
    if refusal is not None:
        raise InvalidJoinLink(refusal[1])
    assert link is not None
    return link


def redeem(db: Session, secret_key: str, token: str, *, ip: str | None, now: datetime | None = None) -> JoinLink:
    """Use the link once: marks it used and returns it; refusals are audited and raise InvalidJoinLink."""
    now = now or utcnow()
    link = _link_of(db, secret_key, token)
    if link is not None:
        claimed = db.execute(
            update(JoinLink)
            .where(JoinLink.id == link.id, JoinLink.used_at.is_(None), JoinLink.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            link.used_at = now
            audit.record(
                db, audit.JOIN_LINK_USED, actor_id=link.candidate_id, ip=ip, session_id=link.session_id, now=now
            )
            db.commit()
            return link
        db.rollback()
        db.refresh(link)  # someone else used it in between: say why as it stands now
    refusal = _refusal(link, now) or ("reused", _USED)
    audit.record(
        db, audit.JOIN_LINK_REFUSED, ip=ip, session_id=link.session_id if link else None, reason=refusal[0], now=now
    )
    db.commit()
    raise InvalidJoinLink(refusal[1])
