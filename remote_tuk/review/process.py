"""The review of the assessment process per schedule (FR.AK.06; issue 15 #4): the reviewer the LSP assigns to the
schedule (an active assessor who is not the schedule's own assessor; :func:`assign_reviewer`), or an LSP admin,
answers, for each
principle of assessment (valid, reliable, flexible, fair) and each rule of evidence (valid, authentic, current,
sufficient), whether it was met, with a note, and writes findings and recommendations. What the recorded data says
about the schedule (candidates, outcomes, appeals, lost video, recordings with missing chunks) is put beside the
answers, never typed. Stored as a signed PDF (``documents.generate``) with the answers as a JSON document in the same
evidence chain."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config import Settings
from remote_tuk.accounts.models import Role, User
from remote_tuk.appeals.models import Appeal
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import Schedule, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Forbidden, NotFound, ValidationFailed
from remote_tuk.live.models import Downtime, SessionRecording
from remote_tuk.live.scoring import decisions
from remote_tuk.review import documents
from remote_tuk.review.models import ProcessReview, ProcessReviewer
from remote_tuk.review.schemas import PROCESS_CHECKS, ProcessReviewerIn, ProcessReviewIn

S = SessionState
PROCESS_REVIEWER_ASSIGNED = "process_reviewer_assigned"
audit.KIND_LABELS.setdefault(PROCESS_REVIEWER_ASSIGNED, "Peninjau proses asesmen (FR.AK.06) ditugaskan")


def reviewer_of(db: Session, schedule: Schedule) -> ProcessReviewer | None:
    return db.scalar(select(ProcessReviewer).where(ProcessReviewer.schedule_id == schedule.id))


def is_process_reviewer(db: Session, user: User, schedule: Schedule) -> bool:
    """Whether *user* is the schedule's assigned process reviewer (and not, meanwhile, its own assessor)."""
    if user.role is not Role.ASSESSOR or schedule.assessor_id == user.id:
        return False
    row = reviewer_of(db, schedule)
    return row is not None and row.reviewer_id == user.id


def assigned_to(db: Session, user: User) -> list[Schedule]:
    """The schedules whose process review *user* is assigned (their dashboard lists them)."""
    if user.role is not Role.ASSESSOR:
        return []
    return [s for s in db.scalars(select(Schedule).join(ProcessReviewer, ProcessReviewer.schedule_id == Schedule.id)
                                  .where(ProcessReviewer.reviewer_id == user.id).order_by(Schedule.starts_at.desc()))
            if s.assessor_id != user.id]


def schedule_for_process(db: Session, user: User, schedule_id: int) -> Schedule:
    """The schedule for its process-review page: whoever may see it, and its assigned reviewer (404 otherwise)."""
    try:
        return assessment.get_schedule_for(db, user, schedule_id)
    except NotFound:
        schedule = db.get(Schedule, schedule_id)
        if schedule is None or not is_process_reviewer(db, user, schedule):
            raise
        return schedule


def may_record(db: Session, user: User, schedule: Schedule) -> bool:
    return user.role is Role.LSP_ADMIN or is_process_reviewer(db, user, schedule)


def candidates(db: Session, schedule: Schedule) -> list[User]:
    """Who may be assigned: active assessors other than the schedule's own."""
    return [u for u in db.scalars(select(User).where(User.role == Role.ASSESSOR, User.active.is_(True))
                                  .order_by(User.full_name)) if u.id != schedule.assessor_id]


def assign_reviewer(db: Session, user: User, schedule_id: int, data: ProcessReviewerIn) -> ProcessReviewer:
    """An LSP admin names the schedule's process reviewer: an active assessor who is not the schedule's assessor."""
    schedule = assessment.get_schedule_for(db, user, schedule_id)  # 404 for those who may not see it
    if user.role is not Role.LSP_ADMIN:
        raise Forbidden("Peninjau proses asesmen ditugaskan oleh admin LSP.")
    reviewer = db.get(User, data.reviewer_id)
    if reviewer is None or reviewer.role is not Role.ASSESSOR or not reviewer.active:
        raise ValidationFailed("Peninjau harus asesor yang aktif.", details={"reviewer_id": "tidak valid"})
    if reviewer.id == schedule.assessor_id:
        raise ValidationFailed("Peninjau proses tidak boleh asesor jadwal ini sendiri.",
                               details={"reviewer_id": "asesor asli"})
    row = reviewer_of(db, schedule)
    if row is None:
        row = ProcessReviewer(schedule_id=schedule.id, reviewer_id=reviewer.id, assigned_by_id=user.id)
        db.add(row)
    row.reviewer_id, row.assigned_by_id, row.assigned_at = reviewer.id, user.id, utcnow()
    audit.record(db, PROCESS_REVIEWER_ASSIGNED, actor_id=user.id, schedule=schedule.id, reviewer=reviewer.id)
    db.commit()
    return row


def recorded(db: Session, schedule: Schedule) -> dict[str, Any]:
    """What the records say about the schedule's sessions."""
    ids = [s.id for s in schedule.sessions]
    decided = [s for s in schedule.sessions if s.state is S.DECIDED]
    outcomes = {"K": 0, "BK": 0}
    for s in decided:
        verdicts = [d.verdict.value for d in decisions(db, s).values()]
        outcomes["K" if verdicts and all(v == "K" for v in verdicts) else "BK"] += 1
    appeals = {str(status): n for status, n in db.execute(
        select(Appeal.status, func.count()).where(Appeal.session_id.in_(ids)).group_by(Appeal.status))} if ids else {}
    downtime = float(db.scalar(select(func.coalesce(func.sum(Downtime.seconds), 0.0))
                               .where(Downtime.session_id.in_(ids))) or 0.0) if ids else 0.0
    gaps = int(db.scalar(select(func.count(func.distinct(SessionRecording.session_id))).where(
        SessionRecording.session_id.in_(ids), SessionRecording.gaps > 0)) or 0) if ids else 0
    return {"sessions": len(ids), "decided": len(decided), "competent": outcomes["K"], "not_yet": outcomes["BK"],
            "cancelled": sum(1 for s in schedule.sessions if s.state is S.CANCELLED), "appeals": appeals,
            "downtime_s": round(downtime, 1), "recordings_with_gaps": gaps}


def record(db: Session, settings: Settings, store: Any, user: User, schedule_id: int,
           data: ProcessReviewIn) -> ProcessReview:
    schedule = schedule_for_process(db, user, schedule_id)  # 404 for those who may not see it
    if not may_record(db, user, schedule):  # the schedule's own assessor, an auditor: 403
        raise Forbidden("Tinjauan proses asesmen (FR.AK.06) dicatat oleh peninjau yang ditugaskan LSP atau "
                        "admin LSP, bukan oleh asesor jadwal ini.")
    facts_recorded = recorded(db, schedule)
    if not facts_recorded["decided"]:
        raise documents.NotDecided("FR.AK.06 dicatat setelah sedikitnya satu sesi jadwal ini diputuskan.")
    answers = {k: v.model_dump() for k, v in data.answers.items()}
    body = {"schedule": schedule.id, "answers": answers, "findings": data.findings,
            "recommendations": data.recommendations, "recorded": facts_recorded, "reviewer": user.id}
    facts = {
        "form": documents.FR_AK_06,
        "lsp": documents._lsp(db),
        "scheme": schedule.scheme,
        "schedule": schedule,
        "assessor": schedule.assessor,
        "reviewer": user,
        "checks": [(key, label, answers[key]) for key, label in PROCESS_CHECKS.items()],
        "findings": data.findings,
        "recommendations": data.recommendations,
        "recorded": facts_recorded,
        "answers_json": json.dumps(body, ensure_ascii=False, sort_keys=True).encode(),
    }
    doc = documents.generate(db, settings, store, facts, actor=user, process_reviewer=user.role is Role.ASSESSOR)
    review = ProcessReview(schedule_id=schedule.id, reviewer_id=user.id, answers=answers, findings=data.findings,
                           recommendations=data.recommendations, document_id=doc.id)
    db.add(review)
    db.commit()
    return review
