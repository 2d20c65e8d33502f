"""Consent to one session: the texts offered, the candidate's answers, the FR.AK.01 form with the assessor's
co-signature, withdrawal, and what the pre-session gate asks of consent.

Every acceptance records the version and the SHA-256 of the exact text shown, and is evidence (``consent.<kind>``)
carrying that text; the FR.AK.01 form (TUK and declared location, names, date, the evidence to be collected) is hashed,
and the candidate and the assigned assessor both sign that hash. A session keeps the versions it was consented under.
A withdrawal stops processing at once: it is evidence (``consent.withdrawn``), the session is cancelled through the
state machine by the system, and the LSP gets a privacy request with its 3 × 24 h deadline.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import TukRequirementProfile
from remote_tuk.accounts.models import User
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.assessment.schemas import WIB
from remote_tuk.audit import services as audit
from remote_tuk.consent import editing, texts
from remote_tuk.consent.models import ConsentForm, ConsentWithdrawal
from remote_tuk.consent.texts import ConsentText
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, DomainError, Forbidden, ValidationFailed
from remote_tuk.live import services as live
from remote_tuk.privacy import services as privacy
from remote_tuk.privacy.sealing import is_marker
from remote_tuk.tuk.models import Consent

log = logging.getLogger(__name__)
S = SessionState
#: States in which consent is given (before the session goes live).
BEFORE_LIVE = (S.SCHEDULED, S.CHECKING, S.READY)
#: The system's reason when it cancels a session after a withdrawal.
WITHDRAWN_REASON = "Persetujuan ditarik oleh asesi."
SYSTEM = assessment.SystemActor("consent-withdrawal")

CONSENT_DECLINED = "consent_declined"
CONSENT_WITHDRAWN = "consent_withdrawn"
FORM_COSIGNED = "consent_cosigned"
audit.KIND_LABELS.setdefault(CONSENT_DECLINED, "Persetujuan asesmen ditolak")
audit.KIND_LABELS.setdefault(CONSENT_WITHDRAWN, "Persetujuan ditarik asesi")
audit.KIND_LABELS.setdefault(FORM_COSIGNED, "FR.AK.01 ditandatangani asesor")

# Evidence item types.
WITHDRAWN = "consent.withdrawn"
COSIGNED = "consent.fr_ak_01_assessor"


class ConsentRequired(Conflict):
    code = "consent_required"


class ConsentWithdrawn(Conflict):
    code = "consent_withdrawn"


# --- what is offered and what was given -----------------------------------------------------------------------------


def withdrawal_of(db: Session, session: AssessmentSession) -> ConsentWithdrawal | None:
    return db.scalar(select(ConsentWithdrawal).where(ConsentWithdrawal.session_id == session.id))


def form_of(db: Session, session: AssessmentSession) -> ConsentForm | None:
    return db.scalar(select(ConsentForm).where(ConsentForm.session_id == session.id))


def _accepted(db: Session, session: AssessmentSession) -> dict[str, Consent]:
    out: dict[str, Consent] = {}
    for c in db.scalars(select(Consent).where(Consent.session_id == session.id).order_by(Consent.id)):
        if c.accepted:
            out[c.kind] = c
        else:
            out.pop(c.kind, None)  # an earlier acceptance followed by a refusal (before withdrawal existed)
    return out


def _form_current(form: ConsentForm | None, session: AssessmentSession) -> bool:
    """A signed FR.AK.01 that names the assessor assigned now (another assessor was assigned since: sign again)."""
    if form is None:
        return False
    fields = form_view(form)
    return fields is None or (fields.get("assessor") or {}).get("id") == session.schedule.assessor_id


def consents_given(db: Session, session: AssessmentSession) -> dict[str, Consent]:
    """The accepted consent per kind, in whatever version the session was consented under; none once withdrawn.
    FR.AK.01 counts only with its signed form naming the assessor assigned now."""
    if withdrawal_of(db, session) is not None:
        return {}
    given = _accepted(db, session)
    if texts.FR_AK_01 in given and not _form_current(form_of(db, session), session):
        del given[texts.FR_AK_01]
    return given


def require_consent(db: Session, session: AssessmentSession) -> None:
    """Refuse processing for a session without (or after the withdrawal of) the candidate's consent."""
    if withdrawal_of(db, session) is not None:
        raise ConsentWithdrawn("Asesi telah menarik persetujuan; pemrosesan untuk sesi ini dihentikan.")
    missing = set(texts.KINDS) - set(consents_given(db, session))
    if missing:
        raise ConsentRequired(
            "Berikan persetujuan asesmen dan pemrosesan data pribadi terlebih dahulu.",
            details={"missing": sorted(missing)},
        )


def gate_missing(db: Session, session: AssessmentSession) -> list[str]:
    """What the pre-session gate still needs of consent: the candidate's, and the assessor's co-signature."""
    missing = []
    if set(texts.KINDS) - set(consents_given(db, session)):
        missing.append("consent")
    form = form_of(db, session)
    if form is None or form.assessor_signed_at is None or withdrawal_of(db, session) is not None:
        missing.append("assessor_signature")
    return missing


def offered(db: Session, session: AssessmentSession) -> list[ConsentText]:
    """The text of each kind for this session: the version it was consented under, else the one in force."""
    given = _accepted(db, session)
    out = []
    for kind in texts.KINDS:
        c = given.get(kind)
        text = editing.find(db, kind, c.version) if c is not None else None
        out.append(text or editing.current(db, kind))
    return out


# --- the FR.AK.01 form ----------------------------------------------------------------------------------------------


def evidence_to_collect(session: AssessmentSession, profile: TukRequirementProfile) -> list[str]:
    """What will be collected in this session, from its scheme and the TUK requirement profile in force."""
    units = session.schedule.scheme.units
    kuks = sum(len(e.kuks) for u in units for e in u.elements)
    mandatory = sum(1 for r in profile.requirements if r.mandatory)
    return [
        f"Hasil pemeriksaan persyaratan teknis TUK jarak jauh (profil \u201c{profile.name}\u201d: {mandatory} "
        f"persyaratan wajib, {len(profile.requirements) - mandatory} anjuran), diukur oleh server",
        "Foto KTP di samping wajah dan rekaman ruangan (sekitar 10 detik), dikonfirmasi asesor",
        "Rekaman video dan suara selama asesmen (rekaman peramban dan salinan server)",
        f"Observasi langsung per KUK (FR.IA.01): {kuks} KUK pada {len(units)} unit kompetensi, dengan catatan asesor",
        "Keputusan per unit kompetensi dengan alasannya (FR.AK.02)",
        "Percakapan (chat) selama sesi",
    ]


def form_fields(
    session: AssessmentSession, *, location: str, profile: TukRequirementProfile, now: datetime
) -> dict[str, Any]:
    schedule = session.schedule
    assessor = schedule.assessor
    return {
        "session": session.public_id,
        "scheme": {"code": schedule.scheme.code, "title": schedule.scheme.title},
        "units": [{"code": u.code, "title": u.title} for u in schedule.scheme.units],
        "tuk": {"kind": "TUK jarak jauh", "location": location},
        "candidate": {"id": session.candidate_id, "name": session.candidate.full_name},
        "assessor": None
        if assessor is None
        else {"id": assessor.id, "name": assessor.full_name, "met_number": assessor.met_number},
        "schedule": {"starts_at": schedule.starts_at.isoformat(), "ends_at": schedule.ends_at.isoformat()},
        "date": now.astimezone(WIB).date().isoformat(),
        "evidence": evidence_to_collect(session, profile),
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def form_sha256(text: ConsentText, fields: dict[str, Any]) -> str:
    """What both parties sign: the exact text (its SHA-256) and the form's fields."""
    return hashlib.sha256(_canonical({"text_sha256": text.sha256, "fields": fields}).encode()).hexdigest()


def form_view(form: ConsentForm) -> dict[str, Any] | None:
    """The signed fields, or None once erased."""
    if is_marker(form.fields_json) or not form.fields_json:
        return None
    fields: dict[str, Any] = json.loads(form.fields_json)
    return fields


# --- answers --------------------------------------------------------------------------------------------------------


def _candidate_only(user: User, session: AssessmentSession) -> None:
    if live.participant(user, session).role != "candidate":
        raise Forbidden("Langkah ini dilakukan oleh asesi sesi ini.")


def give_consent(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    kind: str,
    version: int,
    accept: bool,
    ip: str | None,
    location: str | None = None,
    profile: TukRequirementProfile | None = None,
    now: datetime | None = None,
) -> tuple[Consent | None, bool]:
    """Record the candidate's answer to the text of *kind* offered to this session. Returns (the acceptance or
    None when declined, whether something new was recorded): answering "yes" again records nothing new."""
    _candidate_only(user, session)
    if withdrawal_of(db, session) is not None:
        raise ConsentWithdrawn("Persetujuan untuk sesi ini sudah ditarik; sesi dibatalkan.")
    if session.state not in BEFORE_LIVE:
        raise live.InvalidState("Persetujuan diberikan sebelum sesi berlangsung.")
    text = {t.kind: t for t in offered(db, session)}[kind]
    if version != text.version:
        raise ValidationFailed(
            "Versi teks persetujuan tidak berlaku.", details={"version": f"yang berlaku: {text.version}"}
        )
    existing = consents_given(db, session).get(kind)
    if not accept:
        if existing is not None:
            raise Conflict("Persetujuan sudah diberikan; untuk membatalkannya, tarik persetujuan dari dasbor Anda.")
        # Nothing is recorded as evidence: the refusal is only noted in the security log.
        db.add(
            Consent(
                session_id=session.id,
                candidate_id=user.id,
                kind=kind,
                version=version,
                text_sha256=text.sha256,
                accepted=False,
                ip=ip,
            )
        )
        audit.record(db, CONSENT_DECLINED, actor_id=user.id, ip=ip, session=session.public_id, text=kind)
        db.commit()
        return None, True
    if existing is not None:
        return existing, False
    now = now or utcnow()
    doc: dict[str, Any] = {
        "kind": kind,
        "version": version,
        "title": text.title,
        "body": text.body,
        "text_sha256": text.sha256,
        "accepted": True,
        "candidate": user.id,
        "at": now.isoformat(),
        "ip": ip,
    }
    fields = None
    if kind == texts.FR_AK_01:
        if not location:
            raise ValidationFailed(
                "Nyatakan lokasi Anda mengikuti asesmen (TUK jarak jauh).", details={"location": "wajib diisi"}
            )
        if session.schedule.assessor is None:
            raise Conflict("Asesor belum ditugaskan untuk jadwal ini; FR.AK.01 belum dapat ditandatangani.")
        if profile is None:
            raise ValueError("FR.AK.01 needs the TUK requirement profile in force")
        fields = form_fields(session, location=location, profile=profile, now=now)
        doc["fields"], doc["form_sha256"] = fields, form_sha256(text, fields)
    editing.ensure_stored(db, now=now)
    receipt = live.append_document(
        store,
        session,
        f"consent.{kind}",
        doc,
        metadata={"kind": kind, "version": version, "text_sha256": text.sha256},
        by=user,
    )
    consent = Consent(
        session_id=session.id,
        candidate_id=user.id,
        kind=kind,
        version=version,
        text_sha256=text.sha256,
        accepted=True,
        ip=ip,
        log_index=receipt.log_index,
        at=now,
    )
    db.add(consent)
    if fields is not None:
        form = form_of(db, session) or ConsentForm(session_id=session.id, candidate_id=user.id)
        form.text_version, form.text_sha256 = text.version, text.sha256
        form.fields_json, form.form_sha256 = _canonical(fields), doc["form_sha256"]
        form.candidate_signed_at, form.candidate_log_index = now, receipt.log_index
        form.assessor_id = form.assessor_signed_at = form.assessor_log_index = None
        db.add(form)
    db.commit()
    return consent, True


def cosign(
    db: Session, store: Any, session: AssessmentSession, user: User, *, form_hash: str, now: datetime | None = None
) -> ConsentForm:
    """The assigned assessor signs the FR.AK.01 form the candidate signed (the hash they were shown)."""
    if live.participant(user, session).role != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang menandatangani FR.AK.01.")
    if withdrawal_of(db, session) is not None:
        raise ConsentWithdrawn("Asesi telah menarik persetujuan; sesi dibatalkan.")
    if session.state not in BEFORE_LIVE:
        raise live.InvalidState("FR.AK.01 ditandatangani sebelum sesi berlangsung.")
    form = form_of(db, session)
    if form is None or texts.FR_AK_01 not in consents_given(db, session):
        raise Conflict("Asesi belum menandatangani FR.AK.01.")
    if form.assessor_signed_at is not None:
        raise Conflict("FR.AK.01 sudah ditandatangani asesor.")
    if form_hash != form.form_sha256:
        raise ValidationFailed(
            "Formulir yang Anda lihat bukan yang ditandatangani asesi; muat ulang halaman.",
            details={"form_sha256": "tidak sama"},
        )
    now = now or utcnow()
    doc = {
        "form_sha256": form.form_sha256,
        "text_sha256": form.text_sha256,
        "version": form.text_version,
        "candidate_log_index": form.candidate_log_index,
        "assessor": user.id,
        "met_number": user.met_number,
        "at": now.isoformat(),
    }
    receipt = live.append_document(
        store,
        session,
        COSIGNED,
        doc,
        metadata={"form_sha256": form.form_sha256, "version": form.text_version},
        by=user,
    )
    form.assessor_id, form.assessor_signed_at, form.assessor_log_index = user.id, now, receipt.log_index
    audit.record(db, FORM_COSIGNED, actor_id=user.id, session=session.public_id)
    db.commit()
    return form


# --- withdrawal -----------------------------------------------------------------------------------------------------


def can_withdraw(db: Session, session: AssessmentSession) -> bool:
    return session.state not in privacy.CLOSED and withdrawal_of(db, session) is None and bool(_accepted(db, session))


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
    _candidate_only(user, session)
    if withdrawal_of(db, session) is not None:
        raise Conflict("Persetujuan untuk sesi ini sudah ditarik.")
    if session.state in privacy.CLOSED:
        raise live.InvalidState(
            "Sesi sudah diputuskan atau dibatalkan; ajukan permintaan tentang data Anda langsung kepada LSP."
        )
    given = _accepted(db, session)
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


# --- for pages ------------------------------------------------------------------------------------------------------


def status(db: Session, session: AssessmentSession) -> dict[str, Any]:
    """The consent of one session as the candidate's dashboard and the session pages show it."""
    given = _accepted(db, session)
    withdrawal = withdrawal_of(db, session)
    form = form_of(db, session)
    return {
        "given": {k: c.version for k, c in given.items()},
        "complete": not (set(texts.KINDS) - set(consents_given(db, session))),
        "withdrawn_at": withdrawal.at if withdrawal else None,
        "can_withdraw": can_withdraw(db, session),
        "candidate_signed_at": form.candidate_signed_at if form else None,
        "assessor_signed_at": form.assessor_signed_at if form else None,
    }
