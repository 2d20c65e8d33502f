"""The joined, playable recordings of a session (docs/BUNDLE-FORMAT.md §4.5), and what the recording looks like.

Joins place every recorder run of the browser at its own place on the session media clock (``clock``), so a mark at t
shows the picture of t even after a page reload; the server's IVF segments are joined on the same clock and remuxed
into WebM. Parts that arrive after a join make a new version (the old one stays in the evidence); a join that fails,
wholly or for a run, is logged as ``recording.join_failed`` and never keeps the session's chain from being closed.
"""

from __future__ import annotations

import itertools
import logging
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from proctor.recording import join_ivf
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.live.clock import clock_at
from remote_tuk.live.models import RecordingChunk, SessionRecording
from remote_tuk.live.recording import gap_ranges, stored_chunks
from remote_tuk.live.services import FULL, SERVER_FULL, SYSTEM, append_item, record_event
from remote_tuk.live.webm import EBML_MAGIC, JoinFailed, Run, ivf_to_webm, join_runs

log = logging.getLogger(__name__)

SERVER_SEGMENT = "recording.server_segment"


def _latest(db: Session, session: AssessmentSession, source: str, *, joined_only: bool = False) -> Any:
    stmt = select(SessionRecording).where(SessionRecording.session_id == session.id, SessionRecording.source == source)
    if joined_only:
        stmt = stmt.where(SessionRecording.object_key.is_not(None))
    return db.scalar(stmt.order_by(SessionRecording.version.desc()).limit(1))


def _recording_json(rec: SessionRecording | None) -> dict[str, Any] | None:
    if rec is None:
        return None
    return {
        "object_key": rec.object_key,
        "duration_s": rec.duration_s,
        "log_index": rec.log_index,
        "version": rec.version,
        "chunks": rec.chunks,
    }


def recording_status(db: Session, session: AssessmentSession) -> dict[str, Any]:
    """The stored chunks, the gaps as ranges, and the latest joined recordings (or why the last join failed)."""
    rows = db.execute(
        select(RecordingChunk.seq, RecordingChunk.size)
        .where(RecordingChunk.session_id == session.id, RecordingChunk.log_index.is_not(None))
        .order_by(RecordingChunk.seq)
    ).all()
    gaps = gap_ranges(r.seq for r in rows)
    attempt = _latest(db, session, "browser")
    return {
        "chunks": len(rows),
        "gaps": [list(g) for g in gaps],
        "missing": sum(b - a + 1 for a, b in gaps),
        "bytes": sum(r.size for r in rows),
        "full": _recording_json(_latest(db, session, "browser", joined_only=True)),
        "server_full": _recording_json(_latest(db, session, "server", joined_only=True)),
        "join_error": attempt.error if attempt is not None else None,
    }


# --- joining ------------------------------------------------------------------------------------------------------

_JOIN_LOCK = threading.Lock()


def _run_start_s(session: AssessmentSession, rows: list[RecordingChunk], chunk_ms: int) -> float:
    """Where a recorder run begins on the session media clock. The page stamps each chunk with its own clock
    (``X-Chunk-Start``: when the chunk began, i.e. when the one before it was handed over and uploaded); the server
    clock minus the page clock is at most (receipt of a chunk − start of the next), the upload's own time included,
    so the smallest such difference in the run is the best estimate of the offset."""
    first = rows[0]
    diffs = [
        r.received_at.timestamp() * 1000 - nxt.client_start_ms
        for r, nxt in itertools.pairwise(rows)
        if nxt.client_start_ms is not None
    ]
    if first.client_start_ms is None:
        start_ms = first.received_at.timestamp() * 1000 - chunk_ms
    else:
        if not diffs:
            diffs = [first.received_at.timestamp() * 1000 - first.client_start_ms - chunk_ms]
        start_ms = first.client_start_ms + min(diffs)
    return clock_at(session, datetime.fromtimestamp(start_ms / 1000, tz=first.received_at.tzinfo))


def _runs(store: Any, session: AssessmentSession, rows: list[RecordingChunk], chunk_ms: int) -> list[Run]:
    """The stored chunks as recorder runs: a chunk that starts with a WebM header starts a new run (the page was
    reloaded and its recorder started again)."""
    groups: list[list[tuple[RecordingChunk, bytes]]] = []
    for r in rows:
        assert r.object_key is not None
        chunk = store.read(r.object_key, SYSTEM)
        if not groups or chunk.startswith(EBML_MAGIC):
            groups.append([])
        groups[-1].append((r, chunk))
    runs = []
    for group in groups:
        offsets, pos = [], 0
        for r, chunk in group:
            offsets.append((r.seq, pos))
            pos += len(chunk)
        runs.append(Run(_run_start_s(session, [r for r, _ in group], chunk_ms), b"".join(c for _, c in group),
                        offsets))
    return runs


def join_browser(db: Session, store: Any, session: AssessmentSession, chunk_ms: int) -> SessionRecording | None:
    """Join every stored chunk into one WebM, as a new version when chunks arrived since the last join (None when
    nothing is new). A join that fails, wholly or for a run, is logged as ``recording.join_failed``."""
    with _JOIN_LOCK:
        rows = stored_chunks(db, session)
        latest = _latest(db, session, "browser")
        if not rows or (latest is not None and latest.chunks >= len(rows)):
            return None
        version = 1 if latest is None else latest.version + 1
        gaps = gap_ranges(r.seq for r in rows)
        missing = sum(b - a + 1 for a, b in gaps)
        try:
            runs = _runs(store, session, rows, chunk_ms)
            joined = join_runs(runs)
        except JoinFailed as err:
            return _join_failed(db, store, session, "browser", version, len(rows), str(err), err.bad_seq,
                                [o.as_dict() for o in err.runs])
        except Exception as err:  # noqa: BLE001 - reading the chunks back failed: a fact for the evidence
            return _join_failed(db, store, session, "browser", version, len(rows), f"{type(err).__name__}: {err}",
                                None, [])
        previous = _latest(db, session, "browser", joined_only=True)
        receipt = append_item(
            store,
            session,
            FULL,
            joined.data,
            metadata={
                "version": version,
                "chunks": len(rows),
                "gaps": missing,
                "gap_ranges": [list(g) for g in gaps[:100]],
                "duration_ms": int(joined.duration_s * 1000),
                "source_log_indexes": [r.log_index for r in rows],
                "recorder_runs": len(runs),
                "runs": [o.as_dict() for o in joined.runs],
                "replaces_log_index": previous.log_index if previous is not None else None,
                "clock": "session",
                "container": "webm",
            },
            actor=SYSTEM,
            media_range={"start_ms": 0, "end_ms": int(joined.duration_s * 1000)},
            candidate_id=str(session.candidate_id),
        )
        if joined.failed_runs:
            bad = joined.failed_runs[0]
            record_event(
                store,
                session,
                "recording.join_failed",
                data={"source": "browser", "version": version, "partial": True, "reason": bad.error,
                      "bad_seq": bad.bad_seq, "runs": [o.as_dict() for o in joined.failed_runs]},
            )
        rec = SessionRecording(
            session_id=session.id,
            source="browser",
            version=version,
            object_key=receipt.object_key,
            log_index=receipt.log_index,
            duration_s=joined.duration_s,
            chunks=len(rows),
            gaps=missing,
            size=len(joined.data),
            error=joined.failed_runs[0].error if joined.failed_runs else None,
        )
        db.add(rec)
        db.commit()
        return rec


def join_server(db: Session, store: Any, session: AssessmentSession) -> SessionRecording | None:
    """Join the server's IVF segments (placed by their ``media_range`` on the session media clock, downtime kept as a
    gap) and remux them into WebM, as a new version when segments arrived since the last join."""
    with _JOIN_LOCK:
        entries = [
            e
            for e in store.list_entries(session.public_id, include_related=False)
            if e.get("type") == SERVER_SEGMENT and e.get("media_range")
        ]
        latest = _latest(db, session, "server")
        if not entries or (latest is not None and latest.chunks >= len(entries)):
            return None
        version = 1 if latest is None else latest.version + 1
        try:
            segments = [(store.read(e["object"]["key"], SYSTEM), e["media_range"]["start_ms"] / 1000) for e in entries]
            data, end_s = ivf_to_webm(join_ivf(segments, origin=0.0))
        except Exception as err:  # noqa: BLE001 - a fact for the evidence, never a reason to stop
            return _join_failed(db, store, session, "server", version, len(entries), f"{type(err).__name__}: {err}",
                                None, [])
        previous = _latest(db, session, "server", joined_only=True)
        receipt = append_item(
            store,
            session,
            SERVER_FULL,
            data,
            metadata={
                "version": version,
                "segments": len(entries),
                "duration_ms": int(end_s * 1000),
                "source_log_indexes": [e["log_index"] for e in entries],
                "replaces_log_index": previous.log_index if previous is not None else None,
                "clock": "session",
                "container": "webm",
                "codec": "vp8",
                "source": "server",
            },
            actor=SYSTEM,
            media_range={"start_ms": 0, "end_ms": int(end_s * 1000)},
            candidate_id=str(session.candidate_id),
        )
        rec = SessionRecording(
            session_id=session.id,
            source="server",
            version=version,
            object_key=receipt.object_key,
            log_index=receipt.log_index,
            duration_s=end_s,
            chunks=len(entries),
            size=len(data),
        )
        db.add(rec)
        db.commit()
        return rec


def _join_failed(
    db: Session,
    store: Any,
    session: AssessmentSession,
    source: str,
    version: int,
    parts: int,
    reason: str,
    bad_seq: int | None,
    runs: list[dict[str, Any]],
) -> SessionRecording:
    log.warning("joining the %s recording of %s failed: %s", source, session.public_id, reason)
    record_event(
        store,
        session,
        "recording.join_failed",
        data={"source": source, "version": version, "partial": False, "reason": reason, "bad_seq": bad_seq,
              "runs": runs},
    )
    rec = SessionRecording(session_id=session.id, source=source, version=version, chunks=parts, error=reason[:2000])
    db.add(rec)
    db.commit()
    return rec


def join_recordings(db: Session, store: Any, session: AssessmentSession, chunk_ms: int) -> list[SessionRecording]:
    """Join whatever is new of both copies. Never raises for a copy that cannot be joined (that is logged as
    evidence); returns the new versions."""
    out = []
    for name, join in (("browser", lambda: join_browser(db, store, session, chunk_ms)),
                       ("server", lambda: join_server(db, store, session))):
        try:
            rec = join()
        except Exception:
            db.rollback()
            log.exception("joining the %s recording of %s failed", name, session.public_id)
            continue
        if rec is not None:
            out.append(rec)
    return out
