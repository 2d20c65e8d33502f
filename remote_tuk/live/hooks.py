"""What happens to the live session when its state changes (registered by ``create_app``).

The transition is already committed when these run: each step runs on its own, and a step that fails is logged,
recorded as evidence where that matters, and shown on the live page — it never turns the committed change into an
error, and never keeps the session's evidence chain from being closed when the session is decided or cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from remote_tuk.assessment.models import AssessmentSession, SessionState, SessionTransition
from remote_tuk.extensions import db, evidence, media, socketio
from remote_tuk.live import joins, recording, services
from remote_tuk.live.clock import clock, clock_at, downtime_ended, open_downtime
from remote_tuk.live.media import NAMESPACE, room_of
from remote_tuk.live.models import RecordingChunk

log = logging.getLogger(__name__)
S = SessionState

#: After the end, wait this long without a new chunk before joining the recording (trailing uploads arrive).
QUIET_S = 3.0
MAX_WAIT_S = 30.0
#: Closing the evidence chain is retried this many times (waiting 2, 4, 8 … s) if the store refuses at first.
CLOSE_ATTEMPTS = 5


def _step(what: str, session: AssessmentSession, fn: Callable[[], Any]) -> bool:
    try:
        fn()
        return True
    except Exception:
        db.session.rollback()
        log.exception("after the transition of %s: %s failed", session.public_id, what)
        return False


def notice(public_id: str, level: str, code: str, message: str, **extra: Any) -> None:
    """A notice on the session's live pages (``code`` is translated by the page; ``message`` is the fallback)."""
    socketio.emit("notice", {"level": level, "code": code, "message": message, **extra}, to=room_of(public_id),
                  namespace=NAMESPACE)


def after_transition(session: AssessmentSession, record: SessionTransition) -> None:
    store = evidence.store
    to = record.to_state
    chunk_ms = current_app.config["RTUK"].rtc.chunk_ms
    _step("the state event", session, lambda: services.record_event(
        store,
        session,
        f"state.{to.value}",
        by=record.actor,
        data={"from": record.from_state.value, "reason": record.reason},
        media_s=clock_at(session, record.at),
    ))
    _step("the broadcast", session, lambda: socketio.emit(
        "state",
        {
            "session": session.public_id,
            "state": session.state.value,
            "label": session.state_label,
            "at": record.at.isoformat(),
            "clock": clock(db.session, session),
        },
        to=room_of(session.public_id),
        namespace=NAMESPACE,
    ))
    _step("the media engine", session, lambda: media.follow_state(session.public_id, to))
    if to in (S.ENDED, S.CANCELLED):
        _step("closing the downtime", session, lambda: _close_downtime(session, record))
    if to is S.ENDED:
        join_when_quiet(session.id, chunk_ms)
    if to in (S.DECIDED, S.CANCELLED):
        _finish_evidence(session, chunk_ms)


def _close_downtime(session: AssessmentSession, record: SessionTransition) -> None:
    """Media that had not come back by the end stops counting as downtime there."""
    if open_downtime(db.session, session) is not None:
        downtime_ended(db.session, session, record.at)


def _finish_evidence(session: AssessmentSession, chunk_ms: int) -> None:
    """The final joins and the conflict summary, then the chain is closed — whatever the joins did."""
    store = evidence.store
    try:
        _step("the final joins", session, lambda: joins.join_recordings(db.session, store, session, chunk_ms))
        _step("the conflict summary", session, lambda: recording.log_conflicts(db.session, store, session,
                                                                                final=True))
    finally:
        if not _step("closing the evidence chain", session, lambda: services.close_evidence(store, session)):
            notice(session.public_id, "error", "evidence_close_retry",
                   "Rantai bukti belum dapat ditutup; sistem mencoba lagi.")
            threading.Thread(target=_close_later, args=(session.id, db.factory, store), name="evidence-close",
                             daemon=True).start()


# Background work takes the app's session factory and evidence store with it (the extensions are rebound when another
# app is created in the same process, as tests do).


def _left_open(session_pk: int) -> None:
    log.warning("the evidence chain of session %s was left open (the evidence store closed): run close-chains",
                session_pk)


def _close_later(session_pk: int, factory: Any, store: Any) -> None:
    for attempt in range(CLOSE_ATTEMPTS):
        time.sleep(2 ** (attempt + 1))
        if store.closed:  # the app or process is stopping; `python -m remote_tuk close-chains` closes it later
            _left_open(session_pk)
            return
        try:
            with factory() as s:
                session = s.get(AssessmentSession, session_pk)
                if session is None:
                    return
                services.close_evidence(store, session)
                log.info("evidence chain of %s closed on attempt %d", session.public_id, attempt + 2)
                return
        except Exception:
            if store.closed:  # closed while it was being used
                _left_open(session_pk)
                return
            log.exception("closing the evidence chain of session %s failed again", session_pk)


# --- joining the recordings once uploads go quiet -------------------------------------------------------------------

_JOINS_LOCK = threading.Lock()
#: (the app's session factory, session id) of the joins waiting for quiet
_JOINS_PENDING: set[tuple[int, int]] = set()


def join_when_quiet(session_pk: int, chunk_ms: int | None = None) -> None:
    """Join the recordings (a new version when something arrived since the last join) once no chunk has come for
    ``QUIET_S`` (at most ``MAX_WAIT_S``), in the background; a call while one is waiting is folded into it."""
    if chunk_ms is None:
        chunk_ms = current_app.config["RTUK"].rtc.chunk_ms
    key = (id(db.factory), session_pk)
    with _JOINS_LOCK:
        if key in _JOINS_PENDING:
            return
        _JOINS_PENDING.add(key)
    threading.Thread(target=_join_later, args=(key, chunk_ms, db.factory, evidence.store),
                     name="recording-join", daemon=True).start()


def _join_later(key: tuple[int, int], chunk_ms: int, factory: Any, store: Any) -> None:
    session_pk = key[1]
    started = time.monotonic()
    last_count = -1
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - started < MAX_WAIT_S and not store.closed:
            with factory() as s:
                count = s.scalar(
                    select(func.count()).select_from(RecordingChunk).where(RecordingChunk.session_id == session_pk)
                )
            if count != last_count:
                last_count, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_S:
                break
            time.sleep(0.5)
        if store.closed:  # the app or process is stopping
            log.info("the recording of session %s was not joined: the evidence store closed", session_pk)
            return
        with _JOINS_LOCK:
            _JOINS_PENDING.discard(key)  # a chunk from now on schedules the next join
        with factory() as s:
            session = s.get(AssessmentSession, session_pk)
            if session is None or not services.evidence_open(store, session):
                return
            for rec in joins.join_recordings(s, store, session, chunk_ms):
                if rec.error and rec.object_key is None:
                    notice(session.public_id, "error", "recording_join_failed",
                           "Rekaman tidak dapat digabung; kegagalan dicatat sebagai bukti.", source=rec.source)
                else:
                    joined = {"source": rec.source, "version": rec.version, "duration_s": rec.duration_s,
                              "chunks": rec.chunks}
                    notice(session.public_id, "info", "recording_joined",
                           "Rekaman digabung dan disimpan sebagai bukti.", recording=joined)
    except Exception:
        if store.closed:  # closed while it was being used
            log.info("the recording of session %s was not joined: the evidence store closed", session_pk)
        else:
            log.exception("joining the recording of session %s failed", session_pk)
    finally:
        with _JOINS_LOCK:
            _JOINS_PENDING.discard(key)


# --- chains a process did not get to close --------------------------------------------------------------------------


def close_left_open(db_session: Any, store: Any, chunk_ms: int) -> list[tuple[str, str]]:
    """Decided or cancelled sessions whose evidence chain is still open (the process that made the change stopped
    before it closed the chain): join what is new of their recordings, then close the chain. Returns (public id,
    outcome) per session found; idempotent (``python -m remote_tuk close-chains``)."""
    done: list[tuple[str, str]] = []
    closed_states = (S.DECIDED, S.CANCELLED)
    for session in db_session.scalars(select(AssessmentSession).where(AssessmentSession.state.in_(closed_states))):
        if services.chain_state(store, session) != "open":
            continue
        joins.join_recordings(db_session, store, session, chunk_ms)
        try:
            closed = services.close_evidence(store, session)
        except Exception as err:  # reported per session; the others are still tried
            log.exception("closing the evidence chain of %s failed", session.public_id)
            done.append((session.public_id, f"gagal: {err}"))
            continue
        done.append((session.public_id, "ditutup" if closed else "sudah tertutup"))
    return done
