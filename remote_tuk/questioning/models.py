"""A session's written test (FR.IA.05/06) and oral questions (FR.IA.07).

A written test is opened by the assessor for the session's candidate with a chosen set of questions from the pinned
bank version and a duration on the session media clock (pauses stop it). Every autosave of an answer is a new
``WrittenAnswer`` version and an evidence entry; nothing is overwritten. Multiple choice is scored against the key when
the test closes; each essay is scored K/BK by the assessor, linked to the question's KUK. An oral question is the
assessor's question (from the bank or written on the spot), the candidate's answer as the assessor summarised it and a
K/BK judgement at a moment of the recording; a changed judgement is a new version of the same question.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow
from remote_tuk.live.models import Verdict, _verdict
from remote_tuk.privacy.sealing import SealedText

OPEN = "open"
CLOSED = "closed"
#: why a test closed
SUBMITTED, TIME_UP, BY_ASSESSOR, SESSION_LEFT_LIVE = "submitted", "time_up", "assessor", "session_ended"


class WrittenTest(Base):
    """The written test of one session (one per session)."""

    __tablename__ = "written_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), unique=True)
    use_id: Mapped[int] = mapped_column(ForeignKey("question_bank_uses.id"))
    #: question uids (``<code>@<revision>``) in the order the candidate sees them
    questions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    duration_s: Mapped[int] = mapped_column(Integer)
    #: the session media clock when it opened, and when time is up (pauses of the session stop the test's time)
    opened_media_s: Mapped[float] = mapped_column(Float)
    deadline_media_s: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8), default=OPEN)
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_media_s: Mapped[float | None] = mapped_column(Float)
    log_index: Mapped[int] = mapped_column(Integer)
    #: the ``written.closed`` entry (answers as final, multiple choice scored)
    closed_log_index: Mapped[int | None] = mapped_column(Integer)


class WrittenAnswer(Base):
    """One autosave of one answer (version 1, 2 … per question); the highest version is the answer."""

    __tablename__ = "written_answers"
    __table_args__ = (UniqueConstraint("test_id", "uid", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("written_tests.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(48))
    version: Mapped[int] = mapped_column(Integer)
    #: multiple choice: the position the candidate chose on their (shuffled) screen
    choice: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(SealedText("written_answers.text"), default="")  # sealed: docs/PRIVACY.md
    media_s: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class EssayScore(Base):
    """The assessor's K/BK on one essay answer, for the question's KUK; a change is a new version."""

    __tablename__ = "written_essay_scores"
    __table_args__ = (UniqueConstraint("test_id", "uid", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("written_tests.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(48))
    kuk_id: Mapped[int] = mapped_column(ForeignKey("kuks.id"))
    version: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[Verdict] = mapped_column(_verdict())
    note: Mapped[str] = mapped_column(SealedText("written_essay_scores.note"), default="")
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)


class OralQuestion(Base):
    """One oral question asked and judged (FR.IA.07); ``number`` names the question in the session, ``version`` its
    judgement (a re-mark is a new version pointing at its own moment)."""

    __tablename__ = "oral_questions"
    __table_args__ = (UniqueConstraint("session_id", "number", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    #: the bank question (``<code>@<revision>`` of the pinned oral bank version), or None: written by the assessor
    uid: Mapped[str | None] = mapped_column(String(48))
    kuk_id: Mapped[int] = mapped_column(ForeignKey("kuks.id"))
    prompt: Mapped[str] = mapped_column(Text)
    answer_summary: Mapped[str] = mapped_column(SealedText("oral_questions.answer_summary"), default="")
    verdict: Mapped[Verdict] = mapped_column(_verdict())
    note: Mapped[str] = mapped_column(SealedText("oral_questions.note"), default="")
    media_s: Mapped[float] = mapped_column(Float)
    client_media_s: Mapped[float | None] = mapped_column(Float)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int] = mapped_column(Integer)
