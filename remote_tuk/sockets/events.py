"""The base of every Socket.IO namespace: sign-in on connect, the registry of connected sockets, and how a socket is
taken out of a session it may no longer see."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app, has_app_context, request
from flask_login import current_user
from flask_socketio import Namespace

from remote_tuk.access import AccessChange
from remote_tuk.accounts.models import User
from remote_tuk.accounts.services import needs_totp
from remote_tuk.auth import current_sign_in_id
from remote_tuk.extensions import db, socket_registry, socketio
from remote_tuk.sockets.registry import Connection
from remote_tuk.sockets.services import recheck


def socket_user() -> User | None:
    """The user a socket event runs for (the sign-in is checked again on every event), or None."""
    if not current_user.is_authenticated:
        return None
    user: User = current_user  # type: ignore[assignment]
    if needs_totp(user) and not user.totp_enabled:
        return None
    return user


class TrackedNamespace(Namespace):
    """Refuses anonymous sockets and records every connection in the registry until it disconnects."""

    #: Rooms of sessions in this namespace are ``room_prefix + public_id``.
    room_prefix = ""

    def on_connect(self, auth: Any = None) -> bool:
        user = socket_user()
        if user is None:
            return False  # the client sees connect_error
        sid: str = request.sid  # type: ignore[attr-defined]
        socket_registry.add(Connection(self.namespace, sid, user.id, current_sign_in_id()))
        return True

    def trigger_event(self, event: str, *args: Any) -> Any:
        try:
            return super().trigger_event(event, *args)
        finally:
            if event == "disconnect" and args:
                socket_registry.remove(self.namespace, args[0])

    def revoke(self, sid: str, room: str, public_id: str, user: User | None) -> None:
        """*user* may no longer see session *public_id*: take this socket out of its room."""
        self.socketio.server.leave_room(sid, room, namespace=self.namespace)


def recheck_here(app: Flask, change: AccessChange) -> None:
    """Re-check this process's sockets. It runs in a thread of its own, waited for: the socket handlers it triggers
    (disconnect) need their own application context and database session, not the caller's."""
    if not len(socket_registry):
        return

    def run() -> None:
        with app.app_context():
            try:
                with db.new_session() as s:
                    recheck(s, socketio.server, socket_registry, change)
            except Exception:  # the change is committed; a failed re-check must not turn its answer into a 500
                app.logger.exception("Re-checking sockets after an access change failed")

    worker = threading.Thread(target=run, name="rtuk-access-recheck", daemon=True)
    worker.start()
    worker.join(timeout=30)


def on_access_changed(change: AccessChange) -> None:
    """The ``access.LISTENERS`` entry: re-check the sockets here, and tell the other nodes (sockets/fanout.py)."""
    if not has_app_context():
        return  # not inside the app (no socket of it can be open in this process)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    recheck_here(app, change)
    fanout = app.extensions.get("rtuk_access_fanout")
    if fanout is not None:
        fanout.publish(change)
