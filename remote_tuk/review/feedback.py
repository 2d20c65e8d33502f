"""Feedback to the candidate (FR.AK.03; issue 15 #2): after the decision the candidate reads their result per unit
with the assessor's reasons on their own page, made from the recorded decisions (nothing typed again), and
acknowledges it, with a comment if they wish. The acknowledgement names the SHA-256 of exactly what was shown and is
a document in an evidence chain of its own (the session's chain is closed at the decision), linked to the session's
chain so that the session's bundle holds it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, NotFound
from remote_tuk.live.scoring import decisions
from remote_tuk.records.links import linkable
from remote_tuk.review.models import FeedbackAck
from remote_tuk.review.schemas import AckIn

FEEDBACK_ACKNOWLEDGED = "feedback_acknowledged"
audit.KIND_LABELS.setdefault(FEEDBACK_ACKNOWLEDGED, "Umpan balik (FR.AK.03) dibaca asesi")


class FeedbackRefused(Conflict):
    code = "feedback_refused"


def feedback(db: Session, session: AssessmentSession) -> dict[str, Any]:
    """What the candidate is told: per unit the current verdict, its reason and version, and who decided."""
    units = {u.id: u for u in session.schedule.scheme.units}
    rows = []
    for unit_id, d in sorted(decisions(db, session).items()):
        u = units.get(unit_id)
        rows.append({"unit_id": unit_id, "code": u.code if u else str(unit_id), "title": u.title if u else "",
                     "verdict": d.verdict.value, "reason": d.reason, "version": d.version,
                     "decided_by": d.assessor_id})
    body = {"session": session.public_id, "units": rows}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return {"units": rows, "sha256": digest,
            "assessor": session.schedule.assessor.full_name if session.schedule.assessor else ""}


def ack_for(db: Session, session: AssessmentSession) -> FeedbackAck | None:
    return db.scalar(select(FeedbackAck).where(FeedbackAck.session_id == session.id))


def acknowledge(db: Session, store: Any, user: User, public_id: str, data: AckIn) -> FeedbackAck:
    if user.role is not Role.CANDIDATE:
        raise NotFound("Sesi tidak ditemukan.")
    session = assessment.get_session_for(db, user, public_id)  # another candidate's session: 404
    if session.state is not SessionState.DECIDED:
        raise FeedbackRefused("Umpan balik tersedia setelah sesi diputuskan.")
    if ack_for(db, session) is not None:
        raise FeedbackRefused("Umpan balik ini sudah Anda tanggapi.")
    shown = feedback(db, session)
    if shown["sha256"] != data.feedback_sha256:
        raise FeedbackRefused("Umpan balik telah berubah sejak halaman dibuka; muat ulang halaman.")
    now = utcnow()
    chain = f"umpanbalik-{session.public_id}"
    actor = (user.role.value, str(user.id))
    store.open_session(chain, {"kind": "feedback", "form": "FR.AK.03", "session": session.public_id}, actor=actor,
                       link_to=linkable(store, [session.public_id]))
    doc = {"feedback": shown["units"], "feedback_sha256": shown["sha256"], "comment": data.comment,
           "acknowledged": True, "at": now.isoformat()}
    receipt = store.append(chain, "feedback.fr_ak_03_ack",
                           json.dumps(doc, ensure_ascii=False, sort_keys=True).encode(),
                           metadata={"session": session.public_id, "form": "FR.AK.03"}, actor=actor,
                           candidate_id=str(user.id), commit_plaintext=True)
    store.close_session(chain, actor=actor)
    ack = FeedbackAck(session_id=session.id, candidate_id=user.id, comment=data.comment,
                      feedback_sha256=shown["sha256"], evidence_chain=chain, log_index=receipt.log_index, at=now)
    db.add(ack)
    audit.record(db, FEEDBACK_ACKNOWLEDGED, actor_id=user.id, session=session.public_id)
    db.commit()
    return ack
