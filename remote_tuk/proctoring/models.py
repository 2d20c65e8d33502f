"""A finding shown to the assessor: one row per alert (a server incident, or a signal the candidate's browser reported).

The evidence is the log (``proctoring.finding`` / ``proctoring.browser_signal`` entries); the row is what the page
lists and what a label refers to, so that a label can be checked against its session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow


class Finding(Base):
    __tablename__ = "proctoring_findings"
    __table_args__ = (UniqueConstraint("session_id", "source", "incident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    #: ``server`` (measured by the server's analysis) or ``browser`` (reported by the candidate's browser)
    source: Mapped[str] = mapped_column(String(8))
    #: the server incident's number in the session, or the browser signal's own number (page sequence is not unique)
    incident_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(12))
    #: session media clock (seconds): start and (once cleared) end of the condition
    media_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    snapshot_object: Mapped[str | None] = mapped_column(String(255))
    log_index: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    labelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    labelled_at: Mapped[datetime | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SchemeProctoringProfile(Base):
    """A scheme's proctoring profile (``config.ProctoringProfile`` as JSON), set by the LSP admin. A scheme without
    one uses the project's default (``config.DEFAULT_PROCTORING_PROFILE``)."""

    __tablename__ = "scheme_proctoring_profiles"

    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
