"""The session media clock (docs/BUNDLE-FORMAT.md, "The session media clock") and downtime.

One clock for every item of a session: seconds of time spent ``live``, counted from the first ``ready → live`` on
the server's clock, pauses excluded, downtime included. It is the browser recording's timeline (MediaRecorder
records while the session is live, pauses with it and keeps recording through a network drop); KUK marks, events,
the server's own segments and the joined recordings are all placed on it. Any server instant maps onto it through
the state transitions (:func:`clock_at`), so items made by other threads, processes or after a restart agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.db import utcnow
from remote_tuk.live.models import Downtime

S = SessionState


def live_intervals(session: AssessmentSession) -> list[tuple[datetime, datetime | None]]:
    """The stretches the session spent live, in order; the last one open (None) while it is live."""
    out: list[tuple[datetime, datetime | None]] = []
    since: datetime | None = None
    for t in session.transitions:
        if t.to_state is S.LIVE and since is None:
            since = t.at
        elif t.from_state is S.LIVE and since is not None:
            out.append((since, t.at))
            since = None
    if since is not None:
        out.append((since, None if session.state is S.LIVE else since))
    return out


def clock_at(session: AssessmentSession, at: datetime) -> float:
    """The session media clock at the server instant *at* (seconds; 0 before the session first went live)."""
    total = 0.0
    for start, end in live_intervals(session):
        stop = at if end is None else min(end, at)
        if stop > start:
            total += (stop - start).total_seconds()
    return total


def clock_at_utc(session: AssessmentSession, unix_s: float) -> float:
    return clock_at(session, datetime.fromtimestamp(unix_s, UTC))


def live_elapsed(session: AssessmentSession, now: datetime | None = None) -> float:
    """The session media clock now: seconds the session has spent live (pauses excluded, downtime included)."""
    return clock_at(session, now or utcnow())


def live_starts(session: AssessmentSession) -> int:
    """How many times the session went live (the start and every resume)."""
    return sum(1 for t in session.transitions if t.to_state is S.LIVE)


# --- downtime: the candidate's media did not reach the server while the session was live or paused ---------------


def downtime_total(db: Session, session: AssessmentSession) -> float:
    return float(
        db.scalar(select(func.coalesce(func.sum(Downtime.seconds), 0.0)).where(Downtime.session_id == session.id))
        or 0.0
    )


def open_downtime(db: Session, session: AssessmentSession) -> Downtime | None:
    return db.scalar(select(Downtime).where(Downtime.session_id == session.id, Downtime.ended_at.is_(None)))


def downtime_started(db: Session, session: AssessmentSession, at: datetime, silent_s: float = 0.0) -> bool:
    """The candidate's media stopped reaching the server (it stopped *silent_s* seconds before *at*). Returns whether
    a new stretch was opened."""
    if open_downtime(db, session) is not None:
        return False
    db.add(Downtime(session_id=session.id, started_at=at - timedelta(seconds=silent_s)))
    db.commit()
    return True


def downtime_ended(
    db: Session, session: AssessmentSession, at: datetime, downtime_s: float | None = None
) -> float | None:
    """The candidate's media is back at *at*. Closes the open stretch (or records one of *downtime_s* seconds when
    none was open and the engine measured one). Returns the stretch's length, or None when there was none."""
    row = open_downtime(db, session)
    if row is None:
        if downtime_s is None:
            return None
        row = Downtime(session_id=session.id, started_at=at - timedelta(seconds=downtime_s))
        db.add(row)
    row.ended_at = at
    row.seconds = downtime_s if downtime_s is not None else max(0.0, (at - row.started_at).total_seconds())
    db.commit()
    return row.seconds


def clock(db: Session, session: AssessmentSession) -> dict[str, Any]:
    """What the pages show: the media clock, whether it runs, and the downtime so far."""
    return {
        "elapsed_s": round(live_elapsed(session), 3),
        "running": session.state is S.LIVE,
        "downtime_s": round(downtime_total(db, session), 3),
    }
