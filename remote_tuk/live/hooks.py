"""What happens to the live session when its state changes (registered by ``create_app``)."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import func, select

from remote_tuk.assessment.models import AssessmentSession, SessionState, SessionTransition
from remote_tuk.extensions import db, evidence, media, socketio
from remote_tuk.live import services
from remote_tuk.live.media import NAMESPACE, room_of
from remote_tuk.live.models import RecordingChunk

log = logging.getLogger(__name__)
S = SessionState

#: After the end, wait this long without a new chunk before joining the recording (trailing uploads arrive).
QUIET_S = 3.0
MAX_WAIT_S = 30.0


def after_transition(session: AssessmentSession, record: SessionTransition) -> None:
    store = evidence.store
    services.record_event(
        store,
        session,
        f"state.{record.to_state.value}",
        by=record.actor,
        data={"from": record.from_state.value, "reason": record.reason},
        media_s=services.live_elapsed(session),
    )
    socketio.emit(
        "state",
        {
            "session": session.public_id,
            "state": session.state.value,
            "label": session.state_label,
            "at": record.at.isoformat(),
            "clock": services.clock(db.session, session),
        },
        to=room_of(session.public_id),
        namespace=NAMESPACE,
    )
    if record.to_state in (S.ENDED, S.CANCELLED) and media.running:
        try:
            media.engine.close_session(session.public_id, reason=record.to_state.value)
        except Exception:  # noqa: BLE001 - an unknown session in the engine is fine
            log.debug("engine had no media for %s", session.public_id)
    if record.to_state is S.ENDED:
        threading.Thread(target=_finalize_later, args=(session.id,), name="recording-finalize", daemon=True).start()
    if record.to_state in (S.DECIDED, S.CANCELLED):
        services.finalize_recording(db.session, store, session)
        services.close_evidence(store, session)


def _finalize_later(session_pk: int) -> None:
    started = time.monotonic()
    last_count = -1
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - started < MAX_WAIT_S:
            with db.new_session() as s:
                count = s.scalar(
                    select(func.count()).select_from(RecordingChunk).where(RecordingChunk.session_id == session_pk)
                )
            if count != last_count:
                last_count, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_S:
                break
            time.sleep(0.5)
        with db.new_session() as s:
            session = s.get(AssessmentSession, session_pk)
            if session is None:
                return
            rec = services.finalize_recording(s, evidence.store, session)
            if rec is not None:
                socketio.emit(
                    "notice",
                    {
                        "level": "info",
                        "message": "Rekaman digabung dan disimpan sebagai bukti.",
                        "recording": {"duration_s": rec.duration_s, "chunks": rec.chunks},
                    },
                    to=room_of(session.public_id),
                    namespace=NAMESPACE,
                )
    except Exception:
        log.exception("joining the recording of session %s failed", session_pk)
