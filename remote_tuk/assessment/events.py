"""Socket.IO namespace ``/sesi``: follow a session's status live, and change it (assessor).

Every event checks that the socket belongs to a signed-in user allowed to see that session, and validates its
payload; a refusal is answered with an ``error`` event (code + message) and changes nothing.
"""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from flask_socketio import emit, join_room, leave_room

from remote_tuk.accounts.models import User
from remote_tuk.assessment import services
from remote_tuk.assessment.models import AssessmentSession, SessionTransition
from remote_tuk.assessment.schemas import FollowIn, SocketTransitionIn
from remote_tuk.errors import DomainError
from remote_tuk.extensions import db, socketio
from remote_tuk.sockets.events import TrackedNamespace, socket_user
from remote_tuk.validation import parse

log = logging.getLogger(__name__)

__all__ = ["NAMESPACE", "TRANSITION_LISTENERS", "SessionNamespace", "broadcast_transition", "room_of", "socket_user"]

NAMESPACE = "/sesi"
MAX_PAYLOAD_KEYS = 16


def room_of(public_id: str) -> str:
    return f"session:{public_id}"


#: Called after every committed transition, after the broadcast (the live session registers its hook here).
TRANSITION_LISTENERS: list[Any] = []


def broadcast_transition(session: AssessmentSession, record: SessionTransition) -> None:
    """Tell every follower of the session, then the listeners (evidence, media engine, recording). Each runs on its
    own: one failing (logged) does not keep the others from running."""
    for listener in (_emit_state, *TRANSITION_LISTENERS):
        try:
            listener(session, record)
        except Exception:
            db.session.rollback()
            log.exception("transition listener %s failed for %s", getattr(listener, "__name__", listener),
                          session.public_id)


def _emit_state(session: AssessmentSession, record: SessionTransition) -> None:
    socketio.emit(
        "state",
        {
            "session": session.public_id,
            "state": session.state.value,
            "label": session.state_label,
            "at": record.at.isoformat(),
        },
        to=room_of(session.public_id),
        namespace=NAMESPACE,
    )


def guarded(handler: Any) -> Any:
    """Authenticate every event and turn domain errors into an ``error`` event; the DB is rolled back on failure."""

    @wraps(handler)
    def wrapper(self: Any, payload: Any = None) -> Any:
        user = socket_user()
        if user is None:
            emit("error", {"error": "unauthenticated", "message": "Silakan masuk terlebih dahulu."})
            return {"ok": False, "error": "unauthenticated"}
        if not isinstance(payload, dict) or len(payload) > MAX_PAYLOAD_KEYS:
            emit("error", {"error": "validation_failed", "message": "Data harus berupa objek."})
            return {"ok": False, "error": "validation_failed"}
        try:
            return handler(self, user, payload)
        except DomainError as err:
            db.session.rollback()
            emit("error", err.to_dict())
            return {"ok": False, **err.to_dict()}

    return wrapper


class SessionNamespace(TrackedNamespace):
    room_prefix = room_of("")

    @guarded
    def on_follow(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data = parse(FollowIn, payload)
        session = services.get_session_for(db.session, user, data.session)
        join_room(room_of(session.public_id))
        return {"ok": True, "state": session.state.value, "label": session.state_label}

    @guarded
    def on_unfollow(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data = parse(FollowIn, payload)
        leave_room(room_of(data.session))
        return {"ok": True}

    @guarded
    def on_transition(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data = parse(SocketTransitionIn, payload)
        session = services.get_session_for(db.session, user, data.session)
        services.transition(db.session, session, data.to, actor=user, reason=data.reason, emit=broadcast_transition)
        return {"ok": True, "state": session.state.value}
