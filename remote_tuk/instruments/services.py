"""Question banks: import/export, editing (every change publishes a new version), and the API a session uses.

Everything an admin does goes through :func:`_publish`: one new bank version per import, creation, edit or retirement,
with the SHA-256 of the version's canonical content. A session pins a version with :func:`use_bank` (and the seed of its
option shuffle), and later reads exactly that version's questions. Candidate-facing data comes only from
:func:`candidate_question`, which never loads an answer key; keys are read only by :func:`keys_for`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.datafile import Collector, RowError, invalid
from remote_tuk.errors import Conflict, NotFound, ValidationFailed
from remote_tuk.instruments import bankfile
from remote_tuk.instruments.bankfile import BankData, QuestionData
from remote_tuk.instruments.errors import StaleBankFile
from remote_tuk.instruments.models import (
    KIND_ORDER,
    AnswerKey,
    BankUse,
    BankVersion,
    Question,
    QuestionBank,
    QuestionKind,
    QuestionRevision,
)
from remote_tuk.live import services as live
from remote_tuk.lsp.models import Element, Kuk, Scheme

BANK_PUBLISHED = "question_bank_published"
audit.KIND_LABELS.setdefault(BANK_PUBLISHED, "Bank soal diterbitkan")
#: Evidence type written when a session pins a bank version.
BANK_PINNED = "instrument.bank_pinned"
PURPOSES = ("written", "oral")
CODE_PREFIX = {QuestionKind.MULTIPLE_CHOICE: "PG", QuestionKind.ESSAY: "ES", QuestionKind.ORAL: "LS"}


# --- reading a bank -----------------------------------------------------------------------------------------------


def bank_of(db: Session, scheme: Scheme, *, create: bool = False) -> QuestionBank | None:
    bank = db.scalar(select(QuestionBank).where(QuestionBank.scheme_id == scheme.id))
    if bank is None and create:
        bank = QuestionBank(scheme_id=scheme.id, version=0)
        db.add(bank)
        db.flush()
    return bank


def scheme_by_code(db: Session, code: str) -> Scheme | None:
    return db.scalar(select(Scheme).where(Scheme.code == code))


def revisions_at(db: Session, bank: QuestionBank, version: int | None = None) -> list[QuestionRevision]:
    """The questions of *version* (default: the newest), in the canonical order (unit, element, KUK, kind, code)."""
    v = bank.version if version is None else version
    rows = db.scalars(
        select(QuestionRevision)
        .join(Question)
        .where(
            Question.bank_id == bank.id,
            QuestionRevision.valid_from <= v,
            (QuestionRevision.valid_to.is_(None)) | (QuestionRevision.valid_to > v),
        )
        .options(
            selectinload(QuestionRevision.question),
            selectinload(QuestionRevision.kuk).selectinload(Kuk.element).selectinload(Element.unit),
        )
    )
    return sorted(rows, key=_order)


def _order(rev: QuestionRevision) -> tuple[Any, ...]:
    kuk = rev.kuk
    return (
        kuk.element.unit.position,
        kuk.element.position,
        kuk.position,
        KIND_ORDER[rev.question.kind],
        rev.question.code,
    )


def keys_for(db: Session, revisions: list[QuestionRevision]) -> dict[int, AnswerKey]:
    """The answer keys of *revisions* (admin, assessor and scoring only; never for a candidate)."""
    ids = [r.id for r in revisions]
    if not ids:
        return {}
    return {k.revision_id: k for k in db.scalars(select(AnswerKey).where(AnswerKey.revision_id.in_(ids)))}


def question_data(rev: QuestionRevision, key: AnswerKey | None) -> QuestionData:
    return QuestionData(
        code=rev.question.code,
        kind=rev.question.kind.value,
        unit_code=rev.kuk.element.unit.code,
        kuk_number=rev.kuk.number,
        prompt=rev.prompt,
        options=list(rev.options or []),
        correct=key.correct_option if key else None,
        expected_answer=key.expected_answer if key else "",
    )


def version_content(db: Session, bank: QuestionBank, version: int | None = None) -> list[QuestionData]:
    revs = revisions_at(db, bank, version)
    keys = keys_for(db, revs)
    return [question_data(r, keys.get(r.id)) for r in revs]


def export(db: Session, scheme: Scheme, fmt: str, version: int | None = None) -> str:
    bank = bank_of(db, scheme)
    if bank is None or bank.version == 0:
        raise NotFound("Skema ini belum memiliki bank soal.")
    v = bank.version if version is None else version
    if not 1 <= v <= bank.version:
        raise NotFound("Versi bank soal tidak ditemukan.")
    content = version_content(db, bank, v)
    if fmt == "json":
        return bankfile.to_json(scheme.code, v, content)
    if fmt == "csv":
        return bankfile.to_csv(scheme.code, content)
    raise NotFound("Format ekspor tidak dikenal.")


def kuk_index(scheme: Scheme) -> dict[tuple[str, str], Kuk]:
    return {(u.code, k.number): k for u in scheme.units for e in u.elements for k in e.kuks}


# --- publishing ---------------------------------------------------------------------------------------------------


@dataclass
class Change:
    """One question's change in a new version: create (no question), replace (data) or retire (no data)."""

    question: Question | None
    data: QuestionData | None = None
    kuk: Kuk | None = None


def _current(question: Question) -> QuestionRevision | None:
    return next((r for r in question.revisions if r.valid_to is None), None)


def _publish(db: Session, bank: QuestionBank, changes: list[Change], note: str, actor: User | None) -> BankVersion:
    version = bank.version + 1
    for ch in changes:
        question = ch.question
        if question is None:
            assert ch.data is not None
            question = Question(bank_id=bank.id, code=ch.data.code, kind=QuestionKind(ch.data.kind))
            db.add(question)
            db.flush()
        old = _current(question)
        if old is not None:
            old.valid_to = version
        if ch.data is None:
            continue
        assert ch.kuk is not None
        rev = QuestionRevision(
            question=question,
            number=1 + max((r.number for r in question.revisions), default=0),
            valid_from=version,
            kuk_id=ch.kuk.id,
            prompt=ch.data.prompt,
            options=list(ch.data.options) if question.kind is QuestionKind.MULTIPLE_CHOICE else [],
        )
        db.add(rev)
        db.flush()
        db.add(AnswerKey(revision_id=rev.id, correct_option=ch.data.correct, expected_answer=ch.data.expected_answer))
    bank.version = version
    db.flush()
    db.expire_all()
    content = version_content(db, bank, version)
    scheme = db.get(Scheme, bank.scheme_id)
    assert scheme is not None
    row = BankVersion(
        bank_id=bank.id,
        number=version,
        note=note[:255],
        question_count=len(content),
        content_sha256=bankfile.content_sha256(scheme.code, content),
        published_by_id=actor.id if actor else None,
    )
    db.add(row)
    audit.record(
        db,
        BANK_PUBLISHED,
        actor_id=actor.id if actor else None,
        scheme=scheme.code,
        version=version,
        note=row.note,
        sha256=row.content_sha256,
    )
    db.flush()
    return row


def _same(current: QuestionRevision | None, key: AnswerKey | None, data: QuestionData) -> bool:
    return current is not None and question_data(current, key).content() == data.content()


# --- import -------------------------------------------------------------------------------------------------------


def import_bank(db: Session, data: bytes, filename: str, *, actor: User | None) -> tuple[Scheme, BankVersion | None]:
    """Validate the whole file against the scheme, then publish it as the bank's next version (the file is the whole
    bank: new codes are created, changed ones replaced, missing ones retired). Nothing is written on any error;
    an unchanged bank publishes nothing (returns None)."""
    parsed = bankfile.parse(data, filename)
    scheme = scheme_by_code(db, parsed.scheme_code)
    root_field = "/scheme" if filename.lower().endswith(".json") else "scheme_code"
    if scheme is None:
        raise invalid(
            bankfile.INVALID, [RowError(parsed.line, root_field, f"skema '{parsed.scheme_code}' tidak ditemukan")]
        )
    bank = bank_of(db, scheme)
    if parsed.version is not None and bank is not None and parsed.version != bank.version:
        raise StaleBankFile(
            f"Berkas dibuat dari versi {parsed.version}, sedangkan bank soal sekarang versi {bank.version}; "
            "ekspor ulang versi terbaru lalu ubah dari sana. Tidak ada yang diimpor.",
            details=[RowError(parsed.line, "/version", "versi tidak sama dengan versi terbaru").as_dict()],
        )
    changes = _diff(db, scheme, bank, parsed)
    if bank is not None and not changes:
        return scheme, None
    bank = bank or bank_of(db, scheme, create=True)
    assert bank is not None
    version = _publish(db, bank, changes, f"Impor {filename[:200]}", actor)
    db.commit()
    return scheme, version


def _diff(db: Session, scheme: Scheme, bank: QuestionBank | None, parsed: BankData) -> list[Change]:
    col = Collector()
    kuks = kuk_index(scheme)
    units = {u.code for u in scheme.units}
    existing: dict[str, Question] = {}
    if bank is not None:
        existing = {
            q.code: q
            for q in db.scalars(
                select(Question).where(Question.bank_id == bank.id).options(selectinload(Question.revisions))
            )
        }
    currents = [r for q in existing.values() if (r := _current(q)) is not None]
    keys = keys_for(db, currents)
    changes: list[Change] = []
    for q in parsed.questions:
        kuk = kuks.get((q.unit_code, q.kuk_number))
        if q.unit_code not in units:
            col.add(q.line, q.loc("unit"), f"unit '{q.unit_code}' tidak ada dalam skema {scheme.code}")
        elif kuk is None:
            col.add(q.line, q.loc("kuk"), f"KUK {q.kuk_number} tidak ada dalam unit {q.unit_code}")
        question = existing.get(q.code)
        if question is not None and question.kind.value != q.kind:
            col.add(
                q.line,
                q.loc("type"),
                f"soal {q.code} berjenis {question.kind.value}; jenis tidak dapat diubah, gunakan kode baru",
            )
        current = _current(question) if question else None
        if not _same(current, keys.get(current.id) if current else None, q):
            changes.append(Change(question, q, kuk))
    col.raise_if_any(bankfile.INVALID)
    in_file = {q.code for q in parsed.questions}
    changes += [Change(q) for code, q in sorted(existing.items()) if code not in in_file and _current(q) is not None]
    return changes


# --- editing in the admin pages -----------------------------------------------------------------------------------


def get_question(db: Session, scheme: Scheme, question_id: int) -> Question:
    bank = bank_of(db, scheme)
    question = db.get(Question, question_id)
    if bank is None or question is None or question.bank_id != bank.id:
        raise NotFound("Soal tidak ditemukan.")
    return question


def current_content(db: Session, question: Question) -> tuple[QuestionRevision, QuestionData] | None:
    rev = _current(question)
    if rev is None:
        return None
    return rev, question_data(rev, keys_for(db, [rev]).get(rev.id))


def next_code(db: Session, bank: QuestionBank | None, kind: QuestionKind) -> str:
    prefix = CODE_PREFIX[kind]
    codes = set() if bank is None else set(db.scalars(select(Question.code).where(Question.bank_id == bank.id)))
    n = 1
    while f"{prefix}-{n:02d}" in codes:
        n += 1
    return f"{prefix}-{n:02d}"


def _check_form(scheme: Scheme, data: QuestionData, kuk_id: int) -> Kuk:
    col = Collector()
    bankfile.validate(data, col, {})
    kuk = next((k for u in scheme.units for e in u.elements for k in e.kuks if k.id == kuk_id), None)
    if kuk is None:
        col.add(None, "kuk_id", "pilih KUK dari skema ini")
    if col.errors:
        raise ValidationFailed("Periksa isian soal.", details={e.field: e.message for e in col.errors})
    assert kuk is not None
    data.unit_code, data.kuk_number = kuk.element.unit.code, kuk.number
    return kuk


def create_question(db: Session, scheme: Scheme, data: QuestionData, kuk_id: int, *, actor: User) -> Question:
    kuk = _check_form(scheme, data, kuk_id)
    bank = bank_of(db, scheme, create=True)
    assert bank is not None
    data.code = data.code or next_code(db, bank, QuestionKind(data.kind))
    if db.scalar(select(Question.id).where(Question.bank_id == bank.id, Question.code == data.code)) is not None:
        raise ValidationFailed("Kode soal sudah dipakai.", details={"code": "kode soal sudah dipakai di bank ini"})
    _publish(db, bank, [Change(None, data, kuk)], f"Soal {data.code} dibuat", actor)
    db.commit()
    question = db.scalar(select(Question).where(Question.bank_id == bank.id, Question.code == data.code))
    assert question is not None
    return question


def update_question(db: Session, question: Question, data: QuestionData, kuk_id: int, *, actor: User) -> bool:
    """Publish the edited question as a new bank version; False (nothing published) if nothing changed."""
    bank = db.get(QuestionBank, question.bank_id)
    assert bank is not None
    data.code, data.kind = question.code, question.kind.value
    kuk = _check_form(bank.scheme, data, kuk_id)
    found = current_content(db, question)
    if found is None:
        raise Conflict("Soal ini sudah dipensiunkan; buat soal baru.")
    if found[1].content() == data.content():
        return False
    _publish(db, bank, [Change(question, data, kuk)], f"Soal {question.code} diubah", actor)
    db.commit()
    return True


def retire_question(db: Session, question: Question, *, actor: User) -> None:
    bank = db.get(QuestionBank, question.bank_id)
    assert bank is not None
    if _current(question) is None:
        raise Conflict("Soal ini sudah dipensiunkan.")
    _publish(db, bank, [Change(question)], f"Soal {question.code} dipensiunkan", actor)
    db.commit()


def banks_overview(db: Session) -> list[dict[str, Any]]:
    """Every scheme with its bank's newest version and its questions counted by kind."""
    out = []
    for scheme in db.scalars(select(Scheme).order_by(Scheme.code)):
        bank = bank_of(db, scheme)
        counts = {k: 0 for k in QuestionKind}
        if bank is not None:
            for rev in revisions_at(db, bank):
                counts[rev.question.kind] += 1
        out.append({"scheme": scheme, "bank": bank, "counts": counts})
    return out


# --- a session's use of a bank (for the written test and the oral questions) --------------------------------------


def use_bank(db: Session, store: Any, session: AssessmentSession, purpose: str, *, actor: User | None) -> BankUse:
    """Pin the scheme's newest bank version for *purpose* in this session (idempotent: the first pin stays) and log
    it as evidence, with the seed of the option shuffle, so the questions a candidate saw can be reconstructed."""
    if purpose not in PURPOSES:
        raise ValidationFailed("Tujuan pemakaian bank soal tidak dikenal.", details={"purpose": "pilihan tidak valid"})
    use = db.scalar(select(BankUse).where(BankUse.session_id == session.id, BankUse.purpose == purpose))
    if use is not None:
        return use
    if session.state in (SessionState.DECIDED, SessionState.CANCELLED):
        raise live.InvalidState("Sesi sudah ditutup; bank soal tidak dapat dipakai lagi.")
    bank = bank_of(db, session.schedule.scheme)
    if bank is None or bank.version == 0:
        raise Conflict("Skema sesi ini belum memiliki bank soal.")
    version = db.scalar(select(BankVersion).where(BankVersion.bank_id == bank.id, BankVersion.number == bank.version))
    assert version is not None
    use = BankUse(session_id=session.id, bank_id=bank.id, version=bank.version, purpose=purpose)
    use.seed = secrets.token_hex(32)
    doc = {
        "scheme": session.schedule.scheme.code,
        "purpose": purpose,
        "bank_version": version.number,
        "content_sha256": version.content_sha256,
        "shuffle_seed": use.seed,
        "shuffle": "options sorted by SHA-256(seed:uid:index), docs/QUESTION-BANK-FORMAT.md",
    }
    receipt = live.append_document(
        store,
        session,
        BANK_PINNED,
        doc,
        metadata={"purpose": purpose, "bank_version": version.number},
        by=actor,
    )
    use.log_index = receipt.log_index
    db.add(use)
    db.commit()
    return use


def use_of(db: Session, session: AssessmentSession, purpose: str) -> BankUse | None:
    return db.scalar(select(BankUse).where(BankUse.session_id == session.id, BankUse.purpose == purpose))


def questions_of(db: Session, use: BankUse, kinds: tuple[QuestionKind, ...] = tuple(QuestionKind)) -> list[Any]:
    bank = db.get(QuestionBank, use.bank_id)
    assert bank is not None
    return [r for r in revisions_at(db, bank, use.version) if r.question.kind in kinds]


def option_order(seed: str, uid: str, count: int) -> list[int]:
    """The order a candidate sees the options in: the author's indices sorted by SHA-256(``seed:uid:index``).
    Position ``p`` on the candidate's screen shows the author's option ``option_order(...)[p]``."""
    return sorted(range(count), key=lambda i: hashlib.sha256(f"{seed}:{uid}:{i}".encode()).digest())


def candidate_question(rev: QuestionRevision, use: BankUse) -> dict[str, Any]:
    """What a candidate may see of a question: never the key, options in the session's shuffled order.
    The only serializer for candidate-facing responses and socket payloads."""
    out: dict[str, Any] = {"uid": rev.uid, "kind": rev.question.kind.value, "prompt": rev.prompt}
    if rev.question.kind is QuestionKind.MULTIPLE_CHOICE:
        options = list(rev.options or [])
        out["options"] = [options[i] for i in option_order(use.seed, rev.uid, len(options))]
    return out


def assessor_question(rev: QuestionRevision, key: AnswerKey | None) -> dict[str, Any]:
    """A question with its key and KUK, for the assessor's and the admin's pages."""
    data = question_data(rev, key)
    return {**data.content(), "uid": rev.uid, "kuk_id": rev.kuk_id, "kuk_text": rev.kuk.text}


def is_correct(use: BankUse, rev: QuestionRevision, key: AnswerKey, shown_index: int) -> bool:
    """Score a multiple-choice answer given as the position the candidate chose on their (shuffled) screen."""
    order = option_order(use.seed, rev.uid, len(rev.options or []))
    return 0 <= shown_index < len(order) and order[shown_index] == key.correct_option
