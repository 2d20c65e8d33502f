from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow
from remote_tuk.privacy.sealing import SealedText


class Role(enum.StrEnum):
    LSP_ADMIN = "lsp_admin"
    ASSESSOR = "asesor"
    CANDIDATE = "asesi"
    AUDITOR = "auditor"


ROLE_LABELS = {
    Role.LSP_ADMIN: "Admin LSP",
    Role.ASSESSOR: "Asesor",
    Role.CANDIDATE: "Asesi",
    Role.AUDITOR: "Auditor / Peninjau BNSP",
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(160))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: Bumped on password change, role change and deactivation: no cookie issued before still names this user.
    auth_version: Mapped[int] = mapped_column(Integer, default=1)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    #: Last accepted TOTP time step, so a code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    #: Assessor: MET registration number (nomor registrasi asesor).
    met_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: Candidate: national identity number (NIK, 16 digits), sealed with the candidate's key (docs/PRIVACY.md).
    nik: Mapped[str | None] = mapped_column(SealedText("users.nik"))
    #: Keyed hash of the NIK (set at flush): finds a NIK without storing it in clear; cleared by erasure.
    nik_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.auth_version}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


class JoinLink(Base):
    """A one-time link that signs a candidate into one assessment session."""

    __tablename__ = "join_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(43), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignIn(Base):
    """One sign-in: the server-side half of a session cookie (issue 12 #5).

    The signed cookie carries a random token; this row holds its SHA-256, so the database alone cannot be used to
    forge a cookie. A request is signed in only while its row is neither revoked (logout, password change, role
    change, deactivation) nor expired, so a copy of the cookie stops working the moment the row is revoked.
    """

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]
    #: Why it ended: logout, password_changed, role_changed, deactivated.
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
