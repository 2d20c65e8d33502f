"""Recording security events in the append-only audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.audit.models import AuditEvent
from remote_tuk.db import utcnow

# Kinds of events (stable identifiers; the UI labels them).
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
TOTP_ENROLLED = "totp_enrolled"
TOTP_FAILED = "totp_failed"
JOIN_LINK_CREATED = "join_link_created"
JOIN_LINK_USED = "join_link_used"
JOIN_LINK_REFUSED = "join_link_refused"
USER_CREATED = "user_created"
ROLE_CHANGED = "role_changed"
USER_DEACTIVATED = "user_deactivated"
USER_ACTIVATED = "user_activated"
SCHEDULE_CREATED = "schedule_created"
SCHEDULE_CHANGED = "schedule_changed"
ASSESSOR_ASSIGNED = "assessor_assigned"
CANDIDATE_ADDED = "candidate_added"
AUDITOR_GRANTED = "auditor_granted"
AUDITOR_REVOKED = "auditor_revoked"
SESSION_STATE = "session_state"
SCHEME_IMPORTED = "scheme_imported"
LSP_UPDATED = "lsp_updated"

KIND_LABELS = {
    LOGIN: "Masuk",
    LOGIN_FAILED: "Gagal masuk",
    LOGOUT: "Keluar",
    PASSWORD_CHANGED: "Kata sandi diubah",
    TOTP_ENROLLED: "TOTP didaftarkan",
    TOTP_FAILED: "Kode TOTP salah",
    JOIN_LINK_CREATED: "Tautan masuk dibuat",
    JOIN_LINK_USED: "Tautan masuk dipakai",
    JOIN_LINK_REFUSED: "Tautan masuk ditolak",
    USER_CREATED: "Pengguna dibuat",
    ROLE_CHANGED: "Peran diubah",
    USER_DEACTIVATED: "Pengguna dinonaktifkan",
    USER_ACTIVATED: "Pengguna diaktifkan",
    SCHEDULE_CREATED: "Jadwal dibuat",
    SCHEDULE_CHANGED: "Jadwal diubah",
    ASSESSOR_ASSIGNED: "Asesor ditugaskan",
    CANDIDATE_ADDED: "Asesi ditambahkan",
    AUDITOR_GRANTED: "Akses auditor diberikan",
    AUDITOR_REVOKED: "Akses auditor dicabut",
    SESSION_STATE: "Status sesi berubah",
    SCHEME_IMPORTED: "Skema diimpor",
    LSP_UPDATED: "Profil LSP diubah",
}


def record(
    db: Session,
    kind: str,
    /,
    *,
    actor_id: int | None = None,
    subject: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one event (flushed with the caller's transaction)."""
    event = AuditEvent(kind=kind, actor_id=actor_id, subject=subject, ip=ip, detail=detail, at=now or utcnow())
    db.add(event)
    return event


def count_recent(db: Session, kind: str, *, subject: str, window: timedelta, now: datetime | None = None) -> int:
    since = (now or utcnow()) - window
    stmt = select(func.count()).where(AuditEvent.kind == kind, AuditEvent.subject == subject, AuditEvent.at >= since)
    return int(db.scalar(stmt) or 0)
