"""The candidate browser's recording chunks (the primary copy of the session), as they arrive.

* A chunk is decided in the database before anything reaches the evidence log: its (session, seq) row is a claim
  that exactly one upload wins, in every process; a re-upload of the same bytes is a duplicate, other bytes a
  conflict. Sequence numbers are bounded by what the session can have produced; gaps are ranges.
* Refused conflicting chunks are counted; the first is logged as evidence at once, the rest as a summary at most once a
  minute and at the end, so a candidate cannot grow the evidence log at will.

The joined, playable recordings are made from them in ``joins``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, Forbidden, PayloadTooLarge, ValidationFailed
from remote_tuk.live.clock import live_elapsed, live_starts
from remote_tuk.live.models import RecordingChunk, RecordingConflicts
from remote_tuk.live.schemas import ChunkHeadersIn
from remote_tuk.live.services import (
    CHUNK,
    InvalidState,
    actor,
    append_item,
    participant,
    record_event,
)
from remote_tuk.live.webm import EBML_MAGIC, NotWebM, check_webm_start

log = logging.getLogger(__name__)
S = SessionState
Clock = Callable[[], datetime]

#: The highest sequence number a session can have produced: twice the chunks its live time makes, a few per start or
#: resume (the recorder hands over a short chunk at every pause and every page reload), and a fixed slack.
SEQ_RATE_FACTOR = 2.0
SEQ_PER_LIVE_START = 4
SEQ_SLACK = 120
#: A second upload of a sequence number whose first upload is still being stored waits this long for it.
CLAIM_WAIT_S = 5.0
#: A claim not stored this long after it was made belongs to a request that died: a retry may take it over.
CLAIM_STALE_S = 120.0
#: At most one summary of refused conflicting chunks per this many seconds (plus one at the end).
CONFLICT_LOG_EVERY_S = 60.0


class ChunkConflict(Conflict):
    code = "chunk_conflict"


class ChunkPending(Conflict):
    code = "chunk_pending"


class ChunkHashMismatch(ValidationFailed):
    code = "chunk_hash_mismatch"


class ChunkSeqOutOfRange(ValidationFailed):
    code = "chunk_seq_out_of_range"


class ChunkNotWebM(ValidationFailed):
    code = "chunk_not_webm"


@dataclass(frozen=True)
class ChunkResult:
    seq: int
    log_index: int
    duplicate: bool
    gap_from: int | None = None


def max_seq(session: AssessmentSession, chunk_ms: int, now: datetime | None = None) -> int:
    """The highest sequence number the session's recorder can have reached by *now*."""
    nominal = live_elapsed(session, now) * 1000 / max(chunk_ms, 1)
    return int(nominal * SEQ_RATE_FACTOR) + SEQ_PER_LIVE_START * live_starts(session) + SEQ_SLACK


def accept_chunk(
    db: Session,
    store: Any,
    session: AssessmentSession,
    user: User,
    *,
    headers: ChunkHeadersIn,
    body: bytes,
    max_bytes: int,
    chunk_ms: int,
    arrived: datetime | None = None,
    now: Clock = utcnow,
) -> ChunkResult:
    """Store one chunk of the candidate's recording, once. *arrived* is when the request reached the server (before
    its body was read and checked): with the page's ``X-Chunk-Start`` it places the recorder run on the session clock.
    """
    arrived = arrived or now()
    if participant(user, session).role != "candidate":
        raise Forbidden("Hanya asesi sesi ini yang mengunggah rekaman.")
    if session.state not in (S.LIVE, S.PAUSED, S.ENDED):
        raise InvalidState("Rekaman hanya diterima saat sesi berlangsung (dan sesaat setelah selesai).")
    if not body:
        raise ValidationFailed("Potongan rekaman kosong.", details={"body": "kosong"})
    if len(body) > max_bytes:
        raise PayloadTooLarge("Potongan rekaman terlalu besar.")
    n = headers.seq
    limit = max_seq(session, chunk_ms, now())
    if n > limit:
        raise ChunkSeqOutOfRange(
            f"Nomor potongan {n} melebihi yang dapat dihasilkan sesi ini sejauh ini ({limit}).",
            details={"X-Chunk-Seq": n, "max": limit},
        )
    digest = hashlib.sha256(body).hexdigest()
    if digest != headers.sha256:
        raise ChunkHashMismatch(
            "Hash potongan tidak sama dengan isinya; unggah ulang.",
            details={"expected": headers.sha256, "actual": digest},
        )
    # The first chunk of a recorder run starts with the WebM header; anything claiming to start one must be one.
    if body.startswith(EBML_MAGIC) or n == 0:
        try:
            check_webm_start(body)
        except NotWebM as err:
            raise ChunkNotWebM(
                "Potongan ini bukan awal rekaman WebM.", details={"X-Chunk-Seq": n, "reason": str(err)}
            ) from None

    outcome, row = _claim(db, session.id, n, digest, len(body), headers.start_ms, arrived, now,
                          logged=lambda public_id=session.public_id: _logged_entry(store, public_id, n, digest))
    if outcome == "duplicate":
        assert row.log_index is not None
        return ChunkResult(n, row.log_index, duplicate=True)
    if outcome == "conflict":
        stored = row.sha256
        note_conflict(db, store, session, user, n, digest, stored, now)
        raise ChunkConflict(f"Potongan {n} sudah diterima dengan isi lain.", details={"seq": n})

    row_id = row.id
    try:
        receipt = append_item(
            store,
            session,
            CHUNK,
            body,
            metadata={"seq": n, "sha256": digest, "client_start_ms": headers.start_ms,
                      "mime": "video/webm;codecs=vp8,opus"},
            actor=actor(user),
            client_time=headers.start_ms,
            candidate_id=str(session.candidate_id),
        )
    except BaseException:
        db.rollback()
        db.execute(delete(RecordingChunk).where(RecordingChunk.id == row_id, RecordingChunk.log_index.is_(None)))
        db.commit()  # the claim is given up: a retry can store the chunk
        raise
    db.execute(
        update(RecordingChunk)
        .where(RecordingChunk.id == row_id)
        .values(object_key=receipt.object_key, log_index=receipt.log_index)
    )
    db.commit()

    gap_from = _gap_before(db, session, n)
    if gap_from is not None:
        record_event(store, session, "recording.gap", by=user, data={"missing_from": gap_from, "missing_to": n - 1})
    return ChunkResult(n, receipt.log_index, duplicate=False, gap_from=gap_from)


def _claim(
    db: Session, session_pk: int, seq: int, digest: str, size: int, start_ms: int | None, arrived: datetime,
    now: Clock, logged: Callable[[], dict[str, Any] | None] = lambda: None,
) -> tuple[str, RecordingChunk]:
    """Claim (session, seq) in the database. ``("won", row)``: store the chunk; ``("duplicate", row)``: the same bytes
    are stored; ``("conflict", row)``: other bytes hold this number. An unfinished claim of the same bytes whose chunk
    *logged* finds in the evidence chain (its request stored the chunk, then lost the database before it could record
    that, e.g. PostgreSQL restarting) is completed from that entry and answered as a duplicate: the chunk is neither
    logged twice nor held up until the claim is stale. Raises :class:`ChunkPending` when the same bytes are still being
    stored by another request after ``CLAIM_WAIT_S``."""
    deadline = time.monotonic() + CLAIM_WAIT_S
    looked = False
    while True:
        row = RecordingChunk(
            session_id=session_pk, seq=seq, sha256=digest, size=size, client_start_ms=start_ms, received_at=arrived
        )
        db.add(row)
        try:
            db.commit()
            return "won", row
        except IntegrityError:
            db.rollback()
        while True:
            held = db.scalar(
                select(RecordingChunk)
                .where(RecordingChunk.session_id == session_pk, RecordingChunk.seq == seq)
                .execution_options(populate_existing=True)
            )
            if held is None:
                break  # the holder gave its claim up: claim again
            if held.sha256 != digest:
                return "conflict", held
            if held.log_index is not None:
                return "duplicate", held
            if not looked:
                looked = True
                entry = logged()
                if entry is not None:
                    # compare-and-set: the holder (if it is still alive) records the same entry
                    db.execute(
                        update(RecordingChunk)
                        .where(RecordingChunk.id == held.id, RecordingChunk.log_index.is_(None))
                        .values(object_key=entry["object"]["key"], log_index=entry["log_index"])
                    )
                    db.commit()
                    continue  # read it again: completed (by this request or the holder)
            cutoff = now() - timedelta(seconds=CLAIM_STALE_S)
            if held.received_at < cutoff:
                # compare-and-set: of several retries finding the same dead claim, one takes it over
                taken = db.execute(
                    update(RecordingChunk)
                    .where(
                        RecordingChunk.id == held.id,
                        RecordingChunk.log_index.is_(None),
                        RecordingChunk.received_at < cutoff,
                    )
                    .values(received_at=max(arrived, now() - timedelta(seconds=1)))
                ).rowcount
                db.commit()
                if taken == 1:
                    return "won", db.get(RecordingChunk, held.id, populate_existing=True)  # type: ignore[return-value]
                continue
            if time.monotonic() > deadline:
                raise ChunkPending(
                    f"Potongan {seq} sedang disimpan oleh unggahan lain; coba lagi sebentar lagi.", details={"seq": seq}
                )
            db.rollback()  # end the read: the next one sees the holder's commit
            time.sleep(0.05)


def _logged_entry(store: Any, public_id: str, seq: int, digest: str) -> dict[str, Any] | None:
    """The session chain's entry of chunk *seq* with these bytes (the newest), if one was logged."""
    for e in reversed(store.list_entries(public_id, include_related=False)):
        meta = e.get("metadata") or {}
        if (e.get("kind"), e.get("type"), meta.get("seq"), meta.get("sha256")) == ("item", CHUNK, seq, digest):
            return e
    return None


def _gap_before(db: Session, session: AssessmentSession, n: int) -> int | None:
    """The first missing number before *n* when *n* is the newest chunk and jumped ahead (a new gap); else None."""
    newer = db.scalar(
        select(func.count()).select_from(RecordingChunk).where(
            RecordingChunk.session_id == session.id, RecordingChunk.seq > n
        )
    )
    if newer:
        return None  # n filled (part of) an older gap
    prev = db.scalar(
        select(func.max(RecordingChunk.seq)).where(RecordingChunk.session_id == session.id, RecordingChunk.seq < n)
    )
    expected = 0 if prev is None else prev + 1
    return expected if n > expected else None


def next_chunk_seq(db: Session, session: AssessmentSession) -> int:
    """The sequence number the candidate's recorder should use next (it survives a page reload this way)."""
    last = db.scalar(select(func.max(RecordingChunk.seq)).where(RecordingChunk.session_id == session.id))
    return 0 if last is None else last + 1


# --- conflicts ----------------------------------------------------------------------------------------------------


def note_conflict(
    db: Session, store: Any, session: AssessmentSession, user: User, seq: int, digest: str, stored: str, now: Clock
) -> None:
    """Count a refused conflicting chunk; the session's first one is logged with its details at once."""
    session_pk = session.id
    at = now()
    db.add(RecordingConflicts(session_id=session_pk, count=1, first_seq=seq, last_seq=seq, logged_count=1,
                              logged_at=at))
    try:
        db.commit()
        first = True
    except IntegrityError:
        db.rollback()
        first = False
        db.execute(
            update(RecordingConflicts)
            .where(RecordingConflicts.session_id == session_pk)
            .values(count=RecordingConflicts.count + 1, last_seq=seq)
        )
        db.commit()
    if first:
        record_event(
            store,
            session,
            "recording.conflict",
            by=user,
            data={"seq": seq, "sha256": digest, "stored_sha256": stored, "count": 1,
                  "note": "later conflicts are counted in recording.conflicts"},
        )
    else:
        log_conflicts(db, store, session, now=now)


def log_conflicts(db: Session, store: Any, session: AssessmentSession, *, final: bool = False,
                  now: Clock = utcnow) -> None:
    """Log the conflicts counted since the last entry: at most once per ``CONFLICT_LOG_EVERY_S`` (always when
    *final*). The summary is claimed in the database first, so two requests or processes never log the same one."""
    session_pk = session.id
    tally = db.scalar(
        select(RecordingConflicts)
        .where(RecordingConflicts.session_id == session_pk)
        .execution_options(populate_existing=True)
    )
    if tally is None or tally.count <= tally.logged_count:
        return
    at = now()
    if not final and tally.logged_at is not None and (at - tally.logged_at).total_seconds() < CONFLICT_LOG_EVERY_S:
        return
    previous, total, first_seq, last_seq = tally.logged_count, tally.count, tally.first_seq, tally.last_seq
    claimed = db.execute(
        update(RecordingConflicts)
        .where(RecordingConflicts.session_id == session_pk, RecordingConflicts.logged_count == previous)
        .values(logged_count=total, logged_at=at)
    ).rowcount
    db.commit()
    if claimed != 1:
        return
    record_event(
        store,
        session,
        "recording.conflicts",
        data={"new": total - previous, "total": total, "first_seq": first_seq, "last_seq": last_seq},
    )


# --- what is stored ---------------------------------------------------------------------------------------------


def gap_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Missing numbers below the highest of *seqs* (ascending), as inclusive ranges; O(len(seqs)), whatever the
    numbers are."""
    out: list[tuple[int, int]] = []
    expected = 0
    for s in seqs:
        if s > expected:
            out.append((expected, s - 1))
        expected = max(expected, s + 1)
    return out


def stored_chunks(db: Session, session: AssessmentSession) -> list[RecordingChunk]:
    return list(
        db.scalars(
            select(RecordingChunk)
            .where(RecordingChunk.session_id == session.id, RecordingChunk.log_index.is_not(None))
            .order_by(RecordingChunk.seq)
        )
    )
