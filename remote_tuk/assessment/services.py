"""Schedules, sessions, who may see them, and the session state machine (the only place a state changes)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from remote_tuk import access
from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment.models import AssessmentSession, AuditorGrant, Schedule, SessionState, SessionTransition
from remote_tuk.assessment.schemas import ScheduleIn
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, NotFound, ValidationFailed
from remote_tuk.lsp.models import Scheme

S = SessionState
log = logging.getLogger(__name__)

#: Allowed transitions and the roles that may make each one.
TRANSITIONS: dict[tuple[SessionState, SessionState], frozenset[Role]] = {
    (S.SCHEDULED, S.CHECKING): frozenset({Role.CANDIDATE, Role.ASSESSOR}),
    (S.CHECKING, S.READY): frozenset({Role.ASSESSOR}),
    (S.READY, S.CHECKING): frozenset({Role.CANDIDATE, Role.ASSESSOR}),
    (S.READY, S.LIVE): frozenset({Role.ASSESSOR}),
    (S.LIVE, S.PAUSED): frozenset({Role.ASSESSOR}),
    (S.PAUSED, S.LIVE): frozenset({Role.ASSESSOR}),
    (S.LIVE, S.ENDED): frozenset({Role.ASSESSOR}),
    (S.PAUSED, S.ENDED): frozenset({Role.ASSESSOR}),
    (S.ENDED, S.DECIDED): frozenset({Role.ASSESSOR}),
    **{
        (src, S.CANCELLED): frozenset({Role.LSP_ADMIN, Role.ASSESSOR})
        for src in (S.SCHEDULED, S.CHECKING, S.READY, S.LIVE, S.PAUSED)
    },
}
#: Transitions that need a written reason.
REASON_REQUIRED = frozenset({S.CANCELLED})


@dataclass(frozen=True)
class SystemActor:
    """The product acting on a rule rather than a person (e.g. consent withdrawn: the session is cancelled). It has no
    user id and no role; it may make only the transitions in :data:`SYSTEM_TRANSITIONS`, always with a reason."""

    name: str
    id: None = None
    role: None = None


#: What the system itself may do: cancel a session that has not been decided (a withdrawal of consent, even after
#: the end and before the decision).
SYSTEM_TRANSITIONS = frozenset(
    (src, S.CANCELLED) for src in (S.SCHEDULED, S.CHECKING, S.READY, S.LIVE, S.PAUSED, S.ENDED)
)

#: Called after a committed transition: emit(session, transition) — e.g. a Socket.IO broadcast.
Emit = Callable[[AssessmentSession, SessionTransition], Any]
#: A gate that may refuse a transition before it happens (the TUK pre-session gate plugs in here).
Guard = Callable[[Session, AssessmentSession, SessionState, "User | SystemActor"], None]


#: Guards every transition passes (features register theirs at start-up: the pre-session gate, "all units decided").
GUARDS: list[Guard] = []


class InvalidTransition(Conflict):
    code = "invalid_transition"


def allowed_next(state: SessionState, role: Role) -> list[SessionState]:
    return [dst for (src, dst), roles in TRANSITIONS.items() if src == state and role in roles]


def transition(
    db: Session,
    session: AssessmentSession,
    to: SessionState,
    *,
    actor: User | SystemActor,
    reason: str | None = None,
    guards: tuple[Guard, ...] = (),
    emit: Emit | None = None,
    now: datetime | None = None,
) -> SessionTransition:
    """Move *session* to *to* if the state machine and the actor's role allow it; refuse clearly otherwise."""
    src = session.state
    if isinstance(actor, SystemActor):
        if (src, to) not in SYSTEM_TRANSITIONS:
            raise _invalid(session, to, [])
    else:
        _check_actor(db, session, src, to, actor)
    reason = (reason or "").strip() or None
    if to in REASON_REQUIRED and not reason:
        raise ValidationFailed("Alasan wajib diisi.", details={"reason": "wajib diisi"})
    if reason and len(reason) > 2000:
        raise ValidationFailed(
            "Alasan terlalu panjang (maksimal 2000 karakter).", details={"reason": "terlalu panjang"}
        )
    for guard in (*GUARDS, *guards):
        guard(db, session, to, actor)
    now = now or utcnow()
    record = SessionTransition(session=session, from_state=src, to_state=to, actor_id=actor.id, reason=reason, at=now)
    session.state = to
    session.state_changed_at = now
    db.add(record)
    audit.record(
        db,
        audit.SESSION_STATE,
        actor_id=actor.id,
        session=session.public_id,
        old=src.value,
        new=to.value,
        reason=reason,
        **({"system": actor.name} if isinstance(actor, SystemActor) else {}),
    )
    db.commit()
    if emit is not None:
        # The change is committed: what follows (broadcasts, evidence, media, joins) can fail, but it can never
        # make a committed change look failed. Listeners log and show their own failures.
        try:
            emit(session, record)
        except Exception:
            db.rollback()
            log.exception("after the committed transition of %s to %s", session.public_id, to.value)
    return record


def _check_actor(db: Session, session: AssessmentSession, src: SessionState, to: SessionState, actor: User) -> None:
    ensure_can_view(db, actor, session)
    roles = TRANSITIONS.get((src, to))
    if roles is None:
        raise _invalid(session, to, allowed_next(src, actor.role))
    if actor.role not in roles:
        raise Forbidden(f"Peran {actor.role_label} tidak boleh mengubah sesi menjadi '{to.value}'.")
    if actor.role is Role.ASSESSOR and session.schedule.assessor_id != actor.id:
        raise Forbidden("Hanya asesor yang ditugaskan yang dapat mengubah sesi ini.")
    if actor.role is Role.CANDIDATE and session.candidate_id != actor.id:
        raise Forbidden("Ini bukan sesi Anda.")


def _invalid(session: AssessmentSession, to: SessionState, allowed: list[SessionState]) -> InvalidTransition:
    return InvalidTransition(
        f"Sesi berstatus '{session.state_label}' tidak dapat diubah menjadi '{to.value}'.",
        details={"from": session.state.value, "to": to.value, "allowed": [s.value for s in allowed]},
    )


# --- visibility (object-level access) -----------------------------------------------------------------------------


def _granted(db: Session, auditor: User, schedule_id: int) -> bool:
    stmt = select(AuditorGrant.id).where(AuditorGrant.auditor_id == auditor.id, AuditorGrant.schedule_id == schedule_id)
    return db.scalar(stmt) is not None


def can_view_schedule(db: Session, user: User, schedule: Schedule) -> bool:
    if user.role is Role.LSP_ADMIN:
        return True
    if user.role is Role.ASSESSOR:
        return schedule.assessor_id == user.id
    if user.role is Role.AUDITOR:
        return _granted(db, user, schedule.id)
    return False


def can_view_session(db: Session, user: User, session: AssessmentSession) -> bool:
    if user.role is Role.CANDIDATE:
        return session.candidate_id == user.id
    return can_view_schedule(db, user, session.schedule)


def ensure_can_view(db: Session, user: User, session: AssessmentSession) -> None:
    if not can_view_session(db, user, session):
        raise NotFound("Sesi tidak ditemukan.")


def get_schedule_for(db: Session, user: User, schedule_id: int) -> Schedule:
    """The schedule if *user* may see it; otherwise the same 404 as an unknown id (no leak)."""
    schedule = db.scalar(
        select(Schedule)
        .where(Schedule.id == schedule_id)
        .options(selectinload(Schedule.sessions).selectinload(AssessmentSession.candidate))
    )
    if schedule is None or not can_view_schedule(db, user, schedule):
        raise NotFound("Jadwal tidak ditemukan.")
    return schedule


#: what a public id can be (``secrets.token_urlsafe``): anything else is unknown without asking the database, which
#: PostgreSQL would refuse with an error for a NUL byte
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")


def get_session_for(db: Session, user: User, public_id: str) -> AssessmentSession:
    if not _PUBLIC_ID.fullmatch(public_id):
        raise NotFound("Sesi tidak ditemukan.")
    session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
    if session is None or not can_view_session(db, user, session):
        raise NotFound("Sesi tidak ditemukan.")
    return session


def schedules_for(db: Session, user: User) -> list[Schedule]:
    stmt = select(Schedule).order_by(Schedule.starts_at.desc())
    if user.role is Role.ASSESSOR:
        stmt = stmt.where(Schedule.assessor_id == user.id)
    elif user.role is Role.AUDITOR:
        stmt = stmt.join(AuditorGrant).where(AuditorGrant.auditor_id == user.id)
    elif user.role is Role.CANDIDATE:
        return []
    return list(db.scalars(stmt))


def sessions_of_candidate(db: Session, candidate: User) -> list[AssessmentSession]:
    stmt = (
        select(AssessmentSession)
        .where(AssessmentSession.candidate_id == candidate.id)
        .join(Schedule)
        .order_by(Schedule.starts_at.desc())
    )
    return list(db.scalars(stmt))


# --- schedule management (LSP admin) ----------------------------------------------------------------------------


def _user_with_role(db: Session, user_id: int, role: Role, field: str) -> User:
    user = db.get(User, user_id)
    if user is None or user.role is not role or not user.active:
        raise ValidationFailed(f"Pengguna yang dipilih bukan {role.value} yang aktif.", details={field: "tidak valid"})
    return user


def create_schedule(db: Session, data: ScheduleIn, *, actor: User) -> Schedule:
    if db.get(Scheme, data.scheme_id) is None:
        raise ValidationFailed("Skema tidak ditemukan.", details={"scheme_id": "tidak ditemukan"})
    schedule = Schedule(
        title=data.title,
        scheme_id=data.scheme_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        created_by_id=actor.id,
    )
    db.add(schedule)
    db.flush()
    audit.record(db, audit.SCHEDULE_CREATED, actor_id=actor.id, schedule=schedule.id, title=schedule.title)
    if data.assessor_id is not None:
        assign_assessor(db, schedule, data.assessor_id, data.assignment_letter or "", actor=actor, commit=False)
    db.commit()
    return schedule


def assign_assessor(
    db: Session, schedule: Schedule, assessor_id: int, letter: str, *, actor: User, commit: bool = True
) -> None:
    letter = letter.strip()
    if not letter:
        raise ValidationFailed("Nomor surat tugas wajib diisi.", details={"assignment_letter": "wajib diisi"})
    if len(letter) > 80:
        raise ValidationFailed("Nomor surat tugas terlalu panjang.", details={"assignment_letter": "terlalu panjang"})
    active = [s for s in schedule.sessions if s.state in (S.LIVE, S.PAUSED)]
    if active and schedule.assessor_id != assessor_id:
        raise Conflict("Asesor tidak dapat diganti saat ada sesi yang sedang berlangsung.")
    assessor = _user_with_role(db, assessor_id, Role.ASSESSOR, "assessor_id")
    previous = schedule.assessor_id
    schedule.assessor_id = assessor.id
    schedule.assignment_letter = letter
    audit.record(
        db, audit.ASSESSOR_ASSIGNED, actor_id=actor.id, schedule=schedule.id, assessor=assessor.username, letter=letter
    )
    if commit:
        db.commit()
        if previous not in (None, assessor.id):  # the previous assessor's open pages lose these sessions
            access.changed(sessions=[s.public_id for s in schedule.sessions])


def add_candidate(db: Session, schedule: Schedule, candidate_id: int, *, actor: User) -> AssessmentSession:
    candidate = _user_with_role(db, candidate_id, Role.CANDIDATE, "candidate_id")
    if any(s.candidate_id == candidate.id for s in schedule.sessions):
        raise Conflict("Asesi sudah terdaftar pada jadwal ini.", details={"candidate_id": "sudah terdaftar"})
    session = AssessmentSession(schedule=schedule, candidate_id=candidate.id)
    db.add(session)
    db.flush()
    audit.record(db, audit.CANDIDATE_ADDED, actor_id=actor.id, schedule=schedule.id, candidate=candidate.username)
    db.commit()
    return session


def revoke_auditor(db: Session, schedule: Schedule, auditor_id: int, *, actor: User) -> None:
    """Take an auditor's access to the schedule away; their open pages of its sessions lose them at once."""
    grant = db.scalar(
        select(AuditorGrant).where(AuditorGrant.auditor_id == auditor_id, AuditorGrant.schedule_id == schedule.id)
    )
    if grant is None:
        raise NotFound("Auditor ini tidak memiliki akses ke jadwal ini.")
    auditor = db.get(User, auditor_id)
    db.delete(grant)
    audit.record(
        db,
        audit.AUDITOR_REVOKED,
        actor_id=actor.id,
        schedule=schedule.id,
        auditor=auditor.username if auditor else auditor_id,
    )
    db.commit()
    access.changed(sessions=[s.public_id for s in schedule.sessions])


def grant_auditor(db: Session, schedule: Schedule, auditor_id: int, *, actor: User) -> AuditorGrant:
    auditor = _user_with_role(db, auditor_id, Role.AUDITOR, "auditor_id")
    if _granted(db, auditor, schedule.id):
        raise Conflict("Auditor sudah memiliki akses ke jadwal ini.")
    grant = AuditorGrant(auditor_id=auditor.id, schedule_id=schedule.id, granted_by_id=actor.id)
    db.add(grant)
    audit.record(db, audit.AUDITOR_GRANTED, actor_id=actor.id, schedule=schedule.id, auditor=auditor.username)
    db.commit()
    return grant
