"""Consent to one session: the texts offered, the candidate's answers, the assessor's co-signature of FR.AK.01, and
what the pre-session gate asks of consent (the form itself: ``consent.form``; withdrawal: ``consent.withdrawal``).

Every acceptance records the version and the SHA-256 of the exact text shown, and is evidence (``consent.<kind>``)
carrying that text; the FR.AK.01 form (TUK and declared location, names, date, the evidence to be collected) is hashed,
and the candidate and the assigned assessor both sign that hash. A session keeps the versions it was consented under;
once consent is withdrawn, nothing counts as given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import TukRequirementProfile
from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.consent import editing, texts
from remote_tuk.consent.form import canonical, form_current, form_fields, form_of, form_sha256
from remote_tuk.consent.models import ConsentForm, ConsentWithdrawal
from remote_tuk.consent.texts import ConsentText
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, ValidationFailed
from remote_tuk.live import services as live
from remote_tuk.privacy import services as privacy
from remote_tuk.tuk.models import Consent

S = SessionState
#: States in which consent is given (before the session goes live).
BEFORE_LIVE = (S.SCHEDULED, S.CHECKING, S.READY)

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


def accepted(db: Session, session: AssessmentSession) -> dict[str, Consent]:
    out: dict[str, Consent] = {}
    for c in db.scalars(select(Consent).where(Consent.session_id == session.id).order_by(Consent.id)):
        if c.accepted:
            out[c.kind] = c
        else:
            out.pop(c.kind, None)  # an earlier acceptance followed by a refusal (before withdrawal existed)
    return out


def consents_given(db: Session, session: AssessmentSession) -> dict[str, Consent]:
    """The accepted consent per kind, in whatever version the session was consented under; none once withdrawn.
    FR.AK.01 counts only with its signed form naming the assessor assigned now."""
    if withdrawal_of(db, session) is not None:
        return {}
    given = accepted(db, session)
    if texts.FR_AK_01 in given and not form_current(form_of(db, session), session):
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
    given = accepted(db, session)
    out = []
    for kind in texts.KINDS:
        c = given.get(kind)
        text = editing.find(db, kind, c.version) if c is not None else None
        out.append(text or editing.current(db, kind))
    return out


# --- answers --------------------------------------------------------------------------------------------------------


def candidate_only(user: User, session: AssessmentSession) -> None:
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
    candidate_only(user, session)
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
        form.fields_json, form.form_sha256 = canonical(fields), doc["form_sha256"]
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


def can_withdraw(db: Session, session: AssessmentSession) -> bool:
    return session.state not in privacy.CLOSED and withdrawal_of(db, session) is None and bool(accepted(db, session))


# --- for pages ------------------------------------------------------------------------------------------------------


def status(db: Session, session: AssessmentSession) -> dict[str, Any]:
    """The consent of one session as the candidate's dashboard and the session pages show it."""
    given = accepted(db, session)
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
