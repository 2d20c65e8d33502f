"""Live session services: the session clock, evidence for every event, recording chunks, KUK marks, decisions, chat.

Everything here takes its dependencies (database session, evidence store, clock) as arguments so that the same code
runs in request threads, Socket.IO handlers and the media engine's worker thread.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, PayloadTooLarge, ValidationFailed
from remote_tuk.live.models import (
    ChatMessage,
    Downtime,
    KukMark,
    RecordingChunk,
    SessionRecording,
    UnitDecision,
    Verdict,
)
from remote_tuk.lsp.models import Element, Kuk, Unit

S = SessionState
SYSTEM = ("system", "remote_tuk")

# Evidence item types written by the web layer.
EVENT = "session.event"
CHAT = "session.chat"
CHUNK = "recording.browser_chunk"
FULL = "recording.browser_full"
MARK = "assessment.kuk_mark"
DECISION = "assessment.unit_decision"


class InvalidState(Conflict):
    code = "invalid_state"


class ChunkConflict(Conflict):
    code = "chunk_conflict"


class ChunkHashMismatch(ValidationFailed):
    code = "chunk_hash_mismatch"


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


# --- the session clock --------------------------------------------------------------------------------------------


def live_elapsed(session: AssessmentSession, now: datetime | None = None) -> float:
    """Seconds the session has spent live (the browser recording's timeline: pauses excluded, downtime included)."""
    now = now or utcnow()
    total, since = 0.0, None
    for t in session.transitions:
        if t.to_state is S.LIVE and since is None:
            since = t.at
        elif t.from_state is S.LIVE and since is not None:
            total += (t.at - since).total_seconds()
            since = None
    if since is not None and session.state is S.LIVE:
        total += (now - since).total_seconds()
    return max(0.0, total)


def downtime_total(db: Session, session: AssessmentSession) -> float:
    return float(
        db.scalar(select(func.coalesce(func.sum(Downtime.seconds), 0.0)).where(Downtime.session_id == session.id))
        or 0.0
    )


def downtime_started(db: Session, session: AssessmentSession, at: datetime, silent_s: float) -> None:
    """The candidate's media stopped reaching the server (it stopped *silent_s* seconds before *at*)."""
    open_row = db.scalar(select(Downtime).where(Downtime.session_id == session.id, Downtime.ended_at.is_(None)))
    if open_row is None:
        db.add(Downtime(session_id=session.id, started_at=at - timedelta(seconds=silent_s)))
        db.commit()


def downtime_ended(db: Session, session: AssessmentSession, at: datetime, downtime_s: float) -> None:
    row = db.scalar(select(Downtime).where(Downtime.session_id == session.id, Downtime.ended_at.is_(None)))
    if row is None:
        row = Downtime(session_id=session.id, started_at=at - timedelta(seconds=downtime_s))
        db.add(row)
    row.ended_at = at
    row.seconds = downtime_s
    db.commit()


def clock(db: Session, session: AssessmentSession) -> dict[str, Any]:
    return {
        "elapsed_s": round(live_elapsed(session), 3),
        "running": session.state is S.LIVE,
        "downtime_s": round(downtime_total(db, session), 3),
    }


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


def ensure_evidence(store: Any, session: AssessmentSession) -> str:
    """Open the session's evidence chain on first use (idempotent); its id is the session's public id."""
    sid = session.public_id
    heads = _open_chains(store)
    if sid not in heads:
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
        except Exception as err:
            if "already exists" not in str(err):
                raise
    return sid


def _open_chains(store: Any) -> set[str]:
    with store.log.locked() as st:
        return set(st.heads)


def record_event(
    store: Any,
    session: AssessmentSession,
    kind: str,
    *,
    by: User | None = None,
    data: dict[str, Any] | None = None,
    media_s: float | None = None,
) -> Any:
    """Append a session event (join, leave, connection state, pause, resume, end, gap …) to the evidence."""
    body = {"event": kind, "at": utcnow().isoformat(), "data": data or {}}
    if media_s is not None:
        body["media_s"] = round(media_s, 3)
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
    ensure_evidence(store, session)
    return store.append(
        session.public_id,
        type_,
        json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str).encode(),
        metadata=entry_metadata(metadata),
        actor=actor_ref or actor(by),
        media_range=media_range,
        candidate_id=str(session.candidate_id),
        commit_plaintext=True,
    )


def close_evidence(store: Any, session: AssessmentSession) -> None:
    with store.log.locked() as st:
        head = st.heads.get(session.public_id)
    if head is not None and not head.closed:
        store.close_session(session.public_id, actor=SYSTEM)


# --- recording chunks ---------------------------------------------------------------------------------------------

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ChunkResult:
    seq: int
    log_index: int
    duplicate: bool
    gap_from: int | None = None


def accept_chunk(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    seq: str | None,
    sha256: str | None,
    start_ms: str | None,
    body: bytes,
    max_bytes: int,
) -> ChunkResult:
    if participant(user, session).role != "candidate":
        raise Forbidden("Hanya asesi sesi ini yang mengunggah rekaman.")
    if session.state not in (S.LIVE, S.PAUSED, S.ENDED):
        raise InvalidState("Rekaman hanya diterima saat sesi berlangsung.")
    if seq is None or not seq.isdigit() or len(seq) > 9:
        raise ValidationFailed("X-Chunk-Seq harus bilangan bulat ≥ 0.", details={"X-Chunk-Seq": "tidak valid"})
    if sha256 is None or not _HEX64.match(sha256.lower()):
        raise ValidationFailed("X-Chunk-SHA256 harus 64 digit heksadesimal.", details={"X-Chunk-SHA256": "tidak valid"})
    client_start = int(start_ms) if start_ms and start_ms.isdigit() and len(start_ms) <= 15 else None
    if not body:
        raise ValidationFailed("Potongan rekaman kosong.", details={"body": "kosong"})
    if len(body) > max_bytes:
        raise PayloadTooLarge("Potongan rekaman terlalu besar.")
    digest = hashlib.sha256(body).hexdigest()
    if digest != sha256.lower():
        raise ChunkHashMismatch(
            "Hash potongan tidak sama dengan isinya; unggah ulang.",
            details={"expected": sha256.lower(), "actual": digest},
        )
    n = int(seq)
    existing = db.scalar(select(RecordingChunk).where(RecordingChunk.session_id == session.id, RecordingChunk.seq == n))
    if existing is not None:
        if existing.sha256 == digest:
            return ChunkResult(n, existing.log_index, duplicate=True)
        record_event(
            store,
            session,
            "recording.conflict",
            by=user,
            data={"seq": n, "sha256": digest, "stored_sha256": existing.sha256},
        )
        raise ChunkConflict(f"Potongan {n} sudah diterima dengan isi lain.", details={"seq": n})
    last = db.scalar(select(func.max(RecordingChunk.seq)).where(RecordingChunk.session_id == session.id))
    expected = 0 if last is None else last + 1
    ensure_evidence(store, session)
    media_s = live_elapsed(session)
    receipt = store.append(
        session.public_id,
        CHUNK,
        body,
        metadata={"seq": n, "sha256": digest, "client_start_ms": client_start, "mime": "video/webm;codecs=vp8,opus"},
        actor=actor(user),
        client_time=client_start,
        candidate_id=str(session.candidate_id),
    )
    db.add(
        RecordingChunk(
            session_id=session.id,
            seq=n,
            sha256=digest,
            size=len(body),
            object_key=receipt.object_key,
            log_index=receipt.log_index,
            client_start_ms=client_start,
        )
    )
    db.commit()
    gap_from = None
    if n > expected:
        gap_from = expected
        record_event(
            store,
            session,
            "recording.gap",
            by=user,
            data={"missing_from": expected, "missing_to": n - 1},
            media_s=media_s,
        )
    return ChunkResult(n, receipt.log_index, duplicate=False, gap_from=gap_from)


def next_chunk_seq(db: Session, session: AssessmentSession) -> int:
    """The sequence number the candidate's recorder should use next (it survives a page reload this way)."""
    last = db.scalar(select(func.max(RecordingChunk.seq)).where(RecordingChunk.session_id == session.id))
    return 0 if last is None else last + 1


def recording_status(db: Session, session: AssessmentSession) -> dict[str, Any]:
    rows = list(
        db.scalars(select(RecordingChunk).where(RecordingChunk.session_id == session.id).order_by(RecordingChunk.seq))
    )
    seqs = [r.seq for r in rows]
    gaps = sorted(set(range(seqs[-1] + 1)) - set(seqs)) if seqs else []
    full = db.scalar(select(SessionRecording).where(SessionRecording.session_id == session.id))
    return {
        "chunks": len(rows),
        "gaps": gaps,
        "bytes": sum(r.size for r in rows),
        "full": {"object_key": full.object_key, "duration_s": full.duration_s, "log_index": full.log_index}
        if full
        else None,
    }


_FINALIZE_LOCK = threading.Lock()


def finalize_recording(db: Session, store: Any, session: AssessmentSession) -> SessionRecording | None:
    """Join the browser's chunks (read back from the evidence store) into one playable WebM with duration and cues."""
    with _FINALIZE_LOCK:
        return _finalize(db, store, session)


def _finalize(db: Session, store: Any, session: AssessmentSession) -> SessionRecording | None:
    if db.scalar(select(SessionRecording).where(SessionRecording.session_id == session.id)) is not None:
        return None
    rows = list(
        db.scalars(select(RecordingChunk).where(RecordingChunk.session_id == session.id).order_by(RecordingChunk.seq))
    )
    if not rows:
        return None
    # A chunk that starts with an EBML header begins a new WebM stream (the page was reloaded and its recorder
    # started again): each such run is remuxed on its own and appended after the previous one on one timeline.
    runs: list[io.BytesIO] = []
    for r in rows:
        chunk = store.read(r.object_key, SYSTEM)
        if not runs or chunk.startswith(EBML_MAGIC):
            runs.append(io.BytesIO())
        runs[-1].write(chunk)
    data, duration = remux_webm([run.getvalue() for run in runs])
    seqs = [r.seq for r in rows]
    gaps = len(set(range(seqs[-1] + 1)) - set(seqs))
    receipt = store.append(
        session.public_id,
        FULL,
        data,
        metadata={
            "chunks": len(rows),
            "gaps": gaps,
            "duration_ms": int(duration * 1000),
            "source_log_indexes": [r.log_index for r in rows],
            "recorder_runs": len(runs),
            "container": "webm",
        },
        actor=SYSTEM,
        candidate_id=str(session.candidate_id),
    )
    rec = SessionRecording(
        session_id=session.id,
        object_key=receipt.object_key,
        log_index=receipt.log_index,
        duration_s=duration,
        chunks=len(rows),
        gaps=gaps,
        size=len(data),
    )
    db.add(rec)
    db.commit()
    return rec


EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def remux_webm(runs: list[bytes]) -> tuple[bytes, float]:
    """Copy the packets of one or more MediaRecorder WebM streams into one WebM (no re-encode), each run placed after
    the previous one, so the result has a duration and cues and plays from start to end. Returns (bytes, seconds)."""
    import av  # PyAV ships with aiortc; imported here so the web app starts without it

    out_buf = io.BytesIO()
    dst = av.open(out_buf, mode="w", format="webm")
    outputs: dict[str, Any] = {}
    offset = 0.0  # seconds: where the current run starts on the joined timeline
    for data in runs:
        src = av.open(io.BytesIO(data), format="webm")
        try:
            wanted = [st for st in src.streams if st.type in ("video", "audio")]
            for st in wanted:
                if st.type not in outputs:
                    outputs[st.type] = dst.add_stream_from_template(st)
            run_end = 0.0
            for packet in src.demux(*wanted):
                if packet.dts is None or packet.size == 0 or packet.time_base is None:
                    continue
                tb = packet.time_base
                shift = round(offset / tb)
                packet.pts = (packet.pts if packet.pts is not None else packet.dts) + shift
                packet.dts += shift
                run_end = max(run_end, float((packet.pts + (packet.duration or 0)) * tb) - offset)
                packet.stream = outputs[packet.stream.type]
                dst.mux(packet)
        finally:
            src.close()
        offset += run_end
    dst.close()
    return out_buf.getvalue(), offset


# --- KUK marks and decisions --------------------------------------------------------------------------------------


def _require_assessor(user: User, session: AssessmentSession) -> None:
    if participant(user, session).role != "assessor":
        raise Forbidden("Hanya asesor yang ditugaskan yang dapat menilai.")


def _kuk_of_session(db: Session, session: AssessmentSession, kuk_id: int) -> Kuk:
    kuk = db.scalar(
        select(Kuk).join(Element).join(Unit).where(Kuk.id == kuk_id, Unit.scheme_id == session.schedule.scheme_id)
    )
    if kuk is None:
        raise ValidationFailed("KUK tidak termasuk skema sesi ini.", details={"kuk_id": "tidak dikenal"})
    return kuk


def add_mark(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    kuk_id: int,
    verdict: Verdict,
    note: str,
    client_media_s: float | None,
) -> KukMark:
    _require_assessor(user, session)
    if session.state not in (S.LIVE, S.PAUSED, S.ENDED):
        raise InvalidState("KUK dinilai saat sesi berlangsung atau sebelum keputusan.")
    kuk = _kuk_of_session(db, session, kuk_id)
    version = 1 + int(
        db.scalar(
            select(func.coalesce(func.max(KukMark.version), 0)).where(
                KukMark.session_id == session.id, KukMark.kuk_id == kuk.id
            )
        )
        or 0
    )
    media_s = live_elapsed(session)
    at = utcnow()
    doc = {
        "kuk_id": kuk.id,
        "kuk": kuk.number,
        "unit": kuk.element.unit.code,
        "verdict": verdict.value,
        "note": note,
        "media_s": round(media_s, 3),
        "client_media_s": client_media_s,
        "version": version,
        "at": at.isoformat(),
    }
    receipt = append_document(
        store,
        session,
        MARK,
        doc,
        metadata={"kuk_id": kuk.id, "version": version},
        by=user,
        media_range={"start_ms": int(media_s * 1000), "end_ms": int(media_s * 1000)},
    )
    mark = KukMark(
        session_id=session.id,
        kuk_id=kuk.id,
        version=version,
        verdict=verdict,
        note=note,
        media_s=media_s,
        client_media_s=client_media_s,
        assessor_id=user.id,
        at=at,
        log_index=receipt.log_index,
        entry_hash=receipt.entry_hash,
    )
    db.add(mark)
    db.commit()
    return mark


def mark_json(m: KukMark) -> dict[str, Any]:
    return {
        "kuk_id": m.kuk_id,
        "version": m.version,
        "verdict": m.verdict.value,
        "note": m.note,
        "media_s": round(m.media_s, 3),
        "client_media_s": m.client_media_s,
        "at": m.at.isoformat(),
        "log_index": m.log_index,
    }


def marks(db: Session, session: AssessmentSession) -> tuple[list[KukMark], list[KukMark]]:
    history = list(
        db.scalars(select(KukMark).where(KukMark.session_id == session.id).order_by(KukMark.kuk_id, KukMark.version))
    )
    current: dict[int, KukMark] = {}
    for m in history:
        current[m.kuk_id] = m
    return list(current.values()), history


def add_decision(
    db: Session, store: Any, session: AssessmentSession, user: User, *, unit_id: int, verdict: Verdict, reason: str
) -> UnitDecision:
    _require_assessor(user, session)
    if session.state is not S.ENDED:
        raise InvalidState("Keputusan per unit dicatat setelah sesi selesai dan sebelum sesi diputuskan.")
    unit = db.scalar(select(Unit).where(Unit.id == unit_id, Unit.scheme_id == session.schedule.scheme_id))
    if unit is None:
        raise ValidationFailed("Unit tidak termasuk skema sesi ini.", details={"unit_id": "tidak dikenal"})
    version = 1 + int(
        db.scalar(
            select(func.coalesce(func.max(UnitDecision.version), 0)).where(
                UnitDecision.session_id == session.id, UnitDecision.unit_id == unit.id
            )
        )
        or 0
    )
    at = utcnow()
    doc = {
        "unit_id": unit.id,
        "unit": unit.code,
        "verdict": verdict.value,
        "reason": reason,
        "version": version,
        "at": at.isoformat(),
    }
    receipt = append_document(store, session, DECISION, doc, metadata={"unit_id": unit.id, "version": version}, by=user)
    decision = UnitDecision(
        session_id=session.id,
        unit_id=unit.id,
        version=version,
        verdict=verdict,
        reason=reason,
        assessor_id=user.id,
        at=at,
        log_index=receipt.log_index,
    )
    db.add(decision)
    db.commit()
    return decision


def decisions(db: Session, session: AssessmentSession) -> dict[int, UnitDecision]:
    current: dict[int, UnitDecision] = {}
    for d in db.scalars(
        select(UnitDecision)
        .where(UnitDecision.session_id == session.id)
        .order_by(UnitDecision.unit_id, UnitDecision.version)
    ):
        current[d.unit_id] = d
    return current


def require_all_units_decided(db: Session, session: AssessmentSession, to: SessionState, _actor: User) -> None:
    """Guard: a session is decided only when every unit of its scheme has a K/BK decision."""
    if to is not S.DECIDED:
        return
    done = decisions(db, session)
    missing = [u.code for u in session.schedule.scheme.units if u.id not in done]
    if missing:
        raise ValidationFailed(
            "Catat keputusan untuk setiap unit sebelum memutuskan sesi.", details={"units": ", ".join(missing)}
        )


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
