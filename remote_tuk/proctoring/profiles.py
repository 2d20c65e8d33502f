"""The proctoring profile of each scheme (profil pengawasan): which findings are on, their hold times, the detectors'
thresholds, the identity check, fullscreen and the candidate's prompts. The LSP admin edits it per scheme (a scheme
without one uses the project's default); the live analysis takes the session's scheme's profile when it opens; the
SOP dossier states the profile in force per scheme.

Services take the database session as an argument (the live analysis reads the profile on the media hub's threads).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.proctoring_profile import DEFAULT_PROCTORING_PROFILE, PROCTORING_KINDS, ProctoringProfile, Thresholds
from remote_tuk.assessment.models import AssessmentSession, Schedule
from remote_tuk.audit import services as audit
from remote_tuk.errors import NotFound, ValidationFailed
from remote_tuk.lsp.models import Scheme
from remote_tuk.proctoring.models import SchemeProctoringProfile
from remote_tuk.validation import field_errors

PROFILE_CHANGED = "proctoring_profile_changed"
audit.KIND_LABELS.setdefault(PROFILE_CHANGED, "Profil pengawasan skema diubah")

#: The fields of a kind's rule, of the thresholds and of the identity check the form edits (prompts and the voice
#: detector's settings keep their values).
RULE_FIELDS = ("hold_s", "clear_s", "repeat_s")
THRESHOLD_FIELDS = tuple(Thresholds.model_fields)
IDENTITY_FIELDS = ("interval_s", "window_s", "min_samples")


def for_scheme(db: Session, scheme_id: int) -> ProctoringProfile:
    """The scheme's profile, or the project's default."""
    row = db.get(SchemeProctoringProfile, scheme_id)
    return ProctoringProfile.model_validate(row.data) if row is not None else DEFAULT_PROCTORING_PROFILE


def is_own(db: Session, scheme_id: int) -> bool:
    return db.get(SchemeProctoringProfile, scheme_id) is not None


def for_session(db: Session, public_id: str) -> ProctoringProfile:
    """The profile of the session's scheme (the default when the session is unknown)."""
    scheme_id = db.scalar(select(Schedule.scheme_id)
                          .join(AssessmentSession, AssessmentSession.schedule_id == Schedule.id)
                          .where(AssessmentSession.public_id == public_id))
    return DEFAULT_PROCTORING_PROFILE if scheme_id is None else for_scheme(db, scheme_id)


def is_stored_for_session(db: Session, public_id: str) -> bool:
    """Whether the session's scheme has its own profile (else the caller's default applies)."""
    return db.scalar(select(SchemeProctoringProfile.scheme_id)
                     .join(Schedule, Schedule.scheme_id == SchemeProctoringProfile.scheme_id)
                     .join(AssessmentSession, AssessmentSession.schedule_id == Schedule.id)
                     .where(AssessmentSession.public_id == public_id)) is not None


def scheme_or_404(db: Session, scheme_id: int) -> Scheme:
    scheme = db.get(Scheme, scheme_id) if 0 < scheme_id <= 2_147_483_647 else None
    if scheme is None:
        raise NotFound("Skema tidak ditemukan.")
    return scheme


def _number(raw: Any) -> Any:
    text = str(raw if raw is not None else "").strip().replace(",", ".")
    return text if text else None


def parse_form(form: Any, base: ProctoringProfile) -> ProctoringProfile:
    """The profile from the admin form (over *base*, which supplies what the form does not edit). Errors name the
    field (``no_face.hold_s``, ``thresholds.covered_std``, …)."""
    data = base.model_dump()
    data["name"] = (form.get("name") or "").strip()
    data["sample_fps"] = _number(form.get("sample_fps"))
    data["fullscreen_required"] = form.get("fullscreen_required") == "1"
    data["prompts_enabled"] = form.get("prompts_enabled") == "1"
    for kind in PROCTORING_KINDS:
        rule = dict(data["rules"][kind])
        rule["enabled"] = form.get(f"{kind}.enabled") == "1"
        for f in RULE_FIELDS:
            rule[f] = _number(form.get(f"{kind}.{f}"))
        data["rules"][kind] = rule
    data["thresholds"] = {f: _number(form.get(f"thresholds.{f}")) for f in THRESHOLD_FIELDS}
    identity = dict(data["identity"])
    identity["enabled"] = form.get("identity.enabled") == "1"
    for f in IDENTITY_FIELDS:
        identity[f] = _number(form.get(f"identity.{f}"))
    data["identity"] = identity
    try:
        return ProctoringProfile.model_validate(data)
    except ValidationError as err:
        details = {}
        for loc, message in field_errors(err).items():
            parts = loc.split(".")
            if parts[0] == "rules" and len(parts) > 2:
                loc = ".".join(parts[1:])
            details[loc] = message
        raise ValidationFailed("Profil pengawasan tidak valid.", details=details) from err


def save(db: Session, scheme: Scheme, profile: ProctoringProfile, *, actor_id: int) -> None:
    row = db.get(SchemeProctoringProfile, scheme.id)
    if row is None:
        db.add(SchemeProctoringProfile(scheme_id=scheme.id, data=profile.model_dump(), updated_by=actor_id))
    else:
        row.data, row.updated_by = profile.model_dump(), actor_id
    audit.record(db, PROFILE_CHANGED, actor_id=actor_id, scheme=scheme.code, profile=profile.name)
    db.commit()


def reset(db: Session, scheme: Scheme, *, actor_id: int) -> None:
    """Back to the project's default."""
    row = db.get(SchemeProctoringProfile, scheme.id)
    if row is not None:
        db.delete(row)
    audit.record(db, PROFILE_CHANGED, actor_id=actor_id, scheme=scheme.code, profile="default")
    db.commit()
