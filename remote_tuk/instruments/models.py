"""Question banks per scheme (FR.IA.05 multiple choice, FR.IA.06 essay, FR.IA.07 oral), versioned, keys apart.

A bank has numbered versions. A question keeps its code for life; its content lives in immutable revisions, each valid
for a range of bank versions ``[valid_from, valid_to)``. An edit publishes a new bank version in which the old revision
ends and a new one begins; retiring a question ends its revision. The answer key of a revision is a separate table
that no candidate-facing serializer ever loads (``services.candidate_question``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.accounts.models import User
from remote_tuk.db import Base, utcnow
from remote_tuk.lsp.models import Kuk, Scheme


class QuestionKind(enum.StrEnum):
    MULTIPLE_CHOICE = "multiple_choice"
    ESSAY = "essay"
    ORAL = "oral"


KIND_LABELS = {
    QuestionKind.MULTIPLE_CHOICE: "Pilihan ganda (FR.IA.05)",
    QuestionKind.ESSAY: "Esai (FR.IA.06)",
    QuestionKind.ORAL: "Lisan (FR.IA.07)",
}
KIND_ORDER = {QuestionKind.MULTIPLE_CHOICE: 0, QuestionKind.ESSAY: 1, QuestionKind.ORAL: 2}


class QuestionBank(Base):
    """The question bank of one scheme; ``version`` is the number of the newest published version (0: none yet)."""

    __tablename__ = "question_banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id", ondelete="CASCADE"), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    scheme: Mapped[Scheme] = relationship()
    versions: Mapped[list[BankVersion]] = relationship(
        back_populates="bank", order_by="BankVersion.number.desc()", cascade="all, delete-orphan"
    )


class BankVersion(Base):
    """One published version: what changed, who published it, and the SHA-256 of its canonical content (keys too)."""

    __tablename__ = "question_bank_versions"
    __table_args__ = (UniqueConstraint("bank_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("question_banks.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(255))
    question_count: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)

    bank: Mapped[QuestionBank] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()


class Question(Base):
    """A question's lasting identity in its bank (its code and kind never change)."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("bank_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("question_banks.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[QuestionKind] = mapped_column(
        Enum(QuestionKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    revisions: Mapped[list[QuestionRevision]] = relationship(
        back_populates="question", order_by="QuestionRevision.number", cascade="all, delete-orphan"
    )

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


class QuestionRevision(Base):
    """The content of a question as candidates and assessors see it, valid in bank versions [valid_from, valid_to).

    Never changed once written (only ``valid_to`` is set, once, when a later version replaces or retires it). Options
    of a multiple-choice question are kept in the author's order; candidates see them shuffled (``BankUse.seed``)."""

    __tablename__ = "question_revisions"
    __table_args__ = (UniqueConstraint("question_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[int] = mapped_column(Integer)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    kuk_id: Mapped[int] = mapped_column(ForeignKey("kuks.id"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="revisions")
    kuk: Mapped[Kuk] = relationship()

    @property
    def uid(self) -> str:
        """Stable name of this revision in evidence and in the option shuffle: ``<code>@<revision>``."""
        return f"{self.question.code}@{self.number}"


class AnswerKey(Base):
    """The key of one revision: the correct option (author's order, 0-based) or the expected answer.

    Deliberately not reachable from ``QuestionRevision`` (no relationship that way): only the functions in
    ``services`` that serve the admin, the assessor or the scorer load it."""

    __tablename__ = "question_answer_keys"

    revision_id: Mapped[int] = mapped_column(
        ForeignKey("question_revisions.id", ondelete="CASCADE"), primary_key=True
    )
    correct_option: Mapped[int | None] = mapped_column(Integer)
    expected_answer: Mapped[str] = mapped_column(Text, default="")


class BankUse(Base):
    """A session's use of a bank: the version it is pinned to and the seed of its option shuffle (reproducible)."""

    __tablename__ = "question_bank_uses"
    __table_args__ = (UniqueConstraint("session_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("question_banks.id"))
    version: Mapped[int] = mapped_column(Integer)
    #: ``written`` (FR.IA.05/06) or ``oral`` (FR.IA.07).
    purpose: Mapped[str] = mapped_column(String(16))
    #: 32 random bytes, hex: the option order of every question follows from it (docs/QUESTION-BANK-FORMAT.md).
    seed: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    log_index: Mapped[int | None] = mapped_column(Integer)
