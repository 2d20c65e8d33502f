from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow
from remote_tuk.privacy.sealing import SealedText


class ConsentTextVersion(Base):
    """One version of a consent text of the LSP. A draft may change; a published version never does (the service
    refuses), and the latest published version of a kind is the one candidates are shown."""

    __tablename__ = "consent_text_versions"
    __table_args__ = (UniqueConstraint("lsp_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lsp_id: Mapped[int] = mapped_column(ForeignKey("lsp.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: draft | published
    status: Mapped[str] = mapped_column(String(12))
    #: What changed and why (the LSP's note; shown in the history).
    note: Mapped[str] = mapped_column(Text, default="")
    #: SHA-256 of kind, version, title and body (``ConsentText.sha256``), set when published.
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ConsentForm(Base):
    """FR.AK.01 as signed for one session: its fields (TUK and declared location, names, date, evidence to be
    collected), the hash both parties sign, the candidate's signature and the assigned assessor's co-signature."""

    __tablename__ = "consent_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), unique=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text_version: Mapped[int] = mapped_column(Integer)
    text_sha256: Mapped[str] = mapped_column(String(64))
    #: The form's fields as canonical JSON (names and the declared location are personal: sealed).
    fields_json: Mapped[str] = mapped_column(SealedText("consent_forms.fields_json"))
    #: SHA-256 of the canonical JSON of {text_sha256, fields}: what the candidate and the assessor sign.
    form_sha256: Mapped[str] = mapped_column(String(64))
    candidate_signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    candidate_log_index: Mapped[int] = mapped_column(Integer)
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assessor_signed_at: Mapped[datetime | None]
    assessor_log_index: Mapped[int | None] = mapped_column(Integer)


class ConsentWithdrawal(Base):
    """The candidate withdrew consent for a session: processing stopped and the session was cancelled."""

    __tablename__ = "consent_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), unique=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The candidate's optional reason (sealed).
    reason: Mapped[str] = mapped_column(SealedText("consent_withdrawals.reason"), default="")
    #: The session state when consent was withdrawn.
    state_before: Mapped[str] = mapped_column(String(16))
    log_index: Mapped[int] = mapped_column(Integer)
