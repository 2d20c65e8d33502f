"""The mail outbox: every invitation, schedule change and reminder as a row that a sender delivers and retries.

A row never holds a join link. A join-link mail names the ``join_links`` row (whose ``jti`` the accounts code keeps
anyway); the signed link is made again from it at the moment of sending and exists only in the message handed to the
SMTP server. The body of every mail is rendered at sending time from the row's kind and parameters.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.db import Base, utcnow


class MailKind(enum.StrEnum):
    JOIN_LINK = "join_link"
    SCHEDULE_CHANGE = "schedule_change"
    REMINDER = "reminder"


class MailStatus(enum.StrEnum):
    #: waiting for its first attempt
    QUEUED = "queued"
    SENT = "sent"
    #: the last attempt failed; ``next_attempt_at`` set: it will be tried again then; None: given up
    FAILED = "failed"
    #: no longer to be sent (its link was replaced, used or expired, or the session ended)
    CANCELLED = "cancelled"


MAIL_KIND_LABELS = {
    MailKind.JOIN_LINK: "Undangan dengan tautan masuk",
    MailKind.SCHEDULE_CHANGE: "Perubahan jadwal",
    MailKind.REMINDER: "Pengingat",
}
MAIL_STATUS_LABELS = {
    MailStatus.QUEUED: "Dalam antrean",
    MailStatus.SENT: "Terkirim",
    MailStatus.FAILED: "Gagal",
    MailStatus.CANCELLED: "Dibatalkan",
}


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class OutboxMail(Base):
    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MailKind] = mapped_column(_enum(MailKind))
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    #: the join link a JOIN_LINK mail carries (the link itself is made at sending time, never stored)
    join_link_id: Mapped[int | None] = mapped_column(ForeignKey("join_links.id", ondelete="SET NULL"))
    #: makes a mail idempotent: a reminder is ``reminder:<hours>h:<session id>:<start UTC>`` (unique)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    #: what the template needs besides the session (old start and end of a changed schedule, the reminder's hours,
    #: the calendar SEQUENCE) and the base URL of the links
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[MailStatus] = mapped_column(_enum(MailStatus), default=MailStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    #: a sender holds the row until then (so two senders never send one mail at once)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the Message-ID header of the mail handed to the SMTP server
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    session: Mapped[AssessmentSession] = relationship()
    candidate: Mapped[User] = relationship(foreign_keys=[candidate_id])

    @property
    def kind_label(self) -> str:
        return MAIL_KIND_LABELS[self.kind]

    @property
    def status_label(self) -> str:
        return MAIL_STATUS_LABELS[self.status]
