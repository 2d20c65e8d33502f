"""FR.APL.01 / FR.APL.02 of a session: the candidate's draft, portfolio files, submissions, the assessor's reviews.

The draft (``AplForm``) is working data; what counts is a submission: the whole document as sent, logged as evidence
(``apl.submission``) and kept here for the review page. Portfolio files are evidence from the moment they are uploaded
(``apl.portfolio``, encrypted in the session's chain); the database keeps only their object keys and descriptions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.accounts.models import User
from remote_tuk.db import Base, utcnow

PROCEED = "proceed"
NOT_PROCEED = "not_proceed"
DECISION_LABELS = {PROCEED: "Dapat dilanjutkan", NOT_PROCEED: "Tidak dapat dilanjutkan"}


class AplSetting(Base):
    """Per scheme: must FR.APL.01/02 be submitted before the TUK check may start? (No row: not required.)"""

    __tablename__ = "apl_settings"

    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id", ondelete="CASCADE"), primary_key=True)
    required: Mapped[bool] = mapped_column(default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AplForm(Base):
    """The candidate's draft of FR.APL.01 (``apl01``) and FR.APL.02 (``apl02``: element id → answer)."""

    __tablename__ = "apl_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), unique=True)
    apl01: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    apl02: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PortfolioItem(Base):
    """One portfolio file (PDF, JPEG or PNG, type sniffed from its bytes), stored encrypted in the evidence store."""

    __tablename__ = "apl_portfolio_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str] = mapped_column(String(255))
    log_index: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Taken out of the draft by the candidate (the file stays in the evidence chain: it was uploaded).
    removed_at: Mapped[datetime | None]


class AplSubmission(Base):
    """FR.APL.01 + FR.APL.02 as the candidate sent them (version 1, 2, … when revised before the session)."""

    __tablename__ = "apl_submissions"
    __table_args__ = (UniqueConstraint("session_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)


class AplReview(Base):
    """The assessor's review of one submission: proceed or not, with a note (evidence ``apl.review``)."""

    __tablename__ = "apl_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("apl_submissions.id", ondelete="CASCADE"), index=True)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)

    submission: Mapped[AplSubmission] = relationship()
    assessor: Mapped[User] = relationship()

    @property
    def decision_label(self) -> str:
        return DECISION_LABELS[self.decision]
