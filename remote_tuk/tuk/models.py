from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow
from remote_tuk.privacy.sealing import SealedText


class RequirementProfileRecord(Base):
    """A TUK requirement profile set by the LSP (``config.TukRequirementProfile`` as JSON)."""

    __tablename__ = "requirement_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SchemeProfile(Base):
    """A scheme's own requirement profile (overrides the LSP default)."""

    __tablename__ = "scheme_profiles"

    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("requirement_profiles.id", ondelete="CASCADE"))


class Consent(Base):
    """A candidate's answer to one versioned consent text (FR.AK.01, or personal data under UU PDP)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    text_sha256: Mapped[str] = mapped_column(String(64))
    accepted: Mapped[bool]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(SealedText("consents.ip"))  # sealed: docs/PRIVACY.md
    log_index: Mapped[int | None] = mapped_column(Integer)


class TukCheck(Base):
    """One run of the remote TUK check by the candidate (or the assessor's own connection check)."""

    __tablename__ = "tuk_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: key -> {"value": ..., "source": "server"|"browser", "at": iso time}
    measurements: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    passed: Mapped[bool | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    log_index: Mapped[int | None] = mapped_column(Integer)


class TukOverride(Base):
    """An assessor accepted a failed requirement, with a written reason."""

    __tablename__ = "tuk_overrides"
    __table_args__ = (UniqueConstraint("check_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("tuk_checks.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)


class IdentityCheck(Base):
    """The KTP snapshot and the room scan of a session, and the assessor's confirmations."""

    __tablename__ = "identity_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), unique=True)
    ktp_object: Mapped[str | None] = mapped_column(String(255))
    ktp_at: Mapped[datetime | None]
    room_object: Mapped[str | None] = mapped_column(String(255))
    room_at: Mapped[datetime | None]
    id_confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    id_confirmed_at: Mapped[datetime | None]
    id_note: Mapped[str] = mapped_column(Text, default="")
    room_confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    room_confirmed_at: Mapped[datetime | None]
    room_note: Mapped[str] = mapped_column(Text, default="")
