from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from remote_tuk.db import Base, utcnow
from remote_tuk.privacy import subjects
from remote_tuk.privacy.sealing import SealedText


class AssessmentDocument(Base):
    """A signed MUK record generated from the recorded data (FR.AK.02 per candidate, FR.AK.05 per schedule): its PDF
    lives in the evidence store, in an evidence chain of its own (``evidence_session``) whose opening names the
    assessment session or schedule. A new generation is a new ``version``; earlier ones stay."""

    __tablename__ = "assessment_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    form: Mapped[str] = mapped_column(String(12))  # FR.AK.02 | FR.AK.05
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"),
                                                   index=True)
    version: Mapped[int] = mapped_column(Integer)
    evidence_session: Mapped[str] = mapped_column(String(128), unique=True)
    object_key: Mapped[str] = mapped_column(String(255))
    log_index: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    demo_signature: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackAck(Base):
    """The candidate's acknowledgement of the feedback (FR.AK.03): they read their result and the reasons in the app
    and acknowledge, with a comment if they wish. The acknowledgement is a document in its own evidence chain."""

    __tablename__ = "feedback_acks"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), unique=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    comment: Mapped[str] = mapped_column(SealedText("feedback_acks.comment"), default="")  # sealed: docs/PRIVACY.md
    #: SHA-256 of the feedback the candidate saw (units, verdicts, reasons and their versions)
    feedback_sha256: Mapped[str] = mapped_column(String(64))
    evidence_chain: Mapped[str] = mapped_column(String(128), unique=True)
    log_index: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# the comment is the candidate's personal data, sealed with their key (erased with them)
subjects.SUBJECTS[FeedbackAck] = lambda _db, obj: int(obj.candidate_id)


class ProcessReview(Base):
    """The review of the assessment process of a schedule (FR.AK.06): the reviewer's checklist of the principles of
    assessment and the rules of evidence, with findings and recommendations; its signed PDF is an
    :class:`AssessmentDocument` and the answers are a document in the same evidence chain."""

    __tablename__ = "process_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    findings: Mapped[str] = mapped_column(Text)
    recommendations: Mapped[str] = mapped_column(Text)
    document_id: Mapped[int] = mapped_column(ForeignKey("assessment_documents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessReviewer(Base):
    """The reviewer the LSP assigns to review a schedule's assessment process (FR.AK.06): an active assessor who is
    not the schedule's own assessor. One per schedule; assigning another replaces them (the audit log keeps who and
    when)."""

    __tablename__ = "process_reviewers"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
