"""Socket.IO namespace ``/live``: signaling (offer/answer, ICE restart), chat, control, stats (docs/LIVE-PROTOCOL.md).

Every event authenticates the socket's user, checks that they may see the session, validates the payload and answers
through the acknowledgement; a refusal changes nothing. Once the session's evidence chain is closed (decided,
cancelled) pages may still join, read and leave, but nothing they do is written to the chain.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import request
from flask_socketio import join_room, leave_room
from sqlalchemy import select

from remote_tuk.accounts.models import Role, User
from remote_tuk.assessment import evidence as unit_evidence
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.events import broadcast_transition, socket_user
from remote_tuk.assessment.models import AssessmentSession, SessionState
from remote_tuk.errors import DomainError, Forbidden
from remote_tuk.extensions import db, evidence, media, socketio
from remote_tuk.live import recording, scoring, services
from remote_tuk.live.clock import clock
from remote_tuk.live.media import NAMESPACE, room_of, staff_room_of
from remote_tuk.live.schemas import ChatIn, ControlIn, LayerIn, LeaveIn, OfferIn, SessionIn
from remote_tuk.proctoring import events as proctoring_events
from remote_tuk.sockets.events import TrackedNamespace
from remote_tuk.validation import parse

log = logging.getLogger(__name__)
S = SessionState
#: States in which media may flow (the TUK check uses it before the session goes live).
MEDIA_STATES = (S.CHECKING, S.READY, S.LIVE, S.PAUSED)
_ACTIONS = {"start": S.LIVE, "pause": S.PAUSED, "resume": S.LIVE, "end": S.ENDED}


def _refuse(err: DomainError) -> dict[str, Any]:
    db.session.rollback()
    return {"ok": False, **err.to_dict()}


def _proctor_error(err: Exception) -> dict[str, Any]:
    code = getattr(err, "code", "media_error")
    message = getattr(err, "message", str(err))
    return {"ok": False, "error": code, "message": f"Media ditolak: {message}"}


def _guard(handler: Any) -> Any:
    def wrapper(self: Any, payload: Any = None) -> Any:
        user = socket_user()
        if user is None:
            return {"ok": False, "error": "unauthenticated", "message": "Silakan masuk terlebih dahulu."}
        if not isinstance(payload, dict):
            return {"ok": False, "error": "validation_failed", "message": "Data harus berupa objek."}
        try:
            return handler(self, user, payload)
        except DomainError as err:
            return _refuse(err)
        except Exception as err:
            from proctor.errors import ProctorError

            if isinstance(err, ProctorError):
                db.session.rollback()
                return _proctor_error(err)
            raise

    wrapper.__name__ = handler.__name__
    return wrapper


class LiveNamespace(TrackedNamespace):
    room_prefix = room_of("")

    def revoke(self, sid: str, room: str, public_id: str, user: User | None) -> None:
        """The user lost access to the session (issue 12 #9): close their media too, and disconnect the page."""
        from proctor.errors import ProctorError

        if user is not None and media.engaged and public_id in media.engine.session_ids():
            engine = media.engine
            if user.role is Role.CANDIDATE:
                with contextlib.suppress(ProctorError):  # not connected
                    engine.close_candidate(public_id, reason="access_revoked")
            viewers = (f"assessor-{user.id}", f"witness-{user.id}")
            for peer in () if user.role is Role.CANDIDATE else (*viewers, *(tile_peer(v) for v in viewers)):
                with contextlib.suppress(ProctorError):  # not connected under that id
                    engine.close_viewer(public_id, peer, reason="access_revoked")
        self.socketio.server.disconnect(sid, namespace=self.namespace)

    def on_disconnect(self, *args: Any) -> None:
        joined = joined_sockets().pop(request.sid, None)  # type: ignore[attr-defined]
        if joined is None:
            return
        # a classroom page follows several sessions on one socket: each of them is told
        for public_id, user_id in (joined, *_ALSO_JOINED.pop(request.sid, set())):  # type: ignore[attr-defined]
            try:
                with db.new_session() as s:
                    session = s.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
                    user = s.get(User, user_id)
                    if session is not None and user is not None:
                        _page_event(session, user, "page.disconnected")
            except Exception:  # a page going away must never raise in the server
                log.exception("recording the disconnect of a page of %s failed", public_id)

    def _session(self, user: User, payload: dict[str, Any], model: Any = SessionIn) -> tuple[Any, AssessmentSession]:
        data = parse(model, payload)
        return data, assessment.get_session_for(db.session, user, data.session)

    @_guard
    def on_join(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        _data, session = self._session(user, payload)
        part = services.participant(user, session)
        join_room(room_of(session.public_id))
        if part.role != "candidate":
            join_room(staff_room_of(session.public_id))  # proctoring alerts (remote_tuk.proctoring)
        sid: str = request.sid  # type: ignore[attr-defined]
        previous = joined_sockets().get(sid)
        if previous is not None and previous[0] != session.public_id:
            _ALSO_JOINED.setdefault(sid, set()).add(previous)
        joined_sockets()[sid] = (session.public_id, user.id)
        written = _page_event(session, user, "page.joined")
        return {
            "proctoring": None if part.role == "candidate" else proctoring_events.staff_view(session),
            "ok": True,
            "role": part.role,
            "can_talk": part.can_talk,
            "can_control": part.can_control,
            "state": session.state.value,
            "label": session.state_label,
            "clock": clock(db.session, session),
            "chat": services.recent_chat(db.session, session),
            # the candidate's recorder continues its numbering after a page reload
            "next_seq": recording.next_chunk_seq(db.session, session) if part.role == "candidate" else None,
            # the classroom's small layer is sent only once a classroom tile watches this session (docs/MEDIA.md)
            "small_layer": session.public_id in _SMALL_WANTED,
            # decided or cancelled: the page may look, nothing more is recorded
            "read_only": not written,
        }

    def _media_session(self, user: User, payload: dict[str, Any]) -> tuple[OfferIn, AssessmentSession, Any]:
        data, session = self._session(user, payload, OfferIn)
        part = services.participant(user, session)
        # an assessor may test their own connection before the candidate has started the check
        allowed = (*MEDIA_STATES, S.SCHEDULED) if part.role == "assessor" else MEDIA_STATES
        if session.state not in allowed:
            raise services.InvalidState(f"Media tidak dapat dihubungkan saat sesi berstatus '{session.state_label}'.")
        media.prepare(session.public_id, session.state)
        return data, session, part

    @_guard
    def on_offer(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data, session, part = self._media_session(user, payload)
        services.ensure_evidence(evidence.store, session)
        if part.role == "candidate":
            answer = media.engine.candidate_offer(session.public_id, data.sdp)
        elif data.tile:
            answer = media.engine.viewer_offer(session.public_id, tile_peer(part.peer_id), data.sdp, part.can_talk,
                                               full=data.full)
            if session.public_id not in _SMALL_WANTED:  # the candidate's page starts sending its small layer
                _SMALL_WANTED.add(session.public_id)
                socketio.emit("layer_wanted", {"session": session.public_id}, to=room_of(session.public_id),
                              namespace=NAMESPACE)
        else:
            answer = media.engine.viewer_offer(session.public_id, part.peer_id, data.sdp, part.can_talk)
        return {"ok": True, "sdp": answer}

    @_guard
    def on_layer(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        """A classroom tile's full video on or off (the focus moved); nothing else changes, nothing is evidence."""
        data, session = self._session(user, payload, LayerIn)
        part = services.participant(user, session)
        if part.role == "candidate":
            raise Forbidden("Hanya asesor dan peninjau yang memilih tampilan kelas.")
        media.engine.viewer_full(session.public_id, tile_peer(part.peer_id), data.full)
        return {"ok": True}

    @_guard
    def on_restart(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data, session, part = self._media_session(user, payload)
        services.record_event(
            evidence.store,
            session,
            "peer.reconnecting",
            by=user,
            data={"role": part.role},
        )
        peer_id = tile_peer(part.peer_id) if data.tile and part.role != "candidate" else part.peer_id
        answer = media.engine.restart_ice(session.public_id, peer_id, data.sdp)
        return {"ok": True, "sdp": answer}

    @_guard
    def on_leave(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data, session = self._session(user, payload, LeaveIn)
        part = services.participant(user, session)
        if data.tile:  # a classroom tile closes its media; the classroom page still follows the session
            if part.role != "candidate" and media.engaged and session.public_id in media.engine.session_ids():
                from proctor.errors import UnknownPeer

                with contextlib.suppress(UnknownPeer):
                    media.engine.close_viewer(session.public_id, tile_peer(part.peer_id), reason="left")
            return {"ok": True}
        leave_room(room_of(session.public_id))
        leave_room(staff_room_of(session.public_id))
        joined_sockets().pop(request.sid, None)  # type: ignore[attr-defined]
        if not data.panel and media.engaged and session.public_id in media.engine.session_ids():
            from proctor.errors import UnknownPeer

            try:
                if part.role == "candidate":
                    media.engine.close_candidate(session.public_id, reason="left")
                else:
                    media.engine.close_viewer(session.public_id, part.peer_id, reason="left")
            except UnknownPeer:
                pass  # this page had no media connection (e.g. it only followed the session)
        _page_event(session, user, "page.left")
        return {"ok": True}

    @_guard
    def on_chat(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data, session = self._session(user, payload, ChatIn)
        msg = services.add_chat(db.session, evidence.store, session, user, data.text)
        socketio.emit("chat", {**services.chat_json(msg), "session": session.public_id}, to=room_of(session.public_id),
                      namespace=NAMESPACE)
        return {"ok": True}

    @_guard
    def on_control(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        data, session = self._session(user, payload, ControlIn)
        if not services.participant(user, session).can_control:
            raise Forbidden("Hanya asesor yang ditugaskan yang mengendalikan sesi.")
        assessment.transition(db.session, session, _ACTIONS[data.action], actor=user, emit=broadcast_transition)
        return {"ok": True, "state": session.state.value, "clock": clock(db.session, session)}

    @_guard
    def on_stats(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        _data, session = self._session(user, payload)
        if services.participant(user, session).role == "candidate":
            raise Forbidden("Statistik koneksi hanya untuk asesor dan peninjau.")
        return {"ok": True, "stats": media.stats(session.public_id), "clock": clock(db.session, session),
                "analysis": proctoring_events.analysis_status(session.public_id)}

    # proctoring (remote_tuk.proctoring.events): browser signals, labels on findings, the quiet phase

    @_guard
    def on_signal(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        return proctoring_events.on_signal(user, payload)

    @_guard
    def on_finding_label(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        return proctoring_events.on_label(user, payload)

    @_guard
    def on_quiet(self, user: User, payload: dict[str, Any]) -> dict[str, Any]:
        return proctoring_events.on_quiet(user, payload)


#: sessions a classroom tile has watched in this process: their candidate pages send the small layer (a second,
#: 160x120 encoder); a one-to-one session never pays for it
_SMALL_WANTED: set[str] = set()


def tile_peer(peer_id: str) -> str:
    """The engine's viewer id of a classroom tile: beside the live page's own connection, never replacing it."""
    return f"{peer_id}-tile"


def _page_event(session: AssessmentSession, user: User, kind: str) -> bool:
    """A page joined, left or lost its socket: evidence while the session's chain is open. Once it is closed
    (decided, cancelled) nothing happens in the session that evidence needs — the page is only looking — so nothing
    is written (docs/LIVE-PROTOCOL.md). Returns whether it was recorded."""
    if not services.evidence_open(evidence.store, session):
        log.info("%s of %s (%s) after the session was closed: not evidence", kind, session.public_id, user.id)
        return False
    try:
        services.record_event(
            evidence.store, session, kind, by=user,
            data={"role": services.participant(user, session).role, "state": session.state.value},
        )
    except services.EvidenceClosed:
        return False  # closed in the meantime
    return True


_JOINED: dict[str, tuple[str, int]] = {}
#: The sessions a socket joined before its latest one (a classroom page joins every session of its schedule).
_ALSO_JOINED: dict[str, set[tuple[str, int]]] = {}


def joined_sockets() -> dict[str, tuple[str, int]]:
    """Socket id → (session, user) for the sockets that joined a live session (to log their disconnect)."""
    return _JOINED


def register(app: Any) -> None:
    """The ``/live`` namespace, and the live session's evidence provider for unit decisions (observation marks)."""
    socketio.on_namespace(LiveNamespace(NAMESPACE))
    unit_evidence.register(scoring.observation_evidence)
