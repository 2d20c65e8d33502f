"""The proctoring half of the ``/live`` socket (docs/LIVE-PROTOCOL.md, "Proctoring"): browser signals from the
candidate's page, the assessor's labels and quiet phase. ``remote_tuk.live.events.LiveNamespace`` routes the events
here after its own guard (authenticated user, payload an object, domain errors as a refusal)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from remote_tuk.accounts.models import User
from remote_tuk.assessment import services as assessment
from remote_tuk.extensions import db, evidence, media, socketio
from remote_tuk.live.media import NAMESPACE, staff_room_of
from remote_tuk.proctoring import profiles, services
from remote_tuk.proctoring.schemas import LabelIn, QuietIn, SignalIn
from remote_tuk.tuk import services as tuk
from remote_tuk.validation import parse


def signal_gate() -> services.SignalGate:
    """The app's gate for browser signals (replays and floods; one per app, in memory: one media process)."""
    return current_app.extensions.setdefault("rtuk_signal_gate", services.SignalGate())


def _fullscreen_required(session: Any) -> bool:
    """Leaving fullscreen is an alert when the TUK profile requires fullscreen and the scheme's proctoring profile
    has not turned the alert off."""
    profile = tuk.profile_for(db.session, session)
    return any(r.key == "fullscreen" for r in profile.requirements) and profiles.for_scheme(
        db.session, session.schedule.scheme_id).fullscreen_required


def on_signal(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    data = parse(SignalIn, payload)
    session = assessment.get_session_for(db.session, user, data.session)
    if services.live.participant(user, session).role != "candidate":
        raise services.Forbidden("Sinyal peramban hanya dikirim oleh halaman asesi sesi ini.")
    signal_gate().admit(session.public_id, data.page, data.seq)
    result = services.record_signal(db.session, evidence.store, session, user, data,
                                    fullscreen_required=_fullscreen_required(session))
    for item in (result.finding, result.ended):
        if item is not None:
            socketio.emit("finding", item, to=staff_room_of(session.public_id), namespace=NAMESPACE)
    return {"ok": True, "alert": result.finding is not None}


def on_label(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    data = parse(LabelIn, payload)
    session = assessment.get_session_for(db.session, user, data.session)
    row = services.label_finding(db.session, evidence.store, session, user, data.finding, data.label, data.note)
    socketio.emit("finding_label", row, to=staff_room_of(session.public_id), namespace=NAMESPACE)
    return {"ok": True, "finding": row}


def on_quiet(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    data = parse(QuietIn, payload)
    session = assessment.get_session_for(db.session, user, data.session)
    media_s = services.record_quiet(evidence.store, session, user, data.on)
    applied = media.proctoring is not None and media.proctoring.set_quiet(session.public_id, data.on)
    socketio.emit("quiet", {"on": data.on, "media_s": round(media_s, 3)}, to=staff_room_of(session.public_id),
                  namespace=NAMESPACE)
    return {"ok": True, "on": data.on, "analysed": applied}


def staff_view(session: Any) -> dict[str, Any]:
    """What a joining assessor or witness page gets: the findings so far and how the analysis keeps up."""
    return {
        "findings": services.list_findings(db.session, session),
        "analysis": analysis_status(session.public_id),
    }


def analysis_status(public_id: str) -> dict[str, Any] | None:
    if media.proctoring is None:
        return None
    metrics = media.proctoring.metrics(public_id)
    if metrics is None:
        return {"running": False}
    return {"running": True, **metrics}
