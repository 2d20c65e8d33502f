"""Live scoring: the assessor's K/BK marks per KUK (FR.IA.01, observation), and the decision per unit (FR.AK.02),
which follows the evidence (``remote_tuk.assessment.evidence``): K only when every KUK of the unit has evidence for K;
BK always with a reason. The observation marks are the first evidence provider."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment import evidence as unit_evidence
from remote_tuk.assessment.evidence import KukEvidence
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Forbidden, ValidationFailed
from remote_tuk.live.clock import live_elapsed
from remote_tuk.live.models import KukMark, UnitDecision, Verdict
from remote_tuk.live.services import DECISION, MARK, InvalidState, append_document, participant
from remote_tuk.lsp.models import Element, Kuk, Unit

S = SessionState


class KukEvidenceMissing(ValidationFailed):
    code = "kuk_evidence_missing"


def _require_assessor(user: User, session: AssessmentSession) -> None:
    if participant(user, session).role != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang dapat menilai.")


def _kuk_of_session(db: Session, session: AssessmentSession, kuk_id: int) -> Kuk:
    kuk = db.scalar(
        select(Kuk).join(Element).join(Unit).where(Kuk.id == kuk_id, Unit.scheme_id == session.schedule.scheme_id)
    )
    if kuk is None:
        raise ValidationFailed("KUK tidak termasuk skema sesi ini.", details={"kuk_id": "tidak dikenal"})
    return kuk


# --- KUK marks (observation) -------------------------------------------------------------------------------------


def add_mark(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    kuk_id: int,
    verdict: Verdict,
    note: str,
    client_media_s: float | None,
) -> KukMark:
    _require_assessor(user, session)
    if session.state not in (S.LIVE, S.PAUSED, S.ENDED):
        raise InvalidState("KUK dinilai saat sesi berlangsung atau sebelum keputusan.")
    kuk = _kuk_of_session(db, session, kuk_id)
    version = 1 + int(
        db.scalar(
            select(func.coalesce(func.max(KukMark.version), 0)).where(
                KukMark.session_id == session.id, KukMark.kuk_id == kuk.id
            )
        )
        or 0
    )
    at = utcnow()
    media_s = live_elapsed(session, at)  # the session media clock: the same moment in both recordings
    doc = {
        "kuk_id": kuk.id,
        "kuk": kuk.number,
        "unit": kuk.element.unit.code,
        "verdict": verdict.value,
        "note": note,
        "media_s": round(media_s, 3),
        "client_media_s": client_media_s,
        "version": version,
        "at": at.isoformat(),
    }
    receipt = append_document(
        store,
        session,
        MARK,
        doc,
        metadata={"kuk_id": kuk.id, "version": version},
        by=user,
        media_range={"start_ms": int(media_s * 1000), "end_ms": int(media_s * 1000)},
    )
    mark = KukMark(
        session_id=session.id,
        kuk_id=kuk.id,
        version=version,
        verdict=verdict,
        note=note,
        media_s=media_s,
        client_media_s=client_media_s,
        assessor_id=user.id,
        at=at,
        log_index=receipt.log_index,
        entry_hash=receipt.entry_hash,
    )
    db.add(mark)
    db.commit()
    return mark


def mark_json(m: KukMark) -> dict[str, Any]:
    return {
        "kuk_id": m.kuk_id,
        "version": m.version,
        "verdict": m.verdict.value,
        "note": m.note,
        "media_s": round(m.media_s, 3),
        "client_media_s": m.client_media_s,
        "at": m.at.isoformat(),
        "log_index": m.log_index,
    }


def marks(db: Session, session: AssessmentSession) -> tuple[list[KukMark], list[KukMark]]:
    history = list(
        db.scalars(select(KukMark).where(KukMark.session_id == session.id).order_by(KukMark.kuk_id, KukMark.version))
    )
    current: dict[int, KukMark] = {}
    for m in history:
        current[m.kuk_id] = m
    return list(current.values()), history


def observation_evidence(db: Session, session: AssessmentSession) -> Iterable[KukEvidence]:
    """Evidence provider: the current version of each KUK mark (live observation, FR.IA.01)."""
    current, _history = marks(db, session)
    for m in current:
        yield KukEvidence(
            kuk_id=m.kuk_id,
            source="observation",
            verdict="K" if m.verdict is Verdict.K else "BK",
            label="Observasi langsung (FR.IA.01)",
            ref={"log_index": m.log_index, "version": m.version, "media_s": round(m.media_s, 3),
                 "at": m.at.isoformat()},
        )


# --- unit decisions ----------------------------------------------------------------------------------------------


def add_decision(
    db: Session, store: Any, session: AssessmentSession, user: User, *, unit_id: int, verdict: Verdict, reason: str
) -> UnitDecision:
    _require_assessor(user, session)
    if session.state is not S.ENDED:
        raise InvalidState("Keputusan per unit dicatat setelah sesi selesai dan sebelum sesi diputuskan.")
    unit = db.scalar(select(Unit).where(Unit.id == unit_id, Unit.scheme_id == session.schedule.scheme_id))
    if unit is None:
        raise ValidationFailed("Unit tidak termasuk skema sesi ini.", details={"unit_id": "tidak dikenal"})
    reason = reason.strip()
    if verdict is Verdict.BK and len(reason) < 3:
        raise ValidationFailed("Keputusan BK wajib disertai alasan.", details={"reason": "wajib diisi"})
    if verdict is Verdict.K:
        status = next(u for u in unit_evidence.evidence_by_unit(db, session) if u.unit_id == unit.id)
        if not status.k_allowed:
            raise _k_refused([status])
    version = 1 + int(
        db.scalar(
            select(func.coalesce(func.max(UnitDecision.version), 0)).where(
                UnitDecision.session_id == session.id, UnitDecision.unit_id == unit.id
            )
        )
        or 0
    )
    at = utcnow()
    doc = {
        "unit_id": unit.id,
        "unit": unit.code,
        "verdict": verdict.value,
        "reason": reason,
        "version": version,
        "at": at.isoformat(),
    }
    receipt = append_document(store, session, DECISION, doc, metadata={"unit_id": unit.id, "version": version}, by=user)
    decision = UnitDecision(
        session_id=session.id,
        unit_id=unit.id,
        version=version,
        verdict=verdict,
        reason=reason,
        assessor_id=user.id,
        at=at,
        log_index=receipt.log_index,
    )
    db.add(decision)
    db.commit()
    return decision


def _k_refused(units: list[unit_evidence.UnitEvidence]) -> KukEvidenceMissing:
    lacking = {u.code: [k.number for k in u.lacking] for u in units}
    listed = "; ".join(f"{code}: KUK {', '.join(kuks)}" for code, kuks in lacking.items())
    return KukEvidenceMissing(
        f"Kompeten (K) hanya jika setiap KUK unit memiliki bukti K. Belum ada bukti K untuk {listed}.",
        details={"kuk": lacking},
    )


def decision_json(d: UnitDecision) -> dict[str, Any]:
    return {
        "unit_id": d.unit_id,
        "version": d.version,
        "verdict": d.verdict.value,
        "reason": d.reason,
        "at": d.at.isoformat(),
    }


def decisions(db: Session, session: AssessmentSession) -> dict[int, UnitDecision]:
    current: dict[int, UnitDecision] = {}
    for d in db.scalars(
        select(UnitDecision)
        .where(UnitDecision.session_id == session.id)
        .order_by(UnitDecision.unit_id, UnitDecision.version)
    ):
        current[d.unit_id] = d
    return current


def require_decisions_follow_evidence(db: Session, session: AssessmentSession, to: SessionState, _by: User) -> None:
    """Guard ``ended → decided``: every unit of the scheme has a decision, and every K decision still has evidence for
    K on every KUK (a mark changed to BK after the decision makes the decision stale)."""
    if to is not S.DECIDED:
        return
    done = decisions(db, session)
    missing = [u.code for u in session.schedule.scheme.units if u.id not in done]
    if missing:
        raise ValidationFailed(
            "Catat keputusan untuk setiap unit sebelum memutuskan sesi.", details={"units": ", ".join(missing)}
        )
    stale = [
        u
        for u in unit_evidence.evidence_by_unit(db, session)
        if done[u.unit_id].verdict is Verdict.K and not u.k_allowed
    ]
    if stale:
        raise _k_refused(stale)
