from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.db import Base, utcnow
from remote_tuk.privacy import subjects
from remote_tuk.privacy.sealing import SealedText

#: the appeal window when the LSP has not set one (days after the session was decided)
DEFAULT_WINDOW_DAYS = 14


class AppealStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # diajukan: waiting for the LSP to assign a reviewer
    ASSIGNED = "assigned"  # a reviewer studies the session
    UPHELD = "upheld"  # diterima: the reviewer's verdicts are the session's new version
    REJECTED = "rejected"  # ditolak: the decision stands


APPEAL_STATUS_LABELS = {
    AppealStatus.SUBMITTED: "Diajukan",
    AppealStatus.ASSIGNED: "Sedang ditelaah",
    AppealStatus.UPHELD: "Dikabulkan",
    AppealStatus.REJECTED: "Ditolak",
}
CLOSED = frozenset({AppealStatus.UPHELD, AppealStatus.REJECTED})


class AppealSetting(Base):
    """The LSP's appeal rules (one row): how many days after the decision a candidate may appeal."""

    __tablename__ = "appeal_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_WINDOW_DAYS)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Appeal(Base):
    """A candidate's appeal (banding, FR.AK.04) against a decided session. Every step is a document in the appeal's
    own evidence chain (``evidence_chain``), whose opening names the session and the head of the session's chain."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[AppealStatus] = mapped_column(
        Enum(AppealStatus, native_enum=False, length=12, values_callable=lambda e: [m.value for m in e]),
        default=AppealStatus.SUBMITTED)
    reasons: Mapped[str] = mapped_column(SealedText("appeals.reasons"))  # sealed: docs/PRIVACY.md
    evidence_chain: Mapped[str] = mapped_column(String(128), unique=True)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decision_reasons: Mapped[str] = mapped_column(SealedText("appeals.decision_reasons"), default="")
    #: log indexes of the steps (submitted, assigned, decided)
    submitted_log_index: Mapped[int] = mapped_column(Integer)
    assigned_log_index: Mapped[int | None] = mapped_column(Integer)
    decided_log_index: Mapped[int | None] = mapped_column(Integer)

    session: Mapped[AssessmentSession] = relationship()
    candidate: Mapped[User] = relationship(foreign_keys=[candidate_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    @property
    def status_label(self) -> str:
        return APPEAL_STATUS_LABELS[self.status]


# the appeal's texts are the candidate's personal data, sealed with their key (erased with them)
subjects.SUBJECTS[Appeal] = lambda _db, obj: int(obj.candidate_id)
