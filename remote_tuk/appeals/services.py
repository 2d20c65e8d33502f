"""Appeals (banding, FR.AK.04; issue 15 #3): a candidate appeals a decided session within the LSP's window, with
reasons; an LSP admin assigns a reviewer who is not the original assessor; the reviewer studies the session in the
review room and decides (upheld / rejected, with reasons); the candidate sees the outcome on their dashboard.

Every step is a document in the appeal's own evidence chain (the session's chain is closed at its decision), linked
to the session's chain (its opening names that chain's head; the session's bundle holds it). A decided session's
unit verdicts change only here: an upheld appeal writes each changed verdict as a new version of the unit decision
(the old one is kept), logged in the appeal's chain.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import Role, User
from remote_tuk.appeals.models import CLOSED, DEFAULT_WINDOW_DAYS, Appeal, AppealSetting, AppealStatus
from remote_tuk.appeals.schemas import AssignIn, DecideIn, SubmitIn, WindowIn
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, NotFound, ValidationFailed
from remote_tuk.live.models import UnitDecision, Verdict
from remote_tuk.records.links import linkable

S = SessionState
SUBMITTED, ASSIGNED, DECIDED = "appeal.submitted", "appeal.assigned", "appeal.decided"
VERDICT_CHANGED = "assessment.unit_decision"
APPEAL_SUBMITTED, APPEAL_ASSIGNED, APPEAL_DECIDED = "appeal_submitted", "appeal_assigned", "appeal_decided"
audit.KIND_LABELS.setdefault(APPEAL_SUBMITTED, "Banding diajukan")
audit.KIND_LABELS.setdefault(APPEAL_ASSIGNED, "Penelaah banding ditugaskan")
audit.KIND_LABELS.setdefault(APPEAL_DECIDED, "Banding diputuskan")


class AppealRefused(Conflict):
    code = "appeal_refused"


# --- the LSP's window -----------------------------------------------------------------------------------------------


def setting(db: Session) -> AppealSetting:
    row = db.scalar(select(AppealSetting).order_by(AppealSetting.id).limit(1))
    if row is None:
        row = AppealSetting(window_days=DEFAULT_WINDOW_DAYS)
        db.add(row)
        db.flush()
    return row


def save_window(db: Session, data: WindowIn, *, actor: User) -> AppealSetting:
    row = setting(db)
    row.window_days = data.window_days
    audit.record(db, audit.LSP_UPDATED, actor_id=actor.id, what="appeal_window", window_days=data.window_days)
    db.commit()
    return row


def decided_at(session: AssessmentSession) -> datetime | None:
    return next((t.at for t in reversed(session.transitions) if t.to_state is S.DECIDED), None)


def window_ends(db: Session, session: AssessmentSession) -> datetime | None:
    at = decided_at(session)
    return None if at is None else at + timedelta(days=setting(db).window_days)


# --- evidence -------------------------------------------------------------------------------------------------------


def _append(store: Any, appeal: Appeal, type_: str, doc: dict[str, Any], by: User) -> int:
    receipt = store.append(
        appeal.evidence_chain, type_,
        json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str).encode(),
        metadata={"appeal": appeal.id, "session": appeal.session.public_id},
        actor=(by.role.value, str(by.id)), candidate_id=str(appeal.candidate_id), commit_plaintext=True)
    return int(receipt.log_index)


# --- the steps ------------------------------------------------------------------------------------------------------


def open_appeal(db: Session, user: User, session: AssessmentSession) -> Appeal | None:
    return db.scalar(select(Appeal).where(Appeal.session_id == session.id, Appeal.status.not_in(CLOSED)))


def submit(db: Session, store: Any, user: User, public_id: str, data: SubmitIn, *, now: datetime | None = None
           ) -> Appeal:
    """The candidate appeals their own decided session, within the window, with reasons."""
    if user.role is not Role.CANDIDATE:
        raise NotFound("Sesi tidak ditemukan.")
    session = assessment.get_session_for(db, user, public_id)  # another candidate's session: 404
    if session.state is not S.DECIDED:
        raise AppealRefused("Banding dapat diajukan setelah sesi diputuskan.")
    ends = window_ends(db, session)
    now = now or utcnow()
    if ends is None or now > ends:
        raise AppealRefused(f"Batas waktu banding ({setting(db).window_days} hari setelah keputusan) sudah lewat.")
    if open_appeal(db, user, session) is not None:
        raise AppealRefused("Banding untuk sesi ini sedang diproses.")
    n = 1 + int(db.scalar(select(func.count()).select_from(Appeal).where(Appeal.session_id == session.id)) or 0)
    chain = f"banding-{session.public_id}-{n}"
    # linked to the session's chain: its opening names that chain's head, and the session's bundle holds it
    store.open_session(chain, {"kind": "appeal", "form": "FR.AK.04", "session": session.public_id},
                       actor=(user.role.value, str(user.id)), link_to=linkable(store, [session.public_id]))
    appeal = Appeal(session_id=session.id, candidate_id=user.id, reasons=data.reasons, evidence_chain=chain,
                    submitted_at=now, submitted_log_index=0)
    appeal.session = session
    db.add(appeal)
    db.flush()
    appeal.submitted_log_index = _append(store, appeal, SUBMITTED, {"reasons": data.reasons, "at": now.isoformat(),
                                                                    "window_ends": ends.isoformat()}, user)
    audit.record(db, APPEAL_SUBMITTED, actor_id=user.id, session=session.public_id, appeal=appeal.id)
    db.commit()
    return appeal


def _get(db: Session, appeal_id: int) -> Appeal:
    appeal = db.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFound("Banding tidak ditemukan.")
    return appeal


def assign(db: Session, store: Any, user: User, appeal_id: int, data: AssignIn) -> Appeal:
    """An LSP admin names the reviewer: an active assessor who is not the session's assessor."""
    if user.role is not Role.LSP_ADMIN:
        raise NotFound("Banding tidak ditemukan.")
    appeal = _get(db, appeal_id)
    if appeal.status in CLOSED:
        raise AppealRefused("Banding ini sudah diputuskan.")
    reviewer = db.get(User, data.reviewer_id)
    if reviewer is None or reviewer.role is not Role.ASSESSOR or not reviewer.active:
        raise ValidationFailed("Penelaah harus asesor yang aktif.", details={"reviewer_id": "tidak valid"})
    if reviewer.id == appeal.session.schedule.assessor_id:
        raise ValidationFailed("Penelaah banding tidak boleh asesor yang memutuskan sesi ini.",
                               details={"reviewer_id": "asesor asli"})
    now = utcnow()
    appeal.reviewer_id, appeal.assigned_by_id, appeal.assigned_at = reviewer.id, user.id, now
    appeal.status = AppealStatus.ASSIGNED
    appeal.assigned_log_index = _append(store, appeal, ASSIGNED, {"reviewer": reviewer.id, "at": now.isoformat()},
                                        user)
    audit.record(db, APPEAL_ASSIGNED, actor_id=user.id, appeal=appeal.id, reviewer=reviewer.id)
    db.commit()
    return appeal


def is_reviewer(db: Session, user: User, session: AssessmentSession) -> bool:
    """Whether *user* reviews an appeal of *session* (the review room opens for them)."""
    if user.role is not Role.ASSESSOR:
        return False
    return db.scalar(select(Appeal.id).where(Appeal.session_id == session.id, Appeal.reviewer_id == user.id)
                     .limit(1)) is not None


def decide(db: Session, store: Any, user: User, appeal_id: int, data: DecideIn) -> Appeal:
    """The assigned reviewer decides. Upheld: each changed unit verdict becomes a new version of that unit's
    decision (the old one stays); rejected: the decision stands."""
    appeal = _get(db, appeal_id)
    if user.role is not Role.ASSESSOR or appeal.reviewer_id != user.id:
        raise NotFound("Banding tidak ditemukan.")
    if appeal.status in CLOSED:
        raise AppealRefused("Banding ini sudah diputuskan.")
    session = appeal.session
    units = {u.id: u for u in session.schedule.scheme.units}
    if data.outcome == "rejected" and data.changes:
        raise ValidationFailed("Banding yang ditolak tidak mengubah keputusan.", details={"changes": "harus kosong"})
    if data.outcome == "upheld" and not data.changes:
        raise ValidationFailed("Banding yang diterima menyebut keputusan unit yang berubah.",
                               details={"changes": "wajib diisi"})
    for c in data.changes:
        if c.unit_id not in units:
            raise ValidationFailed("Unit tidak termasuk skema sesi ini.", details={"unit_id": "tidak dikenal"})
    now = utcnow()
    changed = []
    for c in data.changes:
        version = 1 + int(db.scalar(select(func.coalesce(func.max(UnitDecision.version), 0)).where(
            UnitDecision.session_id == session.id, UnitDecision.unit_id == c.unit_id)) or 0)
        reason = f"Banding #{appeal.id} diterima: {data.reasons}"
        idx = _append(store, appeal, VERDICT_CHANGED, {"unit_id": c.unit_id, "unit": units[c.unit_id].code,
                                                       "verdict": c.verdict, "reason": reason, "version": version,
                                                       "at": now.isoformat(), "appeal": appeal.id}, user)
        db.add(UnitDecision(session_id=session.id, unit_id=c.unit_id, version=version, verdict=Verdict(c.verdict),
                            reason=reason, assessor_id=user.id, at=now, log_index=idx))
        changed.append({"unit_id": c.unit_id, "verdict": c.verdict, "version": version})
    appeal.status = AppealStatus.UPHELD if data.outcome == "upheld" else AppealStatus.REJECTED
    appeal.decision_reasons, appeal.decided_at = data.reasons, now
    appeal.decided_log_index = _append(store, appeal, DECIDED, {"outcome": data.outcome, "reasons": data.reasons,
                                                                "changes": changed, "at": now.isoformat()}, user)
    store.close_session(appeal.evidence_chain, actor=(user.role.value, str(user.id)))
    audit.record(db, APPEAL_DECIDED, actor_id=user.id, appeal=appeal.id, outcome=data.outcome)
    db.commit()
    return appeal


# --- lists ----------------------------------------------------------------------------------------------------------


def for_candidate_session(db: Session, session: AssessmentSession) -> list[Appeal]:
    return list(db.scalars(select(Appeal).where(Appeal.session_id == session.id).order_by(Appeal.id)))


def visible_to(db: Session, user: User) -> list[Appeal]:
    """Admins see every appeal; an assessor the ones they review; nobody else any."""
    stmt = select(Appeal).order_by(Appeal.id.desc())
    if user.role is Role.LSP_ADMIN:
        return list(db.scalars(stmt))
    if user.role is Role.ASSESSOR:
        return list(db.scalars(stmt.where(Appeal.reviewer_id == user.id)))
    return []


def reviewers(db: Session, appeal: Appeal) -> list[User]:
    return [u for u in db.scalars(select(User).where(User.role == Role.ASSESSOR, User.active.is_(True))
                                  .order_by(User.full_name))
            if u.id != appeal.session.schedule.assessor_id]


def appeal_json(a: Appeal) -> dict[str, Any]:
    return {"id": a.id, "session": a.session.public_id, "status": a.status.value, "reviewer_id": a.reviewer_id,
            "evidence_chain": a.evidence_chain, "submitted_log_index": a.submitted_log_index,
            "assigned_log_index": a.assigned_log_index, "decided_log_index": a.decided_log_index}
