from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.accounts.models import User
from remote_tuk.db import Base, utcnow


class DossierDeclarations(Base):
    """What only the LSP can declare for its SOP dossier (one row): the letter, where servers and backups are."""

    __tablename__ = "dossier_declarations"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_number: Mapped[str] = mapped_column(String(120), default="")
    letter_date: Mapped[date | None]
    letter_place: Mapped[str] = mapped_column(String(120), default="")
    #: Scheme codes proposed for remote assessment; empty = every scheme.
    scheme_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    server_location: Mapped[str] = mapped_column(String(200), default="")
    hosting_provider: Mapped[str] = mapped_column(String(200), default="")
    evidence_storage_location: Mapped[str] = mapped_column(String(200), default="")
    backup: Mapped[str] = mapped_column(Text, default="")
    backup_location: Mapped[str] = mapped_column(String(200), default="")
    backup_retention_days: Mapped[int | None] = mapped_column(Integer)
    public_url: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Dossier(Base):
    """A generated dossier: its files live in the evidence store (one evidence session per dossier)."""

    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    evidence_session: Mapped[str] = mapped_column(String(64), unique=True)
    pdf_object: Mapped[str] = mapped_column(String(255))
    docx_object: Mapped[str] = mapped_column(String(255))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    demo_signature: Mapped[bool] = mapped_column(default=False)
    #: Receipts (log index, entry hash) of the stored files, for the record.
    receipts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    created_by: Mapped[User] = relationship()
