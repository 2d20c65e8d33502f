"""The phone as a second camera and the screen share (issue 19 items 1–2): single-use phone links, the phone's grant,
the chunks of the extra streams, and what the assessor is shown (connection state, battery).

* A phone link is a random token (only its SHA-256 is stored) bound to one session, valid ``LINK_TTL`` and usable
  once: a conditional UPDATE lets exactly one opening redeem it. Redeeming hands the phone a random *grant* (kept
  in its signed cookie) that lets it send media and chunks to that session only, while the session is active.
* Extra streams get their own engine session (``<public_id>~phone``, ``<public_id>~screen``: relayed, recorded on
  the server and watched like the webcam) and their own chunk numbering (``SourceChunk``: unique session+stream+seq).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import DomainError, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from remote_tuk.live.recording import (
    ChunkConflict,
    ChunkHashMismatch,
    ChunkNotWebM,
    ChunkPending,
    ChunkSeqOutOfRange,
    max_seq,
)
from remote_tuk.live.schemas import ChunkHeadersIn
from remote_tuk.live.services import InvalidState, actor, append_item, participant, record_event
from remote_tuk.live.webm import EBML_MAGIC, NotWebM, check_webm_start
from remote_tuk.sources.models import SourceChunk, SourceLink

S = SessionState
Clock = Callable[[], datetime]

SOURCES = ("phone", "screen")
#: How long a phone link may be opened after it was made.
LINK_TTL = timedelta(minutes=15)
#: States in which a phone may be linked and extra sources may send media.
MEDIA_STATES = (S.CHECKING, S.READY, S.LIVE, S.PAUSED)
#: States in which their recording chunks are accepted (as for the webcam: trailing uploads after the end).
CHUNK_STATES = (S.LIVE, S.PAUSED, S.ENDED)
SOURCE_CHUNK = "recording.source_chunk"
SOURCE_SEGMENT = "recording.source_segment"
MIME = {"phone": "video/webm;codecs=vp8", "screen": "video/webm;codecs=vp8"}


class LinkGone(DomainError):
    status = 410
    code = "link_gone"


class LinkExpired(LinkGone):
    code = "link_expired"


class LinkUsed(LinkGone):
    code = "link_used"


def engine_id(public_id: str, source: str) -> str:
    """The media engine's session id for an extra source of *public_id*."""
    return f"{public_id}~{source}"


def split_engine_id(engine_session: str) -> tuple[str, str | None]:
    """``"<public_id>~phone"`` → ``(public_id, "phone")``; a plain id → ``(id, None)``."""
    public_id, sep, source = engine_session.partition("~")
    return (public_id, source) if sep and source in SOURCES else (engine_session, None)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- phone links ----------------------------------------------------------------------------------------------------


def issue_link(db: Session, store: Any, session: AssessmentSession, user: User, *, now: Clock = utcnow
               ) -> tuple[str, SourceLink]:
    """A new phone link for the session's candidate (the token is returned once and never stored)."""
    if participant(user, session).role != "candidate":
        raise Forbidden("Hanya asesi sesi ini yang dapat menyambungkan kamera HP.")
    if session.state not in MEDIA_STATES:
        raise InvalidState("Kamera HP hanya dapat disambungkan saat pemeriksaan atau sesi berlangsung.")
    token = secrets.token_urlsafe(24)
    at = now()
    link = SourceLink(session_id=session.id, source="phone", token_sha256=_hash(token), grant=secrets.token_hex(16),
                      created_at=at, expires_at=at + LINK_TTL)
    db.add(link)
    db.commit()
    record_event(store, session, "source.link_issued", by=user,
                 data={"source": "phone", "link": link.id, "expires_at": link.expires_at.isoformat()})
    return token, link


def find_link(db: Session, session: AssessmentSession, token: str, *, now: Clock = utcnow) -> SourceLink:
    """The open link of *session* for *token*; refused (404) when it is of another session or unknown, 410 when it
    expired or was used."""
    if not token or len(token) > 64:
        raise NotFound("Tautan kamera HP tidak dikenal.")
    link = db.scalar(select(SourceLink).where(SourceLink.token_sha256 == _hash(token)))
    if link is None or link.session_id != session.id:
        raise NotFound("Tautan kamera HP tidak dikenal untuk sesi ini.")
    if link.used_at is not None:
        raise LinkUsed("Tautan ini sudah dipakai. Minta kode QR baru di halaman asesi.")
    if link.expires_at <= now():
        raise LinkExpired("Tautan ini sudah kedaluwarsa. Minta kode QR baru di halaman asesi.")
    if session.state not in MEDIA_STATES:
        raise InvalidState("Sesi ini tidak sedang berlangsung.")
    return link


def redeem_link(db: Session, store: Any, session: AssessmentSession, token: str, *, device: str = "",
                now: Clock = utcnow) -> SourceLink:
    """Use the link once (a conditional UPDATE: of two concurrent openings exactly one wins). Refusals are logged."""
    try:
        link = find_link(db, session, token, now=now)
        at = now()
        won = db.execute(
            update(SourceLink).where(SourceLink.id == link.id, SourceLink.used_at.is_(None)).values(used_at=at)
        ).rowcount
        db.commit()
        if won != 1:
            raise LinkUsed("Tautan ini sudah dipakai. Minta kode QR baru di halaman asesi.")
    except DomainError as err:
        db.rollback()
        record_event(store, session, "source.link_refused", data={"source": "phone", "reason": err.code})
        raise
    record_event(store, session, "source.link_used",
                 data={"source": "phone", "link": link.id, "device": device[:200]})
    return link


def grant_session(db: Session, session: AssessmentSession, grant: str | None) -> SourceLink:
    """The used link a phone's grant names, for *session* (403 otherwise)."""
    link = None
    if grant:
        link = db.scalar(select(SourceLink).where(SourceLink.grant == grant, SourceLink.used_at.is_not(None)))
    if link is None or link.session_id != session.id:
        raise Forbidden("Perangkat ini tidak tersambung ke sesi ini. Pindai kode QR di halaman asesi.")
    return link


# --- chunks of the extra streams ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceChunkResult:
    seq: int
    log_index: int
    duplicate: bool


def accept_chunk(
    db: Session,
    store: Any,
    session: AssessmentSession,
    stream: str,
    by: User | None,
    *,
    headers: ChunkHeadersIn,
    body: bytes,
    max_bytes: int,
    chunk_ms: int,
    arrived: datetime | None = None,
    now: Clock = utcnow,
) -> SourceChunkResult:
    """Store one chunk of the phone's or the screen's recording once (numbered per stream)."""
    arrived = arrived or now()
    if stream not in SOURCES:
        raise NotFound("Sumber media tidak dikenal.")
    if session.state not in CHUNK_STATES:
        raise InvalidState("Rekaman hanya diterima saat sesi berlangsung (dan sesaat setelah selesai).")
    if not body:
        raise ValidationFailed("Potongan rekaman kosong.", details={"body": "kosong"})
    if len(body) > max_bytes:
        raise PayloadTooLarge("Potongan rekaman terlalu besar.")
    n = headers.seq
    limit = max_seq(session, chunk_ms, now())
    if n > limit:
        raise ChunkSeqOutOfRange(f"Nomor potongan {n} melebihi yang dapat dihasilkan sesi ini sejauh ini ({limit}).",
                                 details={"X-Chunk-Seq": n, "max": limit})
    digest = hashlib.sha256(body).hexdigest()
    if digest != headers.sha256.lower():
        raise ChunkHashMismatch("Hash potongan tidak sama dengan isinya; unggah ulang.",
                                details={"expected": headers.sha256, "actual": digest})
    if body.startswith(EBML_MAGIC) or n == 0:
        try:
            check_webm_start(body)
        except NotWebM as err:
            raise ChunkNotWebM("Potongan ini bukan awal rekaman WebM.",
                               details={"X-Chunk-Seq": n, "reason": str(err)}) from None
    row = SourceChunk(session_id=session.id, stream=stream, seq=n, sha256=digest, size=len(body),
                      client_start_ms=headers.start_ms, received_at=arrived)
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        held = db.scalar(select(SourceChunk).where(SourceChunk.session_id == session.id, SourceChunk.stream == stream,
                                                   SourceChunk.seq == n))
        if held is not None and held.log_index is None and held.sha256 == digest:
            # an upload that stored and logged these bytes, then lost the database before its row said so (e.g.
            # PostgreSQL restarting): the row is completed from the chain's entry instead of staying pending forever
            entry = _logged_entry(store, session.public_id, stream, n, digest)
            if entry is not None:
                db.execute(update(SourceChunk)
                           .where(SourceChunk.id == held.id, SourceChunk.log_index.is_(None))
                           .values(object_key=entry["object"]["key"], log_index=entry["log_index"]))
                db.commit()
                db.refresh(held)
        if held is None or held.log_index is None:
            raise ChunkPending(f"Potongan {n} sedang disimpan; coba lagi sebentar lagi.", details={"seq": n}) from None
        if held.sha256 != digest:
            raise ChunkConflict(f"Potongan {n} sudah diterima dengan isi lain.", details={"seq": n}) from None
        return SourceChunkResult(n, held.log_index, duplicate=True)
    row_id = row.id
    try:
        receipt = append_item(
            store, session, SOURCE_CHUNK, body,
            metadata={"stream": stream, "seq": n, "sha256": digest, "client_start_ms": headers.start_ms,
                      "mime": MIME[stream]},
            actor=actor(by) if by is not None else ("phone", str(session.candidate_id)),
            client_time=headers.start_ms,
            candidate_id=str(session.candidate_id),
        )
    except BaseException:
        db.rollback()
        db.query(SourceChunk).filter(SourceChunk.id == row_id, SourceChunk.log_index.is_(None)).delete()
        db.commit()
        raise
    db.execute(update(SourceChunk).where(SourceChunk.id == row_id)
               .values(object_key=receipt.object_key, log_index=receipt.log_index))
    db.commit()
    return SourceChunkResult(n, receipt.log_index, duplicate=False)


def _logged_entry(store: Any, public_id: str, stream: str, seq: int, digest: str) -> dict[str, Any] | None:
    """The session chain's entry of *stream*'s chunk *seq* with these bytes (the newest), if one was logged."""
    want = ("item", SOURCE_CHUNK, stream, seq, digest)
    for e in reversed(store.list_entries(public_id, include_related=False)):
        meta = e.get("metadata") or {}
        if (e.get("kind"), e.get("type"), meta.get("stream"), meta.get("seq"), meta.get("sha256")) == want:
            return e
    return None


def next_seq(db: Session, session: AssessmentSession, stream: str) -> int:
    last = db.scalar(select(func.max(SourceChunk.seq)).where(SourceChunk.session_id == session.id,
                                                             SourceChunk.stream == stream))
    return 0 if last is None else last + 1


def chunk_status(db: Session, session: AssessmentSession) -> dict[str, dict[str, int]]:
    rows = db.execute(
        select(SourceChunk.stream, func.count(), func.coalesce(func.sum(SourceChunk.size), 0))
        .where(SourceChunk.session_id == session.id, SourceChunk.log_index.is_not(None))
        .group_by(SourceChunk.stream)
    ).all()
    out = {s: {"chunks": 0, "bytes": 0} for s in SOURCES}
    for stream, count, size in rows:
        out[stream] = {"chunks": int(count), "bytes": int(size)}
    return out


# --- what the assessor is shown: connection state and battery (process memory; the engine events are evidence) -----


class SourceStatus:
    """The latest state of each extra source per session, as the engine and the phone report it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, dict[str, dict[str, Any]]] = {}

    def update(self, public_id: str, source: str, **values: Any) -> dict[str, Any]:
        with self._lock:
            entry = self._by_session.setdefault(public_id, {}).setdefault(source, {"state": "none", "battery": None})
            entry.update(values)
            entry["at"] = time.time()
            return dict(entry)

    def of(self, public_id: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            known = self._by_session.get(public_id, {})
            return {s: dict(known.get(s) or {"state": "none", "battery": None}) for s in SOURCES}

    def forget(self, public_id: str) -> None:
        with self._lock:
            self._by_session.pop(public_id, None)


def check_values(status: dict[str, dict[str, Any]], profile: Any) -> dict[str, bool]:
    """The TUK check's server-measured values of the extra sources the profile asks for: the phone camera passes
    when the phone is connected and its video reaches the server now; the screen share when the whole screen is
    shared and flowing."""
    out: dict[str, bool] = {}
    if profile.get("phone_camera") is not None:
        out["phone_camera"] = bool(status["phone"].get("flowing"))
    if profile.get("screen_share") is not None:
        screen = status["screen"]
        out["screen_share"] = bool(screen.get("flowing")) and screen.get("surface") == "monitor"
    return out


def battery_label(level: float | None) -> str:
    return "unknown" if level is None else f"{round(level * 100)}%"

