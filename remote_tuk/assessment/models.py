from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from remote_tuk.accounts.models import User
from remote_tuk.db import Base, utcnow
from remote_tuk.lsp.models import Scheme


class SessionState(enum.StrEnum):
    SCHEDULED = "scheduled"
    CHECKING = "checking"
    READY = "ready"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"
    DECIDED = "decided"
    CANCELLED = "cancelled"


STATE_LABELS = {
    SessionState.SCHEDULED: "Terjadwal",
    SessionState.CHECKING: "Pemeriksaan TUK",
    SessionState.READY: "Siap",
    SessionState.LIVE: "Berlangsung",
    SessionState.PAUSED: "Dijeda",
    SessionState.ENDED: "Selesai",
    SessionState.DECIDED: "Diputuskan",
    SessionState.CANCELLED: "Dibatalkan",
}


def _enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Schedule(Base):
    """Jadwal asesmen: a scheme, a time window, the assigned assessor (with the surat tugas) and its candidates."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    scheme_id: Mapped[int] = mapped_column(ForeignKey("schemes.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Nomor surat tugas asesor.
    assignment_letter: Mapped[str | None] = mapped_column(String(80))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    scheme: Mapped[Scheme] = relationship()
    assessor: Mapped[User | None] = relationship(foreign_keys=[assessor_id])
    sessions: Mapped[list[AssessmentSession]] = relationship(
        back_populates="schedule", order_by="AssessmentSession.id", cascade="all, delete-orphan"
    )
    grants: Mapped[list[AuditorGrant]] = relationship(back_populates="schedule", cascade="all, delete-orphan")


def _public_id() -> str:
    """A session's public id: 16 URL-safe characters that never start with "-" (a command line would take such an id
    for an option: ``python -m evidence_store export --session -Xy…`` fails)."""
    while True:
        value = secrets.token_urlsafe(12)
        if not value.startswith("-"):
            return value


class AssessmentSession(Base):
    """One candidate's assessment within a schedule. Its state changes only through ``assessment.services``."""

    __tablename__ = "assessment_sessions"
    __table_args__ = (UniqueConstraint("schedule_id", "candidate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unguessable id used in URLs, socket rooms and the evidence log.
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=_public_id)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[SessionState] = mapped_column(_enum(SessionState), default=SessionState.SCHEDULED)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    schedule: Mapped[Schedule] = relationship(back_populates="sessions")
    candidate: Mapped[User] = relationship(foreign_keys=[candidate_id])
    transitions: Mapped[list[SessionTransition]] = relationship(
        back_populates="session", order_by="SessionTransition.id", cascade="all, delete-orphan"
    )

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


class SessionTransition(Base):
    __tablename__ = "session_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("assessment_sessions.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[SessionState] = mapped_column(_enum(SessionState))
    to_state: Mapped[SessionState] = mapped_column(_enum(SessionState))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[AssessmentSession] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()


class AuditorGrant(Base):
    """An auditor/witness may see one schedule (and its sessions) because an admin granted it."""

    __tablename__ = "auditor_grants"
    __table_args__ = (UniqueConstraint("auditor_id", "schedule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    auditor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    auditor: Mapped[User] = relationship(foreign_keys=[auditor_id])
    schedule: Mapped[Schedule] = relationship(back_populates="grants")
