"""Withdrawal of consent: logged as evidence, the LSP gets a request with its 3 × 24 h deadline, and the system cancels
the session through the state machine (its listeners close the live media); uploads and analysis are refused from
then on because consent is gone and the session is cancelled."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.consent.models import ConsentWithdrawal
from remote_tuk.consent.services import CONSENT_WITHDRAWN, WITHDRAWN, accepted, candidate_only, withdrawal_of
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, DomainError
from remote_tuk.live import services as live
from remote_tuk.privacy import services as privacy

log = logging.getLogger(__name__)
S = SessionState
#: The system's reason when it cancels a session after a withdrawal.
WITHDRAWN_REASON = "Persetujuan ditarik oleh asesi."
SYSTEM = assessment.SystemActor("consent-withdrawal")


def withdraw(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    reason: str,
    ip: str | None,
    emit: assessment.Emit | None = None,
    now: datetime | None = None,
) -> ConsentWithdrawal:
    """The candidate withdraws consent: logged as evidence, the LSP gets a request with its deadline, and the session
    is cancelled by the system through the state machine (``emit`` closes the live media; uploads and analysis are
    refused from then on because consent is gone and the session is cancelled)."""
    candidate_only(user, session)
    if withdrawal_of(db, session) is not None:
        raise Conflict("Persetujuan untuk sesi ini sudah ditarik.")
    if session.state in privacy.CLOSED:
        raise live.InvalidState(
            "Sesi sudah diputuskan atau dibatalkan; ajukan permintaan tentang data Anda langsung kepada LSP."
        )
    given = accepted(db, session)
    if not given:
        raise Conflict("Belum ada persetujuan yang dapat ditarik untuk sesi ini.")
    now = now or utcnow()
    state_before = session.state.value
    doc = {
        "withdrawn": sorted(given),
        "versions": {k: c.version for k, c in given.items()},
        "reason": reason,
        "state": state_before,
        "candidate": user.id,
        "at": now.isoformat(),
        "ip": ip,
    }
    receipt = live.append_document(store, session, WITHDRAWN, doc, metadata={"state": state_before}, by=user)
    withdrawal = ConsentWithdrawal(
        session_id=session.id,
        candidate_id=user.id,
        at=now,
        reason=reason,
        state_before=state_before,
        log_index=receipt.log_index,
    )
    db.add(withdrawal)
    db.flush()
    request = privacy.open_withdrawal_request(
        db, candidate_id=user.id, session_id=session.id, withdrawal_id=withdrawal.id, now=now
    )
    audit.record(db, CONSENT_WITHDRAWN, actor_id=user.id, ip=ip, session=session.public_id, state=state_before)
    db.commit()
    try:
        assessment.transition(db, session, S.CANCELLED, actor=SYSTEM, reason=WITHDRAWN_REASON, emit=emit)
    except DomainError:
        # e.g. decided a moment earlier: the withdrawal stands, and the LSP's request shows processing not stopped
        log.warning("session %s not cancelled after the withdrawal of consent", session.public_id, exc_info=True)
        db.rollback()
        return withdrawal
    request.processing_stopped_at = utcnow()
    db.commit()
    return withdrawal
