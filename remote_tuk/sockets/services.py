"""Access changed → every affected socket is checked again (issue 12 #9).

A socket opened under a sign-in that ended is disconnected. A socket in the room of a session whose audience changed
is checked against the same visibility rule as every request (``assessment.services.can_view_session``); if its user
may no longer see the session, the namespace takes it out (``TrackedNamespace.revoke``: ``/sesi`` leaves the room,
``/live`` also closes the user's media and disconnects the page). Broadcasts to the room then no longer reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from remote_tuk.access import AccessChange
from remote_tuk.accounts.models import User
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.assessment.services import can_view_session
from remote_tuk.sockets.registry import Connection, SocketRegistry


@dataclass
class Outcome:
    disconnected: list[Connection] = field(default_factory=list)
    #: (connection, session public id) taken out of that session's room
    revoked: list[tuple[Connection, str]] = field(default_factory=list)


def session_rooms(server: Any, connection: Connection) -> dict[str, str]:
    """The session rooms the socket is in: room name → session public id (per the namespace's room prefix)."""
    handler = server.namespace_handlers.get(connection.namespace)
    prefix = getattr(handler, "room_prefix", "")
    if not prefix:
        return {}
    rooms = server.manager.get_rooms(connection.sid, connection.namespace) or []
    return {room: room[len(prefix) :] for room in rooms if isinstance(room, str) and room.startswith(prefix)}


def recheck(db: Session, server: Any, registry: SocketRegistry, change: AccessChange) -> Outcome:
    outcome = Outcome()
    for conn in registry.connections():
        handler = server.namespace_handlers.get(conn.namespace)
        rooms = session_rooms(server, conn)
        if conn.sign_in_id is not None and conn.sign_in_id in change.sign_ins:
            user = db.get(User, conn.user_id)
            for room, public_id in rooms.items():
                handler.revoke(conn.sid, room, public_id, user)
                outcome.revoked.append((conn, public_id))
            server.disconnect(conn.sid, namespace=conn.namespace)
            outcome.disconnected.append(conn)
            continue
        affected = {room: pid for room, pid in rooms.items() if pid in change.sessions}
        if not affected:
            continue
        user = db.get(User, conn.user_id)
        for room, public_id in affected.items():
            session = db.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
            if user is None or not user.active or session is None or not can_view_session(db, user, session):
                handler.revoke(conn.sid, room, public_id, user)
                outcome.revoked.append((conn, public_id))
    return outcome
