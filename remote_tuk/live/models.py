from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.accounts.models import User
from remote_tuk.db import Base, utcnow
from remote_tuk.privacy.sealing import SealedText


class Verdict(enum.StrEnum):
    K = "K"  # kompeten
    BK = "BK"  # belum kompeten


def _verdict() -> Enum:
    return Enum(Verdict, native_enum=False, length=2, values_callable=lambda e: [m.value for m in e])


class RecordingChunk(Base):
    """One MediaRecorder chunk from the candidate's browser (the primary recording), stored as evidence.

    The row is first inserted as a *claim* (no ``log_index`` yet): the unique (session, seq) lets exactly one upload
    of a sequence number through, in every process, before anything reaches the evidence log; the winner then stores
    the chunk and fills in ``object_key`` and ``log_index``.
    """

    __tablename__ = "recording_chunks"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str | None] = mapped_column(String(255))
    log_index: Mapped[int | None] = mapped_column(Integer)
    client_start_ms: Mapped[int | None] = mapped_column(BigInteger)
    #: When the upload reached the server (it places the recorder run on the session clock); a claim that is still
    #: unfinished a long time after it may be taken over by a retry.
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordingConflicts(Base):
    """Refused conflicting chunks of a session, counted: the first is logged as evidence at once, then a summary at
    most once a minute and at the end, so a candidate cannot grow the evidence log at will."""

    __tablename__ = "recording_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), unique=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    logged_count: Mapped[int] = mapped_column(Integer, default=0)
    logged_at: Mapped[datetime | None]


class KukMark(Base):
    """An assessor's K/BK on one KUK (FR.IA.01), pointing at a moment of the recording. Never overwritten."""

    __tablename__ = "kuk_marks"
    __table_args__ = (UniqueConstraint("session_id", "kuk_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    kuk_id: Mapped[int] = mapped_column(ForeignKey("kuks.id"))
    version: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[Verdict] = mapped_column(_verdict())
    note: Mapped[str] = mapped_column(SealedText("kuk_marks.note"), default="")  # sealed: docs/PRIVACY.md
    #: Seconds of live session time (the browser recording's timeline) the mark points at.
    media_s: Mapped[float] = mapped_column(Float)
    client_media_s: Mapped[float | None] = mapped_column(Float)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class UnitDecision(Base):
    """The assessor's decision per competency unit (FR.AK.02), with the reason. A change is a new version."""

    __tablename__ = "unit_decisions"
    __table_args__ = (UniqueConstraint("session_id", "unit_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    version: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[Verdict] = mapped_column(_verdict())
    reason: Mapped[str] = mapped_column(SealedText("unit_decisions.reason"))  # sealed: docs/PRIVACY.md
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)


class ChatMessage(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(SealedText("chat_messages.text"))  # sealed: docs/PRIVACY.md
    at: Mapped[datetime] = mapped_column(default=utcnow)

    sender: Mapped[User] = relationship()


class Downtime(Base):
    """A stretch when the candidate's media did not reach the server (from the media engine's stall/resume)."""

    __tablename__ = "session_downtimes"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    seconds: Mapped[float | None] = mapped_column(Float)


class SessionRecording(Base):
    """A joined, remuxed recording of a session (one playable WebM on the session media clock), stored as evidence:
    ``source`` "browser" (the candidate's MediaRecorder chunks) or "server" (the engine's IVF segments). Parts that
    arrive after a join make a new ``version``; earlier versions stay in the evidence. A join that failed is a row
    with ``error`` and no object."""

    __tablename__ = "session_recordings"
    __table_args__ = (UniqueConstraint("session_id", "source", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(8), default="browser")
    version: Mapped[int] = mapped_column(Integer, default=1)
    object_key: Mapped[str | None] = mapped_column(String(255))
    log_index: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    #: How many parts (chunks or segments) the join was made from; more stored parts than this = join again.
    chunks: Mapped[int] = mapped_column(Integer)
    #: Missing sequence numbers (browser) when joined.
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
