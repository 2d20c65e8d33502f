"""The TOTP second factor: enrolment, verification, and no replay of a used code — even by two requests posted at the
same moment (issue 12 #8): a code is accepted by one conditional UPDATE of the user's last used time step."""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.accounts.services import LOCKOUT_THRESHOLD, LOCKOUT_WINDOW
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, TooManyAttempts, ValidationFailed


def start_enrolment(db: Session, user: User) -> str:
    """A fresh secret for the user to scan; it takes effect only once a code from it is confirmed."""
    if user.totp_enabled:
        raise Conflict("TOTP sudah aktif untuk akun ini.")
    user.totp_secret = pyotp.random_base32()
    db.commit()
    return user.totp_secret


def provisioning_uri(user: User, issuer: str) -> str:
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _matching_step(user: User, code: str, now: datetime) -> int | None:
    """The time step (now, or one either side for clock drift) whose code is *code*, if not already used."""
    if not user.totp_secret:
        return None
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(user.totp_secret)
    step_now = int(now.timestamp()) // totp.interval
    for step in (step_now - 1, step_now, step_now + 1):
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue  # used already (as far as this request knows; the UPDATE below decides)
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def _claim_step(db: Session, user: User, step: int) -> bool:
    """Record *step* as used unless it (or a later one) already is; true for exactly one of concurrent claims."""
    result = db.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    user.totp_last_step = step
    return True


def _accept_code(db: Session, user: User, code: str, now: datetime) -> bool:
    step = _matching_step(user, code, now)
    return step is not None and _claim_step(db, user, step)


def confirm_enrolment(db: Session, user: User, code: str, *, ip: str | None, now: datetime | None = None) -> None:
    if not _accept_code(db, user, code, now or utcnow()):
        raise ValidationFailed("Kode TOTP salah. Periksa jam perangkat Anda.", details={"code": "salah"})
    user.totp_enabled = True
    audit.record(db, audit.TOTP_ENROLLED, actor_id=user.id, subject=user.username, ip=ip)
    db.commit()


def verify(db: Session, user: User, code: str, *, ip: str | None, now: datetime | None = None) -> None:
    now = now or utcnow()
    if (
        audit.count_recent(db, audit.TOTP_FAILED, subject=user.username, window=LOCKOUT_WINDOW, now=now)
        >= LOCKOUT_THRESHOLD
    ):
        raise TooManyAttempts("Terlalu banyak kode salah. Coba lagi dalam 15 menit.")
    if not _accept_code(db, user, code, now):
        audit.record(db, audit.TOTP_FAILED, actor_id=user.id, subject=user.username, ip=ip, now=now)
        db.commit()
        raise ValidationFailed("Kode TOTP salah atau sudah dipakai.", details={"code": "salah"})
    db.commit()
