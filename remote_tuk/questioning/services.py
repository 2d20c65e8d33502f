"""The written test of a live session (FR.IA.05 multiple choice, FR.IA.06 essay).

The assessor opens it (:func:`open_test`) with questions of the bank version the session pins for ``written`` use and a
duration on the session media clock, so a pause of the session stops the test's time too. The candidate's page
autosaves each answer (:func:`save_answer`): every save is a new version and an evidence entry ``written.answer`` whose
plaintext is committed with a salted hash (answers are short and guessable). The test closes when the candidate
submits, the assessor closes it, its time is up or the session leaves live/paused (:func:`refresh`, called by every
request that touches the test: nothing is accepted after the deadline even if nobody asked in between). Closing writes
``written.closed`` with the final answers and the multiple-choice score against the key. Essays are scored K/BK by the
assessor per question, linked to the question's KUK (``written.essay_score``).

Candidate-facing data comes only from :func:`candidate_view`, built on ``instruments.services.candidate_question``: no
key, no correctness, no score. Socket notifications (:func:`notice`) carry counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, ValidationFailed
from remote_tuk.instruments import services as bank
from remote_tuk.instruments.models import BankUse, Question, QuestionKind, QuestionRevision
from remote_tuk.live.clock import live_elapsed
from remote_tuk.live.models import Verdict
from remote_tuk.live.services import InvalidState, append_document, participant
from remote_tuk.questioning.errors import NoTest, TestClosed
from remote_tuk.questioning.models import (
    BY_ASSESSOR,
    CLOSED,
    OPEN,
    SESSION_LEFT_LIVE,
    SUBMITTED,
    TIME_UP,
    EssayScore,
    WrittenAnswer,
    WrittenTest,
)

S = SessionState
T = TypeVar("T")
OPENED = "written.opened"
ANSWER = "written.answer"
CLOSED_ENTRY = "written.closed"
ESSAY_SCORE = "written.essay_score"
WRITTEN_KINDS = (QuestionKind.MULTIPLE_CHOICE, QuestionKind.ESSAY)
#: the test runs while the session is live or paused; answers are taken only while it is live (recorded, proctored)
RUNNING_STATES = (S.LIVE, S.PAUSED)
MAX_ESSAY = 10_000
REASON_LABELS = {
    SUBMITTED: "Dikirim oleh asesi",
    TIME_UP: "Waktu habis",
    BY_ASSESSOR: "Ditutup oleh asesor",
    SESSION_LEFT_LIVE: "Sesi tidak lagi berlangsung",
}

Notify = Callable[[AssessmentSession, dict[str, Any]], None]


def commit_new(db: Session, row: T, conflict: str) -> T:
    """Insert *row*; a unique constraint lost to a concurrent insert is a 409 with *conflict* (the page retries)."""
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Conflict(conflict) from None
    return row


def _role(user: User, session: AssessmentSession) -> str:
    return participant(user, session).role


def _require_assessor(user: User, session: AssessmentSession) -> None:
    if _role(user, session) != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang dapat melakukan ini.")


def test_of(db: Session, session: AssessmentSession) -> WrittenTest | None:
    return db.scalar(select(WrittenTest).where(WrittenTest.session_id == session.id))


def require_test(db: Session, session: AssessmentSession) -> WrittenTest:
    test = test_of(db, session)
    if test is None:
        raise NoTest("Tes tertulis belum dibuka untuk sesi ini.")
    return test


def remaining_s(test: WrittenTest, session: AssessmentSession) -> float:
    if test.status != OPEN:
        return 0.0
    return max(0.0, test.deadline_media_s - live_elapsed(session))


def notice(session: AssessmentSession, test: WrittenTest, kind: str, **extra: Any) -> dict[str, Any]:
    """What the ``written`` socket event says to the session's room (every page of it, the candidate's too): the
    test's status and counts, never a question, an answer, a key or a score."""
    return {"session": session.public_id, "type": kind, "status": test.status, "total": len(test.questions), **extra}


@dataclass
class Loaded:
    use: BankUse
    revisions: dict[str, QuestionRevision]


def _load(db: Session, test: WrittenTest) -> Loaded:
    use = db.get(BankUse, test.use_id)
    assert use is not None
    revs = {r.uid: r for r in bank.questions_of(db, use, WRITTEN_KINDS)}
    return Loaded(use, revs)


def _revision(db: Session, test: WrittenTest, uid: str) -> QuestionRevision:
    """One question of the test (an autosave needs only its own: kind and options)."""
    use = db.get(BankUse, test.use_id)
    assert use is not None
    code, _, number = uid.rpartition("@")
    rev = db.scalar(
        select(QuestionRevision)
        .join(Question)
        .where(Question.bank_id == use.bank_id, Question.code == code, QuestionRevision.number == int(number))
    )
    assert rev is not None  # every uid of a test was checked against the pinned version when it opened
    return rev


# --- opening --------------------------------------------------------------------------------------------------


def open_test(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    duration_s: int,
    uids: list[str] | None,
) -> WrittenTest:
    _require_assessor(user, session)
    if session.state not in RUNNING_STATES:
        raise InvalidState("Tes tertulis dibuka saat sesi berlangsung.")
    if test_of(db, session) is not None:
        raise Conflict("Tes tertulis sesi ini sudah dibuka.")
    use = bank.use_bank(db, store, session, "written", actor=user)
    available = [r.uid for r in bank.questions_of(db, use, WRITTEN_KINDS)]
    if not available:
        raise Conflict("Bank soal skema ini belum memiliki soal pilihan ganda atau esai.")
    if uids:
        unknown = [u for u in uids if u not in available]
        if unknown or len(set(uids)) != len(uids):
            raise ValidationFailed(
                "Pilih soal tertulis dari bank soal sesi ini, masing-masing sekali.",
                details={"questions": ", ".join(unknown) or "soal ganda"},
            )
        chosen = list(uids)
    else:
        chosen = available
    media_s = live_elapsed(session)
    doc = {
        "bank_version": use.version,
        "bank_pinned_log_index": use.log_index,
        "questions": chosen,
        "duration_s": duration_s,
        "opened_media_s": round(media_s, 3),
        "deadline_media_s": round(media_s + duration_s, 3),
        "at": utcnow().isoformat(),
    }
    receipt = append_document(
        store, session, OPENED, doc, metadata={"questions": len(chosen), "duration_s": duration_s}, by=user,
        media_range={"start_ms": int(media_s * 1000), "end_ms": int((media_s + duration_s) * 1000)},
    )
    test = WrittenTest(
        session_id=session.id,
        use_id=use.id,
        questions=chosen,
        duration_s=duration_s,
        opened_media_s=media_s,
        deadline_media_s=media_s + duration_s,
        status=OPEN,
        opened_by_id=user.id,
        log_index=receipt.log_index,
    )
    return commit_new(db, test, "Tes tertulis sesi ini sudah dibuka.")


# --- answers ----------------------------------------------------------------------------------------------------


def current_answers(db: Session, test: WrittenTest) -> dict[str, WrittenAnswer]:
    out: dict[str, WrittenAnswer] = {}
    for a in db.scalars(
        select(WrittenAnswer).where(WrittenAnswer.test_id == test.id).order_by(WrittenAnswer.uid, WrittenAnswer.version)
    ):
        out[a.uid] = a
    return out


def save_answer(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    uid: str,
    choice: int | None,
    text: str | None,
    notify: Notify | None = None,
) -> WrittenAnswer:
    if _role(user, session) != "candidate":
        raise Forbidden("Hanya asesi sesi ini yang menjawab tes tertulis.")
    test = require_test(db, session)
    refresh(db, store, session, test, notify=notify)
    if test.status != OPEN:
        raise TestClosed(_closed_message(test))
    if session.state is not S.LIVE:
        raise InvalidState("Sesi sedang dijeda; jawaban dapat disimpan lagi setelah sesi dilanjutkan.")
    if uid not in test.questions:
        raise ValidationFailed("Soal ini tidak termasuk tes Anda.", details={"uid": "tidak dikenal"})
    rev = _revision(db, test, uid)
    doc: dict[str, Any] = {"uid": uid}
    if rev.question.kind is QuestionKind.MULTIPLE_CHOICE:
        n = len(rev.options or [])
        if choice is None or text is not None:
            raise ValidationFailed("Soal pilihan ganda dijawab dengan memilih satu opsi.", details={"choice": "wajib"})
        if not 0 <= choice < n:
            raise ValidationFailed("Pilihan jawaban tidak ada.", details={"choice": f"0 sampai {n - 1}"})
        doc["choice"] = choice
        doc["option"] = "ABCDEF"[choice]
    else:
        if text is None or choice is not None:
            raise ValidationFailed("Soal esai dijawab dengan teks.", details={"text": "wajib"})
        if len(text) > MAX_ESSAY:
            raise ValidationFailed("Jawaban terlalu panjang.", details={"text": f"maksimal {MAX_ESSAY} karakter"})
        doc["text"] = text
    version = 1 + int(
        db.scalar(
            select(func.coalesce(func.max(WrittenAnswer.version), 0)).where(
                WrittenAnswer.test_id == test.id, WrittenAnswer.uid == uid
            )
        )
        or 0
    )
    at = utcnow()
    media_s = live_elapsed(session, at)
    doc.update(version=version, media_s=round(media_s, 3), at=at.isoformat())
    receipt = append_document(
        store, session, ANSWER, doc, metadata={"uid": uid, "version": version}, by=user,
        media_range={"start_ms": int(media_s * 1000), "end_ms": int(media_s * 1000)},
    )
    answer = WrittenAnswer(
        test_id=test.id,
        uid=uid,
        version=version,
        choice=choice if rev.question.kind is QuestionKind.MULTIPLE_CHOICE else None,
        text=text or "",
        media_s=media_s,
        at=at,
        log_index=receipt.log_index,
        entry_hash=receipt.entry_hash,
    )
    commit_new(db, answer, "Jawaban sedang disimpan; coba lagi.")  # the same question saved twice at once
    if notify is not None:
        notify(session, notice(session, test, "progress", answered=answered_count(db, test)))
    return answer


def answered_count(db: Session, test: WrittenTest) -> int:
    return int(db.scalar(select(func.count(func.distinct(WrittenAnswer.uid))).where(WrittenAnswer.test_id == test.id))
               or 0)


# --- closing ------------------------------------------------------------------------------------------------------


def _closed_message(test: WrittenTest) -> str:
    if test.closed_reason == TIME_UP:
        return "Waktu tes tertulis sudah habis; jawaban tidak dapat diubah lagi."
    return "Tes tertulis sudah ditutup; jawaban tidak dapat diubah lagi."


def refresh(
    db: Session, store: Any, session: AssessmentSession, test: WrittenTest, *, notify: Notify | None = None
) -> bool:
    """Close the test if its time is up or the session left live/paused. Returns whether this call closed it."""
    if test.status != OPEN:
        return False
    if session.state not in RUNNING_STATES:
        return close(db, store, session, test, SESSION_LEFT_LIVE, None, notify=notify)
    if live_elapsed(session) >= test.deadline_media_s:
        return close(db, store, session, test, TIME_UP, None, notify=notify)
    return False


def score_mc(loaded: Loaded, keys: dict[int, Any], answer: WrittenAnswer | None, uid: str) -> bool:
    rev = loaded.revisions[uid]
    key = keys.get(rev.id)
    return answer is not None and answer.choice is not None and key is not None and bank.is_correct(
        loaded.use, rev, key, answer.choice
    )


def close(
    db: Session,
    store: Any,
    session: AssessmentSession,
    test: WrittenTest,
    reason: str,
    by: User | None,
    *,
    notify: Notify | None = None,
) -> bool:
    """Close the test once (a conditional update: of two closers only one writes ``written.closed``)."""
    now = utcnow()
    media_s = min(live_elapsed(session, now), test.deadline_media_s)
    won = db.execute(
        update(WrittenTest)
        .where(WrittenTest.id == test.id, WrittenTest.status == OPEN)
        .values(status=CLOSED, closed_reason=reason, closed_at=now, closed_media_s=media_s)
    ).rowcount
    db.commit()
    db.refresh(test)
    if not won:
        return False
    loaded = _load(db, test)
    keys = bank.keys_for(db, list(loaded.revisions.values()))
    answers = current_answers(db, test)
    rows = []
    correct = total = 0
    for uid in test.questions:
        rev = loaded.revisions[uid]
        a = answers.get(uid)
        row: dict[str, Any] = {
            "uid": uid,
            "kind": rev.question.kind.value,
            "kuk_id": rev.kuk_id,
            "answer_version": a.version if a else None,
            "answer_log_index": a.log_index if a else None,
        }
        if rev.question.kind is QuestionKind.MULTIPLE_CHOICE:
            ok = score_mc(loaded, keys, a, uid)
            row["correct"] = ok
            total += 1
            correct += ok
        rows.append(row)
    doc = {
        "reason": reason,
        "closed_media_s": round(media_s, 3),
        "answers": rows,
        "multiple_choice": {"correct": correct, "total": total},
        "at": now.isoformat(),
    }
    # the score stays inside the encrypted document: log metadata is plaintext and outlives a crypto-shredding
    receipt = append_document(
        store, session, CLOSED_ENTRY, doc, metadata={"reason": reason, "questions": len(test.questions)},
        by=by, media_range={"start_ms": int(media_s * 1000), "end_ms": int(media_s * 1000)},
    )
    test.closed_log_index = receipt.log_index
    db.commit()
    if notify is not None:
        notify(session, notice(session, test, "closed", reason=reason))
    return True


def submit(db: Session, store: Any, session: AssessmentSession, user: User, *, notify: Notify | None = None) -> None:
    if _role(user, session) != "candidate":
        raise Forbidden("Hanya asesi sesi ini yang mengirim tes tertulis.")
    test = require_test(db, session)
    refresh(db, store, session, test, notify=notify)
    if not close(db, store, session, test, SUBMITTED, user, notify=notify):
        raise TestClosed(_closed_message(test))


def close_by_assessor(
    db: Session, store: Any, session: AssessmentSession, user: User, *, notify: Notify | None = None
) -> None:
    _require_assessor(user, session)
    test = require_test(db, session)
    if not close(db, store, session, test, BY_ASSESSOR, user, notify=notify):
        raise TestClosed("Tes tertulis sudah ditutup.")


# --- essay scores -------------------------------------------------------------------------------------------------


def essay_scores(db: Session, test: WrittenTest) -> dict[str, EssayScore]:
    out: dict[str, EssayScore] = {}
    for s in db.scalars(
        select(EssayScore).where(EssayScore.test_id == test.id).order_by(EssayScore.uid, EssayScore.version)
    ):
        out[s.uid] = s
    return out


def score_essay(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    uid: str,
    verdict: Verdict,
    note: str,
) -> EssayScore:
    _require_assessor(user, session)
    if session.state not in (S.LIVE, S.PAUSED, S.ENDED):
        raise InvalidState("Esai dinilai saat sesi berlangsung atau sebelum keputusan.")
    test = require_test(db, session)
    refresh(db, store, session, test)
    if test.status != CLOSED:
        raise Conflict("Esai dinilai setelah tes tertulis ditutup (jawaban sudah final).")
    loaded = _load(db, test)
    rev = loaded.revisions.get(uid) if uid in test.questions else None
    if rev is None or rev.question.kind is not QuestionKind.ESSAY:
        raise ValidationFailed("Soal esai ini tidak termasuk tes sesi ini.", details={"uid": "tidak dikenal"})
    answer = current_answers(db, test).get(uid)
    version = 1 + int(
        db.scalar(
            select(func.coalesce(func.max(EssayScore.version), 0)).where(
                EssayScore.test_id == test.id, EssayScore.uid == uid
            )
        )
        or 0
    )
    at = utcnow()
    doc = {
        "uid": uid,
        "kuk_id": rev.kuk_id,
        "kuk": rev.kuk.number,
        "unit": rev.kuk.element.unit.code,
        "verdict": verdict.value,
        "note": note,
        "answer_version": answer.version if answer else None,
        "answer_log_index": answer.log_index if answer else None,
        "version": version,
        "at": at.isoformat(),
    }
    receipt = append_document(
        store, session, ESSAY_SCORE, doc, metadata={"uid": uid, "kuk_id": rev.kuk_id, "version": version}, by=user
    )
    row = EssayScore(
        test_id=test.id, uid=uid, kuk_id=rev.kuk_id, version=version, verdict=verdict, note=note,
        assessor_id=user.id, at=at, log_index=receipt.log_index,
    )
    return commit_new(db, row, "Nilai esai ini baru saja disimpan; muat ulang.")


# --- views ----------------------------------------------------------------------------------------------------------


def _test_head(test: WrittenTest, session: AssessmentSession) -> dict[str, Any]:
    return {
        "status": test.status,
        "closed_reason": test.closed_reason,
        "closed_label": REASON_LABELS.get(test.closed_reason or ""),
        "duration_s": test.duration_s,
        "remaining_s": round(remaining_s(test, session), 1),
        "running": test.status == OPEN and session.state is S.LIVE,
        "total": len(test.questions),
    }


def candidate_view(db: Session, session: AssessmentSession, test: WrittenTest) -> dict[str, Any]:
    """The candidate's test: questions through ``candidate_question`` (no key, shuffled options) and their own current
    answers; no correctness and no score, during or after the test."""
    loaded = _load(db, test)
    answers = current_answers(db, test)
    questions = []
    for i, uid in enumerate(test.questions):
        q = bank.candidate_question(loaded.revisions[uid], loaded.use)
        a = answers.get(uid)
        q["number"] = i + 1
        q["answer"] = None if a is None else {"choice": a.choice, "text": a.text, "version": a.version}
        questions.append(q)
    return {**_test_head(test, session), "answered": len(answers), "questions": questions}


def assessor_view(db: Session, session: AssessmentSession, test: WrittenTest) -> dict[str, Any]:
    """The assessor's (and a witness's) test: questions with their keys and KUK, the candidate's answers (the chosen
    option mapped back to the author's order), the multiple-choice score and the essay scores."""
    loaded = _load(db, test)
    keys = bank.keys_for(db, list(loaded.revisions.values()))
    answers = current_answers(db, test)
    scores = essay_scores(db, test)
    out = []
    correct = mc_total = scored = essays = 0
    for i, uid in enumerate(test.questions):
        rev = loaded.revisions[uid]
        a = answers.get(uid)
        q = bank.assessor_question(rev, keys.get(rev.id))
        q.update(number=i + 1, unit=rev.kuk.element.unit.code)
        q["answer"] = None
        if a is not None:
            q["answer"] = {"version": a.version, "log_index": a.log_index, "media_s": round(a.media_s, 3),
                           "at": a.at.isoformat(), "text": a.text}
        if rev.question.kind is QuestionKind.MULTIPLE_CHOICE:
            mc_total += 1
            ok = score_mc(loaded, keys, a, uid)
            correct += ok
            q["correct_answer"] = ok
            if a is not None and a.choice is not None:
                order = bank.option_order(loaded.use.seed, uid, len(rev.options or []))
                q["answer"]["option"] = "ABCDEF"[order[a.choice]]
        else:
            essays += 1
            s = scores.get(uid)
            q["score"] = None if s is None else {"verdict": s.verdict.value, "note": s.note, "version": s.version,
                                                 "log_index": s.log_index, "at": s.at.isoformat()}
            scored += s is not None
        out.append(q)
    return {
        **_test_head(test, session),
        "answered": len(answers),
        "log_index": test.log_index,
        "closed_log_index": test.closed_log_index,
        "score": {"mc_correct": correct, "mc_total": mc_total, "essays_scored": scored, "essays_total": essays},
        "questions": out,
    }


def choosable(db: Session, session: AssessmentSession) -> list[dict[str, Any]]:
    """The written questions the assessor may choose from: the newest bank version (a test pins it when opened)."""
    use = bank.use_of(db, session, "written")
    if use is not None:
        revs = bank.questions_of(db, use, WRITTEN_KINDS)
    else:
        b = bank.bank_of(db, session.schedule.scheme)
        if b is None or b.version == 0:
            return []
        revs = [r for r in bank.revisions_at(db, b) if r.question.kind in WRITTEN_KINDS]
    return [
        {"uid": r.uid, "kind": r.question.kind.value, "prompt": r.prompt[:160], "kuk": r.kuk.number,
         "unit": r.kuk.element.unit.code}
        for r in revs
    ]

