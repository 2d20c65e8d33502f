"""FR.AK.01 as a form: its fields (scheme and units, the remote TUK with the candidate's declared location, the names
of candidate and assessor, the date, the evidence to be collected), the hash both parties sign, and reading it back."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import TukRequirementProfile
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.assessment.schemas import WIB
from remote_tuk.consent.models import ConsentForm
from remote_tuk.consent.texts import ConsentText
from remote_tuk.privacy.sealing import is_marker


def form_of(db: Session, session: AssessmentSession) -> ConsentForm | None:
    return db.scalar(select(ConsentForm).where(ConsentForm.session_id == session.id))


def form_current(form: ConsentForm | None, session: AssessmentSession) -> bool:
    """A signed FR.AK.01 that names the assessor assigned now (another assessor was assigned since: sign again)."""
    if form is None:
        return False
    fields = form_view(form)
    return fields is None or (fields.get("assessor") or {}).get("id") == session.schedule.assessor_id


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


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def form_sha256(text: ConsentText, fields: dict[str, Any]) -> str:
    """What both parties sign: the exact text (its SHA-256) and the form's fields."""
    return hashlib.sha256(canonical({"text_sha256": text.sha256, "fields": fields}).encode()).hexdigest()


def form_view(form: ConsentForm) -> dict[str, Any] | None:
    """The signed fields, or None once erased."""
    if is_marker(form.fields_json) or not form.fields_json:
        return None
    fields: dict[str, Any] = json.loads(form.fields_json)
    return fields
