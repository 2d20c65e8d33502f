"""Accounts: passwords (argon2id), login with lockout, user management. The second factor is in ``totp.py``,
candidates' join links in ``join_links.py``, server-side sign-ins in ``sign_ins.py``."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from remote_tuk.accounts import sign_ins
from remote_tuk.accounts.models import Role, User
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, DomainError, NotFound, TooManyAttempts, ValidationFailed
from remote_tuk.privacy.sealing import lookup_hash

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): ~15 ms per hash on this machine, so a burst of
# 50 sign-ins does not starve a 2-core media server; stored hashes with other parameters are upgraded at next login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A hash to verify against when the user does not exist, so timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

#: Roles that must use a second factor.
TOTP_ROLES = frozenset({Role.LSP_ADMIN, Role.ASSESSOR})
#: Failed logins for one username within the window before it is locked for the rest of the window.
LOCKOUT_THRESHOLD = 10
LOCKOUT_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str, *, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter.", details={"password": "terlalu pendek"}
        )
    if username and username.lower() in password.lower():
        raise ValidationFailed(
            "Kata sandi tidak boleh memuat nama pengguna.", details={"password": "memuat nama pengguna"}
        )


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password) and bool(
            user and user.password_hash
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(db: Session, username: str, password: str, *, ip: str | None, now: datetime | None = None) -> User:
    """Check a username and password; logs success and failure. Raises on failure or lockout."""
    now = now or utcnow()
    username = username.strip().lower()
    if (
        audit.count_recent(db, audit.LOGIN_FAILED, subject=username, window=LOCKOUT_WINDOW, now=now)
        >= LOCKOUT_THRESHOLD
    ):
        audit.record(db, audit.LOGIN_FAILED, subject=username, ip=ip, now=now, reason="locked")
        db.commit()
        raise TooManyAttempts("Terlalu banyak percobaan masuk untuk akun ini. Coba lagi dalam 15 menit.")
    user = db.scalar(select(User).where(User.username == username))
    if not verify_password(user, password) or user is None or not user.active:
        audit.record(db, audit.LOGIN_FAILED, subject=username, ip=ip, now=now, reason="bad_credentials")
        db.commit()
        raise InvalidCredentials("Nama pengguna atau kata sandi salah.")
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    return user


def change_password(db: Session, user: User, current: str, new: str, *, ip: str | None) -> None:
    if not verify_password(user, current):
        raise ValidationFailed("Kata sandi saat ini salah.", details={"current_password": "salah"})
    check_password_strength(new, username=user.username)
    user.password_hash = hash_password(new)
    user.auth_version += 1
    revoked = sign_ins.revoke_all(db, user, reason=sign_ins.PASSWORD_CHANGED)  # every session, this one too
    audit.record(db, audit.PASSWORD_CHANGED, actor_id=user.id, subject=user.username, ip=ip)
    db.commit()
    sign_ins.notify_revoked(revoked)


def needs_totp(user: User) -> bool:
    return user.role in TOTP_ROLES


# --- users ------------------------------------------------------------------------------------------------------


def get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("Pengguna tidak ditemukan.")
    return user


def create_user(
    db: Session,
    *,
    username: str,
    full_name: str,
    role: Role,
    password: str | None,
    created_by: User | None,
    email: str | None = None,
    phone: str | None = None,
    met_number: str | None = None,
    nik: str | None = None,
) -> User:
    username = username.strip().lower()
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("Nama pengguna sudah dipakai.", details={"username": "sudah dipakai"})
    if role is Role.ASSESSOR and not met_number:
        raise ValidationFailed("Asesor wajib memiliki nomor registrasi MET.", details={"met_number": "wajib diisi"})
    if role is Role.CANDIDATE and not nik:
        raise ValidationFailed("Asesi wajib memiliki NIK.", details={"nik": "wajib diisi"})
    if met_number and db.scalar(select(User.id).where(User.met_number == met_number)) is not None:
        raise Conflict("Nomor MET sudah terdaftar.", details={"met_number": "sudah terdaftar"})
    if nik and db.scalar(select(User.id).where(User.nik_hash == lookup_hash(db, "nik", nik))) is not None:
        raise Conflict("NIK sudah terdaftar.", details={"nik": "sudah terdaftar"})
    if password is not None:
        check_password_strength(password, username=username)
    user = User(
        username=username,
        full_name=full_name.strip(),
        role=role,
        email=email or None,
        phone=phone or None,
        met_number=met_number if role is Role.ASSESSOR else None,
        nik=nik if role is Role.CANDIDATE else None,
        password_hash=hash_password(password) if password else None,
    )
    db.add(user)
    db.flush()
    audit.record(
        db, audit.USER_CREATED, actor_id=created_by.id if created_by else None, subject=username, role=role.value
    )
    return user


def set_active(db: Session, user: User, active: bool, *, actor: User) -> None:
    if user.id == actor.id and not active:
        raise Conflict("Anda tidak dapat menonaktifkan akun Anda sendiri.")
    revoked: list[int] = []
    if user.active != active:
        user.active = active
        user.auth_version += 1
        if not active:
            revoked = sign_ins.revoke_all(db, user, reason=sign_ins.DEACTIVATED)
        audit.record(
            db, audit.USER_ACTIVATED if active else audit.USER_DEACTIVATED, actor_id=actor.id, subject=user.username
        )
    db.commit()
    sign_ins.notify_revoked(revoked)


def change_role(db: Session, user: User, role: Role, *, actor: User) -> None:
    if user.id == actor.id:
        raise Conflict("Anda tidak dapat mengubah peran Anda sendiri.")
    if role is Role.ASSESSOR and not user.met_number:
        raise ValidationFailed("Isi nomor registrasi MET sebelum menjadikan pengguna asesor.")
    if role is Role.CANDIDATE and not user.nik:
        raise ValidationFailed("Isi NIK sebelum menjadikan pengguna asesi.")
    revoked: list[int] = []
    if user.role != role:
        audit.record(
            db, audit.ROLE_CHANGED, actor_id=actor.id, subject=user.username, old=user.role.value, new=role.value
        )
        user.role = role
        user.auth_version += 1
        revoked = sign_ins.revoke_all(db, user, reason=sign_ins.ROLE_CHANGED)
        if role not in TOTP_ROLES:
            user.totp_enabled, user.totp_secret = False, None
    db.commit()
    sign_ins.notify_revoked(revoked)
