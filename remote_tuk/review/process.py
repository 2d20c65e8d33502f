"""The review of the assessment process per schedule (FR.AK.06; issue 15 #4): the LSP's reviewer answers, for each
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
from remote_tuk.errors import Forbidden
from remote_tuk.live.models import Downtime, SessionRecording
from remote_tuk.live.scoring import decisions
from remote_tuk.review import documents
from remote_tuk.review.models import ProcessReview
from remote_tuk.review.schemas import PROCESS_CHECKS, ProcessReviewIn

S = SessionState


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
    schedule = assessment.get_schedule_for(db, user, schedule_id)  # 404 for those who may not see it
    if user.role is not Role.LSP_ADMIN:
        raise Forbidden("Tinjauan proses asesmen (FR.AK.06) dicatat oleh admin LSP.")
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
    doc = documents.generate(db, settings, store, facts, actor=user)
    review = ProcessReview(schedule_id=schedule.id, reviewer_id=user.id, answers=answers, findings=data.findings,
                           recommendations=data.recommendations, document_id=doc.id)
    db.add(review)
    db.commit()
    return review
