"""Evidence providers for the unit decision (``remote_tuk.assessment.evidence``): the written test and the oral
questions. Registered once at start-up by :func:`register`, next to the observation marks and the portfolio."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from remote_tuk.assessment import evidence as unit_evidence
from remote_tuk.assessment.evidence import KukEvidence
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.instruments import services as bank
from remote_tuk.instruments.models import QuestionKind
from remote_tuk.live.models import Verdict
from remote_tuk.questioning import oral
from remote_tuk.questioning import services as written
from remote_tuk.questioning.models import CLOSED


def written_evidence(db: Session, session: AssessmentSession) -> Iterable[KukEvidence]:
    """A closed test only (its answers are final): each multiple-choice question is K when answered correctly and BK
    otherwise (unanswered included); each essay the assessor scored is its current score."""
    test = written.test_of(db, session)
    if test is None or test.status != CLOSED:
        return
    loaded = written._load(db, test)
    keys = bank.keys_for(db, list(loaded.revisions.values()))
    answers = written.current_answers(db, test)
    scores = written.essay_scores(db, test)
    for uid in test.questions:
        rev = loaded.revisions[uid]
        a = answers.get(uid)
        if rev.question.kind is QuestionKind.MULTIPLE_CHOICE:
            ok = written.score_mc(loaded, keys, a, uid)
            ref = {"uid": uid, "log_index": test.closed_log_index}
            if a is not None:
                ref.update(answer_log_index=a.log_index, media_s=round(a.media_s, 3), at=a.at.isoformat())
            yield KukEvidence(rev.kuk_id, "written", "K" if ok else "BK", "Tes tertulis pilihan ganda (FR.IA.05)", ref)
        elif (s := scores.get(uid)) is not None:
            ref = {"uid": uid, "log_index": s.log_index, "version": s.version, "at": s.at.isoformat()}
            if a is not None:
                ref.update(answer_log_index=a.log_index, media_s=round(a.media_s, 3))
            yield KukEvidence(rev.kuk_id, "essay", "K" if s.verdict is Verdict.K else "BK", "Esai (FR.IA.06)", ref)


def oral_evidence(db: Session, session: AssessmentSession) -> Iterable[KukEvidence]:
    """The current judgement of every oral question, at its moment of the recording."""
    for q in oral.current(db, session):
        yield KukEvidence(
            q.kuk_id, "oral", "K" if q.verdict is Verdict.K else "BK", "Pertanyaan lisan (FR.IA.07)",
            {"number": q.number, "version": q.version, "log_index": q.log_index, "media_s": round(q.media_s, 3),
             "at": q.at.isoformat()},
        )


def register() -> None:
    from remote_tuk.apl.evidence import portfolio_evidence

    for provider in (written_evidence, oral_evidence, portfolio_evidence):
        unit_evidence.register(provider)
