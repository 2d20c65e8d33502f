from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow


class SourceLink(Base):
    """A short-lived, single-use link that lets a phone join a session as its second camera (no account, no
    password). Only the SHA-256 of the random token is stored; the row holds the expiry and the time of use, and a
    conditional UPDATE lets exactly one opening redeem it."""

    __tablename__ = "source_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(8), default="phone")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: random id the phone keeps in its signed cookie once the link is used (never the token)
    grant: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SourceChunk(Base):
    """One MediaRecorder chunk of an extra source (``stream`` "phone" or "screen"): its own numbering per stream, so
    it never collides with the webcam's ``recording_chunks``. Claimed in the database before the evidence log."""

    __tablename__ = "source_chunks"
    __table_args__ = (UniqueConstraint("session_id", "stream", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    stream: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str | None] = mapped_column(String(255))
    log_index: Mapped[int | None] = mapped_column(Integer)
    client_start_ms: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
