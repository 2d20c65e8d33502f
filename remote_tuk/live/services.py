"""Live session services: who is who, the session's evidence (events, documents, the chain), chat.

Everything here takes its dependencies (database session, evidence store, clock) as arguments so that the same code
runs in request threads, Socket.IO handlers and the media engine's worker thread. The rest of the live session has
its own modules: ``clock`` (the session media clock, downtime), ``recording`` (the chunks as they arrive), ``joins``
(the joined recordings), ``scoring`` (KUK marks and unit decisions), ``webm`` (containers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidence_store.errors import SessionError
from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden
from remote_tuk.live.clock import live_elapsed
from remote_tuk.live.models import ChatMessage

S = SessionState
SYSTEM = ("system", "remote_tuk")

# Evidence item types written by the web layer.
EVENT = "session.event"
CHAT = "session.chat"
CHUNK = "recording.browser_chunk"
FULL = "recording.browser_full"
SERVER_FULL = "recording.server_full"
MARK = "assessment.kuk_mark"
DECISION = "assessment.unit_decision"


class InvalidState(Conflict):
    code = "invalid_state"


class EvidenceClosed(InvalidState):
    """The session's evidence chain is closed (decided or cancelled): nothing more is written to it."""

    code = "evidence_closed"


def actor(user: User | None) -> tuple[str, str]:
    return (user.role.value, str(user.id)) if user is not None else SYSTEM


# --- who is who in a live session ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Participant:
    role: str  # candidate | assessor | witness
    can_talk: bool
    can_control: bool
    peer_id: str


def participant(user: User, session: AssessmentSession) -> Participant:
    """The user's part in this (visible) session."""
    if user.role is Role.CANDIDATE and session.candidate_id == user.id:
        return Participant("candidate", True, False, "candidate")
    if user.role is Role.ASSESSOR and session.schedule.assessor_id == user.id:
        return Participant("assessor", True, True, f"assessor-{user.id}")
    return Participant("witness", False, False, f"witness-{user.id}")


# --- evidence -----------------------------------------------------------------------------------------------------


def entry_metadata(value: Any) -> Any:
    """Metadata for a log entry: canonical JSON has no floating-point numbers, so floats become decimal strings."""
    if isinstance(value, float):
        return format(value, ".6f").rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return {str(k): entry_metadata(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [entry_metadata(v) for v in value]
    return value


def chain_state(store: Any, session: AssessmentSession) -> str:
    """``absent`` (nothing logged yet), ``open`` or ``closed``."""
    with store.log.locked() as st:
        head = st.heads.get(session.public_id)
    if head is None:
        return "absent"
    return "closed" if head.closed else "open"


def evidence_open(store: Any, session: AssessmentSession) -> bool:
    """Whether evidence can still be added (the chain is not closed)."""
    return chain_state(store, session) != "closed"


def ensure_evidence(store: Any, session: AssessmentSession) -> str:
    """Open the session's evidence chain on first use (idempotent); its id is the session's public id.
    Raises :class:`EvidenceClosed` when the chain is closed."""
    sid = session.public_id
    state = chain_state(store, session)
    if state == "closed":
        raise EvidenceClosed("Bukti sesi ini sudah ditutup; tidak ada yang dapat ditambahkan.")
    if state == "absent":
        try:
            store.open_session(
                sid,
                {
                    "schedule": session.schedule_id,
                    "candidate": session.candidate_id,
                    "scheme": session.schedule.scheme.code,
                },
                actor=SYSTEM,
            )
        except SessionError:
            if chain_state(store, session) == "absent":  # not a concurrent opening: something else went wrong
                raise
    return sid


def append_item(store: Any, session: AssessmentSession, type_: str, data: Any, **kw: Any) -> Any:
    """``store.append`` to the session's chain, opened on demand; a chain closed meanwhile is :class:`EvidenceClosed`
    (a 409), never an unexplained failure."""
    ensure_evidence(store, session)
    try:
        return store.append(session.public_id, type_, data, **kw)
    except SessionError:
        if chain_state(store, session) == "closed":
            raise EvidenceClosed("Bukti sesi ini sudah ditutup; tidak ada yang dapat ditambahkan.") from None
        raise


def record_event(
    store: Any,
    session: AssessmentSession,
    kind: str,
    *,
    by: User | None = None,
    data: dict[str, Any] | None = None,
    media_s: float | None = None,
) -> Any:
    """Append a session event (join, leave, connection state, pause, resume, end, gap …) to the evidence.
    *media_s* is the session media clock the event happened at (default: now)."""
    body = {"event": kind, "at": utcnow().isoformat(), "data": data or {}}
    body["media_s"] = round(live_elapsed(session) if media_s is None else media_s, 3)
    return append_document(store, session, EVENT, body, metadata={"event": kind}, by=by)


def append_document(
    store: Any,
    session: AssessmentSession,
    type_: str,
    doc: dict[str, Any],
    *,
    metadata: dict[str, Any],
    by: User | None = None,
    actor_ref: tuple[str, str] | None = None,
    media_range: dict[str, int] | None = None,
) -> Any:
    """A JSON document as evidence of the session: the chain opened on demand, the plaintext committed with a salted
    hash (these documents are short and guessable: marks, decisions, consents, events)."""
    return append_item(
        store,
        session,
        type_,
        json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str).encode(),
        metadata=entry_metadata(metadata),
        actor=actor_ref or actor(by),
        media_range=media_range,
        candidate_id=str(session.candidate_id),
        commit_plaintext=True,
    )


def close_evidence(store: Any, session: AssessmentSession) -> bool:
    """Close the session's chain (idempotent). Returns whether this call closed it."""
    if chain_state(store, session) != "open":
        return False
    try:
        store.close_session(session.public_id, actor=SYSTEM)
    except SessionError:
        if chain_state(store, session) == "closed":
            return False  # closed meanwhile by another thread or process
        raise
    return True


# --- chat ---------------------------------------------------------------------------------------------------------


def add_chat(db: Session, store: Any, session: AssessmentSession, user: User, text: str) -> ChatMessage:
    part = participant(user, session)
    if part.role == "witness":
        raise Forbidden("Peninjau hanya mengamati.")
    if session.state in (S.DECIDED, S.CANCELLED):
        raise InvalidState("Sesi sudah ditutup.")
    msg = ChatMessage(session_id=session.id, sender_id=user.id, role=part.role, text=text)
    db.add(msg)
    doc = {"from": part.role, "user": user.id, "text": text, "at": utcnow().isoformat()}
    append_document(store, session, CHAT, doc, metadata={"from": part.role}, by=user)
    db.commit()
    return msg


def chat_json(m: ChatMessage) -> dict[str, Any]:
    return {"from_role": m.role, "from_name": m.sender.full_name, "text": m.text, "at": m.at.isoformat()}


def recent_chat(db: Session, session: AssessmentSession, limit: int = 50) -> list[dict[str, Any]]:
    rows = list(
        db.scalars(
            select(ChatMessage).where(ChatMessage.session_id == session.id).order_by(ChatMessage.id.desc()).limit(limit)
        )
    )
    return [chat_json(m) for m in reversed(rows)]


# --- the guard create_app registers ---------------------------------------------------------------------------------


def require_all_units_decided(db: Session, session: AssessmentSession, to: SessionState, by: User) -> None:
    """Guard ``ended → decided``: every unit has a decision and every K still has its evidence (see ``scoring``)."""
    from remote_tuk.live import scoring  # scoring builds on this module

    scoring.require_decisions_follow_evidence(db, session, to, by)
