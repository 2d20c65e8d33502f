"""Retention, privacy requests (withdrawals with their 3 × 24 h deadline), erasure, and the evidence read log.

Erasure destroys keys, never rows: ``EvidenceStore.shred_candidate`` deletes the candidate's evidence data keys and the
database key that seals their columns (chat, KUK mark notes, unit decision reasons, NIK, consent IP, FR.AK.01 fields),
logging a ``key_shred`` entry for each; the evidence chains still verify and the sealed columns read ``[dihapus]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, NotFound, ValidationFailed
from remote_tuk.lsp.services import get_lsp
from remote_tuk.privacy.models import Erasure, PrivacyPolicy, PrivacyRequest

S = SessionState
#: UU PDP: processing stops within 3 × 24 hours of a withdrawal of consent.
WITHDRAWAL_DEADLINE = timedelta(hours=72)
CLOSED = (S.DECIDED, S.CANCELLED)
LEGAL_REASON_MIN = 20

WITHDRAWAL = "withdrawal"
OPEN, HANDLED = "open", "handled"

RETENTION_CHANGED = "retention_changed"
REQUEST_HANDLED = "privacy_request_handled"
ERASED = "candidate_erased"
audit.KIND_LABELS.setdefault(RETENTION_CHANGED, "Masa retensi diubah")
audit.KIND_LABELS.setdefault(REQUEST_HANDLED, "Permintaan privasi ditangani")
audit.KIND_LABELS.setdefault(ERASED, "Data asesi dihapus")


class ErasureRefused(Conflict):
    code = "erasure_refused"


# --- retention ------------------------------------------------------------------------------------------------------


def retention_days(db: Session, default: int) -> int:
    """The LSP's retention period in days (``default``: the evidence retention of the settings)."""
    lsp = get_lsp(db)
    policy = db.scalar(select(PrivacyPolicy).where(PrivacyPolicy.lsp_id == lsp.id)) if lsp is not None else None
    return policy.retention_days if policy is not None else default


def set_retention_days(db: Session, days: int, *, actor: User) -> None:
    lsp = get_lsp(db)
    if lsp is None:
        raise Conflict("Isi profil LSP terlebih dahulu.")
    policy = db.scalar(select(PrivacyPolicy).where(PrivacyPolicy.lsp_id == lsp.id))
    old = policy.retention_days if policy is not None else None
    if policy is None:
        policy = PrivacyPolicy(lsp_id=lsp.id, retention_days=days)
        db.add(policy)
    policy.retention_days, policy.updated_by_id = days, actor.id
    audit.record(db, RETENTION_CHANGED, actor_id=actor.id, old=old, new=days)
    db.commit()


@dataclass
class Retention:
    """Where one candidate stands: sessions still open, when the retention period ends, whether erasure is due."""

    candidate: User
    sessions: list[AssessmentSession]
    open_sessions: list[AssessmentSession]
    retention_end: datetime
    erasure: Erasure | None
    due: bool = field(init=False)

    def __post_init__(self) -> None:
        self.due = self.erasure is None and not self.open_sessions and self.retention_end <= utcnow()


def _retention(
    candidate: User, sessions: list[AssessmentSession], erasure: Erasure | None, days: int
) -> Retention:
    """Retention runs from the candidate's last closed session (or the account's creation) for *days* days."""
    open_ = [s for s in sessions if s.state not in CLOSED]
    closed = [s.state_changed_at for s in sessions if s.state in CLOSED]
    start = max([candidate.created_at, *closed])
    return Retention(candidate, sessions, open_, start + timedelta(days=days), erasure)


def retention_of(db: Session, candidate: User, days: int) -> Retention:
    sessions = list(
        db.scalars(
            select(AssessmentSession)
            .where(AssessmentSession.candidate_id == candidate.id)
            .order_by(AssessmentSession.id)
        )
    )
    erasure = db.scalar(select(Erasure).where(Erasure.candidate_id == candidate.id))
    return _retention(candidate, sessions, erasure, days)


def candidates(db: Session, days: int) -> list[Retention]:
    """Every candidate's retention (three queries, however many candidates)."""
    users = list(db.scalars(select(User).where(User.role == Role.CANDIDATE).order_by(User.id)))
    sessions: dict[int, list[AssessmentSession]] = {}
    for s in db.scalars(select(AssessmentSession).order_by(AssessmentSession.id)):
        sessions.setdefault(s.candidate_id, []).append(s)
    erased = {e.candidate_id: e for e in db.scalars(select(Erasure))}
    return [_retention(u, sessions.get(u.id, []), erased.get(u.id), days) for u in users]


def get_candidate(db: Session, candidate_id: int) -> User:
    user = db.get(User, candidate_id)
    if user is None or user.role is not Role.CANDIDATE:
        raise NotFound("Asesi tidak ditemukan.")
    return user


# --- privacy requests -----------------------------------------------------------------------------------------------


def open_withdrawal_request(
    db: Session, *, candidate_id: int, session_id: int, withdrawal_id: int, now: datetime
) -> PrivacyRequest:
    request = PrivacyRequest(
        kind=WITHDRAWAL,
        candidate_id=candidate_id,
        session_id=session_id,
        withdrawal_id=withdrawal_id,
        received_at=now,
        due_at=now + WITHDRAWAL_DEADLINE,
        status=OPEN,
    )
    db.add(request)
    return request


def requests(db: Session) -> list[PrivacyRequest]:
    """Open requests first (soonest deadline first), then handled ones (latest first)."""
    rows = list(db.scalars(select(PrivacyRequest)))
    open_ = sorted((r for r in rows if r.status == OPEN), key=lambda r: r.due_at)
    done = sorted((r for r in rows if r.status != OPEN), key=lambda r: r.handled_at or r.received_at, reverse=True)
    return open_ + done


def handle_request(db: Session, request_id: int, *, note: str, actor: User, now: datetime | None = None) -> None:
    request = db.get(PrivacyRequest, request_id)
    if request is None:
        raise NotFound("Permintaan tidak ditemukan.")
    if request.status != OPEN:
        raise Conflict("Permintaan ini sudah ditangani.")
    request.status, request.handled_at, request.handled_by_id = HANDLED, now or utcnow(), actor.id
    request.handled_note = note
    audit.record(db, REQUEST_HANDLED, actor_id=actor.id, request=request.id, kind=request.kind)
    db.commit()


def notice(db: Session, days: int, now: datetime | None = None) -> dict[str, int]:
    """What the LSP admin's home page tells: open requests, overdue ones, candidates whose erasure is due."""
    now = now or utcnow()
    open_ = list(db.scalars(select(PrivacyRequest).where(PrivacyRequest.status == OPEN)))
    return {
        "open": len(open_),
        "overdue": sum(1 for r in open_ if r.due_at < now),
        "erasure_due": sum(1 for r in candidates(db, days) if r.due),
    }


# --- erasure --------------------------------------------------------------------------------------------------------


def erase_candidate(
    db: Session,
    store: Any,
    keys: Any,
    candidate: User,
    *,
    actor: User,
    confirm: str,
    legal_reason: str,
    days: int,
    now: datetime | None = None,
) -> Erasure:
    """Shred the candidate's evidence keys and database key, then record it. Refused while a session of theirs is not
    decided or cancelled, and before the end of retention unless a written legal reason is given."""
    now = now or utcnow()
    state = retention_of(db, candidate, days)
    if state.erasure is not None:
        raise Conflict("Data asesi ini sudah dihapus.")
    if confirm.strip() != candidate.username:
        raise ValidationFailed(
            "Ketik nama pengguna asesi untuk mengonfirmasi penghapusan.", details={"confirm": "tidak sama"}
        )
    if state.open_sessions:
        raise ErasureRefused(
            "Asesi masih memiliki sesi yang belum diputuskan atau dibatalkan; data tidak dapat dihapus.",
            details={"sessions": [f"{s.public_id} ({s.state.value})" for s in state.open_sessions]},
        )
    legal_reason = legal_reason.strip()
    early = now < state.retention_end
    if early and len(legal_reason) < LEGAL_REASON_MIN:
        raise ValidationFailed(
            "Masa retensi belum berakhir: tulis dasar hukum penghapusan (minimal 20 karakter).",
            details={"legal_reason": "wajib diisi sebelum masa retensi berakhir"},
        )
    # The reason goes into the evidence log in clear: it names no one.
    why = (
        "erasure by the LSP before the end of retention (legal reason recorded by the LSP)"
        if early
        else "erasure by the LSP at the end of retention"
    )
    receipts = store.shred_candidate(str(candidate.id), actor=(actor.role.value, str(actor.id)), reason=why)
    keys.forget(candidate.id)
    entries = []
    for r in receipts:
        entry = store.log.entry(r.log_index)
        entries.append({"session": entry.get("session_id"), "log_index": r.log_index, "entry_hash": r.entry_hash})
    erasure = Erasure(
        candidate_id=candidate.id,
        at=now,
        by_id=actor.id,
        retention_end=state.retention_end,
        legal_reason=legal_reason,
        shred_entries=entries,
    )
    db.add(erasure)
    _anonymise(candidate)
    from remote_tuk.invitations.services import forget_candidate

    forget_candidate(db, candidate.id)  # the addresses in the mail outbox, and mail not yet sent
    for request in db.scalars(
        select(PrivacyRequest).where(PrivacyRequest.candidate_id == candidate.id, PrivacyRequest.status == OPEN)
    ):
        request.status, request.handled_at, request.handled_by_id = HANDLED, now, actor.id
    audit.record(
        db,
        ERASED,
        actor_id=actor.id,
        candidate=candidate.id,
        keys_shredded=len(entries),
        before_retention_end=early,
    )
    db.commit()
    return erasure


def _anonymise(user: User) -> None:
    """What is not sealed goes too: name, contact, sign-in. The NIK's keyed hash is cleared (it could be guessed)."""
    user.full_name = "[dihapus]"
    user.username = f"dihapus-{user.id}"
    user.email = user.phone = None
    user.nik_hash = None
    user.password_hash = user.totp_secret = None
    user.active = False
    user.auth_version += 1


def erasures(db: Session) -> list[Erasure]:
    return list(db.scalars(select(Erasure).order_by(Erasure.at.desc())))


def count_erasures(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Erasure)) or 0)


# --- who read what --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    at: datetime | None
    actor_role: str
    actor_id: str
    session: str
    candidate_id: int
    item_type: str
    item_log_index: int
    log_index: int


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def read_log(
    db: Session, store: Any, *, candidate_id: int | None = None, session: str | None = None, limit: int = 300
) -> list[Read]:
    """Every logged read of evidence items of the chosen sessions (a candidate's, one, or the latest 50), newest
    first. The evidence store logs each read in its ``_system`` chain with the reader and the item; reads of the
    chains linked to a session (its appeals' and assessment records' documents) count as reads of that session."""
    stmt = select(AssessmentSession).order_by(AssessmentSession.state_changed_at.desc())
    if candidate_id is not None:
        stmt = stmt.where(AssessmentSession.candidate_id == candidate_id)
    if session:
        stmt = stmt.where(AssessmentSession.public_id == session)
    sessions = list(db.scalars(stmt.limit(50 if candidate_id is None and not session else 1000)))
    out: list[Read] = []
    for s in sessions:
        entries = store.list_entries(s.public_id, include_linked=True)
        types = {e["log_index"]: e.get("type", e["kind"]) for e in entries if e["kind"] == "item"}
        for e in entries:
            if e["kind"] != "read":
                continue
            reader = e.get("actor") or {}
            out.append(
                Read(
                    at=_when(e.get("server_time")),
                    actor_role=str(reader.get("role", "")),
                    actor_id=str(reader.get("id", "")),
                    session=s.public_id,
                    candidate_id=s.candidate_id,
                    item_type=types.get(e.get("item_log_index"), "?"),
                    item_log_index=int(e.get("item_log_index", -1)),
                    log_index=int(e["log_index"]),
                )
            )
    out.sort(key=lambda r: r.log_index, reverse=True)
    return out[:limit]
