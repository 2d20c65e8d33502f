"""FR.APL.01 / FR.APL.02 before the session: the draft, portfolio files as evidence, submission, review, the guard.

* The candidate edits a draft while the session has not started (scheduled, checking, ready); portfolio files are
  sniffed from their bytes (PDF, JPEG, PNG), size-limited and appended to the session's evidence chain at once
  (``apl.portfolio``, encrypted like the KTP snapshot). A submission is the whole document, logged as
  ``apl.submission`` (plaintext committed with a salted hash, like every short document).
* The assigned assessor reviews the newest submission before or during the session: ``proceed`` or ``not_proceed``
  with a note (``apl.review``). Viewing a portfolio file decrypts it through the evidence store, which logs the read.
* :func:`apl_guard` (on ``assessment.services.GUARDS``) refuses the move to ``checking`` (and on to ``ready``/``live``)
  while the scheme requires FR.APL.01/02 and none was submitted, and whenever the assessor's review of the newest
  submission says not to proceed — for HTTP, Socket.IO and the CLI alike.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.apl.errors import AplRequired, PortfolioGone
from remote_tuk.apl.models import NOT_PROCEED, AplForm, AplReview, AplSetting, AplSubmission, PortfolioItem
from remote_tuk.apl.schemas import Apl01, AplDraftIn
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from remote_tuk.live import services as live
from remote_tuk.lsp.models import Element, Scheme, Unit
from remote_tuk.validation import field_errors

S = SessionState
#: The candidate may change FR.APL.01/02 until the session goes live.
EDITABLE = frozenset({S.SCHEDULED, S.CHECKING, S.READY})
#: The assessor reviews before or during the session.
REVIEWABLE = frozenset({S.SCHEDULED, S.CHECKING, S.READY, S.LIVE, S.PAUSED})
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Files in the draft at once; uploads per session in all (a file taken out of the draft stays in the evidence, so
#: taking out and uploading again must not grow the evidence store without bound) and their bytes in all.
MAX_ITEMS = 20
MAX_UPLOADS = 40
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
PORTFOLIO = "apl.portfolio"
SUBMISSION = "apl.submission"
REVIEW = "apl.review"
SETTING_CHANGED = "apl_setting_changed"
audit.KIND_LABELS.setdefault(SETTING_CHANGED, "Pengaturan APL diubah")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


# --- the LSP's setting per scheme ---------------------------------------------------------------------------------


def required(db: Session, scheme_id: int) -> bool:
    row = db.get(AplSetting, scheme_id)
    return bool(row and row.required)


def settings_by_scheme(db: Session) -> dict[int, bool]:
    return {row.scheme_id: row.required for row in db.scalars(select(AplSetting))}


def set_required(db: Session, scheme_id: int, value: bool, *, actor: User) -> None:
    scheme = db.get(Scheme, scheme_id)
    if scheme is None:
        raise ValidationFailed("Skema tidak ditemukan.", details={"scheme_id": "tidak ditemukan"})
    row = db.get(AplSetting, scheme_id) or AplSetting(scheme_id=scheme_id)
    row.required, row.updated_by_id = value, actor.id
    db.add(row)
    audit.record(db, SETTING_CHANGED, actor_id=actor.id, scheme=scheme.code, required=value)
    db.commit()


# --- reading ------------------------------------------------------------------------------------------------------


def form_of(db: Session, session: AssessmentSession) -> AplForm | None:
    return db.scalar(select(AplForm).where(AplForm.session_id == session.id))


def items_of(db: Session, session: AssessmentSession, *, include_removed: bool = False) -> list[PortfolioItem]:
    stmt = select(PortfolioItem).where(PortfolioItem.session_id == session.id).order_by(PortfolioItem.id)
    if not include_removed:
        stmt = stmt.where(PortfolioItem.removed_at.is_(None))
    return list(db.scalars(stmt))


def latest_submission(db: Session, session: AssessmentSession) -> AplSubmission | None:
    return db.scalar(
        select(AplSubmission).where(AplSubmission.session_id == session.id).order_by(AplSubmission.version.desc())
    )


def latest_review(db: Session, submission: AplSubmission | None) -> AplReview | None:
    if submission is None:
        return None
    return db.scalar(
        select(AplReview).where(AplReview.submission_id == submission.id).order_by(AplReview.id.desc())
    )


def reviews_of(db: Session, session: AssessmentSession) -> list[AplReview]:
    return list(db.scalars(select(AplReview).where(AplReview.session_id == session.id).order_by(AplReview.id)))


def elements_of(db: Session, session: AssessmentSession) -> list[Element]:
    """The scheme's elements in order (FR.APL.02 has one row per element)."""
    return list(
        db.scalars(
            select(Element)
            .join(Unit)
            .where(Unit.scheme_id == session.schedule.scheme_id)
            .order_by(Unit.position, Element.position)
        )
    )


def blocking(db: Session, session: AssessmentSession) -> list[str]:
    """What FR.APL holds the session at: ``apl_submission`` (required, not sent), ``apl_not_to_proceed``."""
    submission = latest_submission(db, session)
    review = latest_review(db, submission)
    if review is not None and review.decision == NOT_PROCEED:
        return ["apl_not_to_proceed"]
    if submission is None and required(db, session.schedule.scheme_id):
        return ["apl_submission"]
    return []


def status(db: Session, session: AssessmentSession) -> dict[str, Any]:
    submission = latest_submission(db, session)
    review = latest_review(db, submission)
    form = form_of(db, session)
    return {
        "required": required(db, session.schedule.scheme_id),
        "editable": session.state in EDITABLE,
        "reviewable": session.state in REVIEWABLE,
        "submission": submission,
        "review": review,
        "draft_after_submission": bool(form and submission and form.updated_at > submission.submitted_at),
        "blocking": blocking(db, session),
    }


# --- the candidate's draft ----------------------------------------------------------------------------------------


def _candidate(user: User, session: AssessmentSession) -> None:
    if live.participant(user, session).role != "candidate":
        raise Forbidden("FR.APL.01/02 diisi oleh asesi sesi ini.")


def _editable(session: AssessmentSession) -> None:
    if session.state not in EDITABLE:
        raise live.InvalidState("Sesi sudah dimulai; FR.APL.01/02 tidak dapat diubah lagi.")


def save_draft(db: Session, session: AssessmentSession, user: User, data: AplDraftIn) -> AplForm:
    _candidate(user, session)
    _editable(session)
    elements = {e.id for e in elements_of(db, session)}
    items = {i.id for i in items_of(db, session)}
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for answer in data.apl02:
        where = f"apl02.{answer.element_id}"
        if answer.element_id not in elements:
            errors[f"{where}.element_id"] = "elemen tidak termasuk skema sesi ini"
        if any(p not in items for p in answer.portfolio):
            errors[f"{where}.portfolio"] = "bukti portofolio tidak dikenal"
        answers[str(answer.element_id)] = answer.model_dump(exclude={"element_id"})
    if errors:
        raise ValidationFailed("Data FR.APL.02 tidak valid.", details=errors)
    form = form_of(db, session) or AplForm(session_id=session.id)
    form.apl01 = data.apl01.model_dump(mode="json")
    form.apl02 = answers
    form.updated_at = utcnow()
    db.add(form)
    db.commit()
    return form


def missing_for_submission(db: Session, session: AssessmentSession, form: AplForm | None) -> dict[str, str]:
    """Every field a submission still needs, named as the page names it."""
    out: dict[str, str] = {}
    try:
        apl01 = Apl01.model_validate((form.apl01 if form else None) or {})
    except ValidationError as err:  # a draft that was valid when saved (e.g. an age limit crossed since)
        out.update({f"apl01.{k}": v for k, v in field_errors(err).items()})
    else:
        out.update({f"apl01.{name}": "wajib diisi" for name in apl01.missing()})
    answers = (form.apl02 if form else None) or {}
    live_items = {i.id for i in items_of(db, session)}
    for element in elements_of(db, session):
        answer = answers.get(str(element.id)) or {}
        where = f"apl02.{element.id}"
        if answer.get("verdict") not in ("K", "BK"):
            out[f"{where}.verdict"] = "pilih kompeten atau belum kompeten"
        offered = answer.get("evidence") or live_items & set(answer.get("portfolio") or [])
        if answer.get("verdict") == "K" and not offered:
            out[f"{where}.evidence"] = "sebutkan bukti atau lampirkan portofolio untuk elemen yang kompeten"
    return out


# --- portfolio files ----------------------------------------------------------------------------------------------


def sniff(data: bytes) -> str:
    """The file's type from its bytes: PDF (header and end-of-file marker), or a JPEG or PNG that Pillow can read."""
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]:
        return "application/pdf"
    expected = "JPEG" if data.startswith(b"\xff\xd8\xff") else "PNG" if data.startswith(b"\x89PNG\r\n\x1a\n") else None
    if expected is not None:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format
                img.verify()
        except Exception:  # noqa: BLE001 - Pillow raises many kinds for a broken file; all mean "not an image"
            fmt = None
        if fmt == expected:
            return "image/jpeg" if fmt == "JPEG" else "image/png"
    raise ValidationFailed(
        "Berkas portofolio harus PDF, JPEG atau PNG (jenis dibaca dari isi berkas, bukan dari namanya).",
        details={"file": "jenis berkas tidak didukung"},
    )


def _clean_name(filename: str) -> str:
    name = _UNSAFE_NAME.sub("_", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip(" ._")
    return name[:200] or "berkas"


def add_portfolio(
    db: Session, store: Any, session: AssessmentSession, user: User, *, data: bytes, filename: str, title: str
) -> PortfolioItem:
    _candidate(user, session)
    _editable(session)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"Berkas portofolio lebih dari {MAX_FILE_BYTES // (1024 * 1024)} MB.", details={"file": "terlalu besar"}
        )
    if not data:
        raise ValidationFailed("Berkas portofolio kosong.", details={"file": "kosong"})
    active, uploads, total = db.execute(
        select(
            func.count().filter(PortfolioItem.removed_at.is_(None)),
            func.count(),
            func.coalesce(func.sum(PortfolioItem.size), 0),
        ).where(PortfolioItem.session_id == session.id)
    ).one()
    if active >= MAX_ITEMS:
        raise Conflict(f"Paling banyak {MAX_ITEMS} berkas portofolio dalam FR.APL.")
    if uploads >= MAX_UPLOADS or total + len(data) > MAX_UPLOAD_BYTES:
        raise Conflict(
            f"Batas unggahan sesi ini tercapai ({MAX_UPLOADS} berkas atau {MAX_UPLOAD_BYTES // (1024 * 1024)} MB)."
        )
    mime = sniff(data)
    live.ensure_evidence(store, session)
    receipt = store.append(
        session.public_id,
        PORTFOLIO,
        data,
        metadata={"mime": mime, "bytes": len(data)},
        actor=live.actor(user),
        candidate_id=str(session.candidate_id),
    )
    item = PortfolioItem(
        session_id=session.id,
        uploaded_by_id=user.id,
        title=title,
        filename=_clean_name(filename),
        mime=mime,
        size=len(data),
        object_key=receipt.object_key,
        log_index=receipt.log_index,
    )
    db.add(item)
    db.commit()
    return item


def get_item(db: Session, session: AssessmentSession, item_id: int) -> PortfolioItem:
    item = db.get(PortfolioItem, item_id)
    if item is None or item.session_id != session.id:
        raise NotFound("Bukti portofolio tidak ditemukan.")
    return item


def remove_portfolio(db: Session, session: AssessmentSession, user: User, item_id: int) -> None:
    """Take an item out of the draft (the file stays in the evidence chain: it was uploaded)."""
    _candidate(user, session)
    _editable(session)
    item = get_item(db, session, item_id)
    if item.removed_at is None:
        item.removed_at = utcnow()
        db.commit()


def read_portfolio(store: Any, item: PortfolioItem, user: User) -> bytes:
    """The file, decrypted through the evidence store (which logs the read with the reader)."""
    from evidence_store.errors import KeyUnavailable

    try:
        data = store.read(item.object_key, live.actor(user))
    except KeyUnavailable as err:
        raise PortfolioGone("Isi berkas ini sudah dimusnahkan (kunci datanya dihapus); catatannya tetap ada.") from err
    assert data is not None
    return data


# --- submission and review ----------------------------------------------------------------------------------------


def item_doc(item: PortfolioItem, *, evidence: bool = True) -> dict[str, Any]:
    """A portfolio item as the submission names it (with its evidence object and log index) or as pages list it."""
    doc: dict[str, Any] = {"id": item.id, "title": item.title, "filename": item.filename, "mime": item.mime}
    doc["size"] = item.size
    if evidence:
        doc.update(object_key=item.object_key, log_index=item.log_index)
    return doc


def submit(db: Session, store: Any, session: AssessmentSession, user: User) -> AplSubmission:
    _candidate(user, session)
    _editable(session)
    form = form_of(db, session)
    missing = missing_for_submission(db, session, form)
    if missing or form is None:
        raise ValidationFailed("FR.APL.01/02 belum lengkap.", details=missing or {"apl01": "wajib diisi"})
    items = {i.id: i for i in items_of(db, session)}
    scheme = session.schedule.scheme
    candidate = session.candidate
    rows = []
    for element in elements_of(db, session):
        answer = form.apl02.get(str(element.id)) or {}
        rows.append(
            {
                "element_id": element.id,
                "unit": element.unit.code,
                "unit_title": element.unit.title,
                "element": element.number,
                "element_title": element.title,
                "verdict": answer.get("verdict"),
                "evidence": answer.get("evidence", ""),
                "portfolio": [p for p in answer.get("portfolio") or [] if p in items],
            }
        )
    previous = latest_submission(db, session)
    version = 1 + (previous.version if previous else 0)
    now = utcnow()
    doc = {
        "form": "FR.APL.01+FR.APL.02",
        "version": version,
        "session": session.public_id,
        "scheme": {"code": scheme.code, "title": scheme.title},
        "candidate": {
            "id": candidate.id,
            "name": candidate.full_name,
            "nik": candidate.nik,
            "email": candidate.email,
            "phone": candidate.phone,
        },
        "apl01": dict(form.apl01),
        "apl02": rows,
        "portfolio": [item_doc(i) for i in items.values()],
        "declaration": True,
        "submitted_at": now.isoformat(),
    }
    receipt = live.append_document(
        store, session, SUBMISSION, doc, metadata={"version": version, "portfolio": len(items)}, by=user
    )
    row = AplSubmission(
        session_id=session.id,
        version=version,
        document=doc,
        submitted_by_id=user.id,
        submitted_at=now,
        log_index=receipt.log_index,
    )
    db.add(row)
    db.commit()
    return row


def review(
    db: Session, store: Any, session: AssessmentSession, user: User, *, decision: str, note: str
) -> AplReview:
    if live.participant(user, session).role != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang meninjau FR.APL.01/02.")
    if session.state not in REVIEWABLE:
        raise live.InvalidState("Tinjauan FR.APL dicatat sebelum atau selama sesi.")
    submission = latest_submission(db, session)
    if submission is None:
        raise Conflict("Asesi belum mengirim FR.APL.01/02.")
    if decision == NOT_PROCEED and len(note) < 10:
        raise ValidationFailed(
            "Tulis alasan bila asesmen tidak dapat dilanjutkan (minimal 10 karakter).", details={"note": "wajib diisi"}
        )
    now = utcnow()
    doc = {
        "submission_version": submission.version,
        "submission_log_index": submission.log_index,
        "decision": decision,
        "note": note,
        "by": user.id,
        "at": now.isoformat(),
    }
    receipt = live.append_document(
        store, session, REVIEW, doc, metadata={"submission_version": submission.version, "decision": decision}, by=user
    )
    row = AplReview(
        session_id=session.id,
        submission_id=submission.id,
        assessor_id=user.id,
        decision=decision,
        note=note,
        at=now,
        log_index=receipt.log_index,
    )
    db.add(row)
    db.commit()
    return row


# --- the guard ----------------------------------------------------------------------------------------------------


def apl_guard(db: Session, session: AssessmentSession, to: SessionState, _actor: User) -> None:
    """Refuse the move to the TUK check (and on towards live) while FR.APL holds the session."""
    if to not in (S.CHECKING, S.READY, S.LIVE) or (to is S.LIVE and session.state is S.PAUSED):
        return
    missing = blocking(db, session)
    if not missing:
        return
    if missing == ["apl_submission"]:
        message = "Pemeriksaan TUK belum dapat dimulai: asesi belum mengirim FR.APL.01 dan FR.APL.02."
    else:
        message = "Asesor mencatat bahwa asesmen tidak dapat dilanjutkan berdasarkan FR.APL.01/02."
    raise AplRequired(message, details={"missing": missing})
