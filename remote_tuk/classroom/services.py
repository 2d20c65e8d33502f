"""What the classroom page shows per candidate session: a view over the sessions, each keeping its own state,
evidence and media (nothing here writes anything)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment.models import Schedule, SessionState
from remote_tuk.live import services as live
from remote_tuk.proctoring.models import Finding
from remote_tuk.proctoring.services import finding_json

S = SessionState
#: Where the session is before it is live, and what the assessor does next there.
NOT_LIVE_YET = (S.SCHEDULED, S.CHECKING, S.READY)


def viewer_part(user: User, schedule: Schedule) -> live.Participant:
    """The user's part in every session of the schedule: its assessor talks and acts, anyone else only watches."""
    if user.role is Role.ASSESSOR and schedule.assessor_id == user.id:
        return live.Participant("assessor", True, True, f"assessor-{user.id}")
    return live.Participant("witness", False, False, f"witness-{user.id}")


def tiles(db: Session, schedule: Schedule) -> list[dict[str, Any]]:
    """One tile per candidate session, in the schedule's order; open (unlabelled) alerts counted per session."""
    sessions = list(schedule.sessions)
    ids = [s.id for s in sessions]
    open_counts: dict[int, int] = {}
    latest: dict[int, Finding] = {}
    if ids:
        unlabelled = Finding.label.is_(None)
        counts = db.execute(
            select(Finding.session_id, func.count()).where(Finding.session_id.in_(ids), unlabelled)
            .group_by(Finding.session_id)
        )
        open_counts = {sid: n for sid, n in counts}
        for row in db.scalars(select(Finding).where(Finding.session_id.in_(ids), unlabelled).order_by(Finding.id)):
            latest[row.session_id] = row
    out = []
    for s in sessions:
        f = latest.get(s.id)
        out.append({
            "session": s.public_id,
            "candidate": s.candidate.full_name,
            "state": s.state.value,
            "label": s.state_label,
            "open_alerts": open_counts.get(s.id, 0),
            "latest_alert": finding_json(f, s.public_id) if f is not None else None,
            "urls": {
                "live": url_for("live.page", public_id=s.public_id),
                "panel": url_for("live.page", public_id=s.public_id, panel=1),
                "session": url_for("assessment.session_detail", public_id=s.public_id),
                "check": url_for("tuk.page", public_id=s.public_id),
            },
        })
    return out
