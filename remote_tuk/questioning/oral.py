"""Oral questions during the live session (FR.IA.07).

The assessor asks a question aloud (picked from the bank version the session pins for ``oral`` use, or written on the
spot for a KUK of the scheme), summarises the candidate's answer and judges it K/BK with a note. The judgement points
at the session media clock (``remote_tuk.live.clock``) when it was recorded, so it opens the recording at the moment
of the answer, like a KUK mark. A changed judgement is a new version of the same question (``number``), with its own
moment; every version is an evidence entry ``oral.question``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Forbidden, ValidationFailed
from remote_tuk.instruments import services as bank
from remote_tuk.instruments.models import QuestionKind
from remote_tuk.live.clock import live_elapsed
from remote_tuk.live.models import Verdict
from remote_tuk.live.scoring import _kuk_of_session
from remote_tuk.live.services import InvalidState, append_document, participant
from remote_tuk.questioning.models import OralQuestion
from remote_tuk.questioning.services import commit_new

S = SessionState
ORAL = "oral.question"


def _history(db: Session, session: AssessmentSession) -> list[OralQuestion]:
    return list(
        db.scalars(
            select(OralQuestion)
            .where(OralQuestion.session_id == session.id)
            .order_by(OralQuestion.number, OralQuestion.version)
        )
    )


def current(db: Session, session: AssessmentSession) -> list[OralQuestion]:
    """The latest version of every oral question of the session, in the order they were asked."""
    out: dict[int, OralQuestion] = {}
    for q in _history(db, session):
        out[q.number] = q
    return list(out.values())


def bank_questions(db: Session, session: AssessmentSession) -> list[dict[str, Any]]:
    """The oral questions the assessor may pick, with their expected answers (assessor and witnesses only)."""
    use = bank.use_of(db, session, "oral")
    if use is not None:
        revs = bank.questions_of(db, use, (QuestionKind.ORAL,))
    else:
        b = bank.bank_of(db, session.schedule.scheme)
        revs = [] if b is None or b.version == 0 else [
            r for r in bank.revisions_at(db, b) if r.question.kind is QuestionKind.ORAL
        ]
    keys = bank.keys_for(db, revs)
    return [bank.assessor_question(r, keys.get(r.id)) for r in revs]


def record(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    uid: str | None,
    prompt: str | None,
    kuk_id: int | None,
    number: int | None,
    answer_summary: str,
    verdict: Verdict,
    note: str,
    client_media_s: float | None,
) -> OralQuestion:
    if participant(user, session).role != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang mencatat pertanyaan lisan.")
    if session.state not in (S.LIVE, S.PAUSED, S.ENDED):
        raise InvalidState("Pertanyaan lisan dicatat saat sesi berlangsung atau sebelum keputusan.")
    if number is not None:  # a new judgement of a question already asked
        previous = next((q for q in current(db, session) if q.number == number), None)
        if previous is None:
            raise ValidationFailed("Pertanyaan lisan ini tidak ada di sesi ini.", details={"number": "tidak dikenal"})
        uid, prompt, kuk = previous.uid, previous.prompt, _kuk_of_session(db, session, previous.kuk_id)
        version = previous.version + 1
    else:
        if uid:
            use = bank.use_bank(db, store, session, "oral", actor=user)
            rev = next((r for r in bank.questions_of(db, use, (QuestionKind.ORAL,)) if r.uid == uid), None)
            if rev is None:
                raise ValidationFailed("Soal lisan tidak ada di bank soal sesi ini.", details={"uid": "tidak dikenal"})
            prompt, kuk = rev.prompt, rev.kuk
        else:
            if not prompt or kuk_id is None:
                raise ValidationFailed(
                    "Pilih soal dari bank, atau tulis pertanyaan dan pilih KUK-nya.",
                    details={"prompt": "wajib diisi", "kuk_id": "wajib dipilih"},
                )
            kuk = _kuk_of_session(db, session, kuk_id)
        number = 1 + int(
            db.scalar(select(func.coalesce(func.max(OralQuestion.number), 0)).where(
                OralQuestion.session_id == session.id)) or 0
        )
        version = 1
    at = utcnow()
    media_s = live_elapsed(session, at)
    doc = {
        "number": number,
        "version": version,
        "uid": uid,
        "prompt": prompt,
        "kuk_id": kuk.id,
        "kuk": kuk.number,
        "unit": kuk.element.unit.code,
        "answer_summary": answer_summary,
        "verdict": verdict.value,
        "note": note,
        "media_s": round(media_s, 3),
        "client_media_s": client_media_s,
        "at": at.isoformat(),
    }
    receipt = append_document(
        store, session, ORAL, doc, metadata={"number": number, "version": version, "kuk_id": kuk.id}, by=user,
        media_range={"start_ms": int(media_s * 1000), "end_ms": int(media_s * 1000)},
    )
    row = OralQuestion(
        session_id=session.id, number=number, version=version, uid=uid, kuk_id=kuk.id, prompt=prompt or "",
        answer_summary=answer_summary, verdict=verdict, note=note, media_s=media_s, client_media_s=client_media_s,
        assessor_id=user.id, at=at, log_index=receipt.log_index,
    )
    return commit_new(db, row, "Pertanyaan lisan ini baru saja dicatat; muat ulang.")


def oral_json(q: OralQuestion) -> dict[str, Any]:
    return {
        "number": q.number,
        "version": q.version,
        "uid": q.uid,
        "prompt": q.prompt,
        "kuk_id": q.kuk_id,
        "answer_summary": q.answer_summary,
        "verdict": q.verdict.value,
        "note": q.note,
        "media_s": round(q.media_s, 3),
        "client_media_s": q.client_media_s,
        "at": q.at.isoformat(),
        "log_index": q.log_index,
    }
