from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow
from remote_tuk.privacy.sealing import SealedText


class PrivacyPolicy(Base):
    """The LSP's retention period (days after a candidate's last session closed; default from settings)."""

    __tablename__ = "privacy_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    lsp_id: Mapped[int] = mapped_column(ForeignKey("lsp.id", ondelete="CASCADE"), unique=True)
    retention_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PrivacyRequest(Base):
    """Something the LSP must act on for a data subject, with its deadline (a withdrawal: 3 × 24 hours)."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: withdrawal
    kind: Mapped[str] = mapped_column(String(16))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="SET NULL"))
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("consent_withdrawals.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    #: When the product itself stopped processing (a withdrawal: at once); None if it could not.
    processing_stopped_at: Mapped[datetime | None]
    #: open | handled
    status: Mapped[str] = mapped_column(String(12), default="open")
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The LSP's note on how it was handled (may name the person: sealed).
    handled_note: Mapped[str] = mapped_column(SealedText("privacy_requests.handled_note"), default="")


class Erasure(Base):
    """A candidate's data was erased: evidence keys and the database key shredded (one per candidate)."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: When the retention period ended (or would end) for this candidate.
    retention_end: Mapped[datetime]
    #: The LSP's written legal reason, required before the retention period ends (kept: it justifies the erasure).
    legal_reason: Mapped[str] = mapped_column(Text, default="")
    #: The ``key_shred`` entries logged by the evidence store: [{"session": …, "log_index": …, "entry_hash": …}]
    shred_entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
