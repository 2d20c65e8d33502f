"""The KTP photo and the room scan (the candidate sends them, everyone who may see the session may view them, each
view logged by the evidence store) and the assessor's confirmations (docs/TUK-CHECK.md, steps 8 and 9)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from remote_tuk.accounts.models import Role
from remote_tuk.auth import current, roles_required, signed_in
from remote_tuk.errors import ValidationFailed
from remote_tuk.extensions import db, evidence
from remote_tuk.live import services as live
from remote_tuk.tuk import identity
from remote_tuk.tuk.edge import json_body, secret, session_of
from remote_tuk.tuk.schemas import ConfirmIn
from remote_tuk.validation import parse

bp = Blueprint("identity", __name__, url_prefix="/api/v1/sessions")
readers = roles_required(Role.ASSESSOR, Role.LSP_ADMIN, Role.AUDITOR, Role.CANDIDATE)


@bp.post("/<public_id>/identity/<what>")
@signed_in
def identity_media(public_id: str, what: str) -> Any:
    if what not in ("ktp", "room"):
        raise ValidationFailed("Jenis bukti identitas tidak dikenal.")
    session = session_of(public_id)
    identity.store_media(
        db.session, evidence.store, session, current(), what, request.get_data(cache=False), request.content_type
    )
    return jsonify({"ok": True, "what": what}), 201


@bp.post("/<public_id>/identity/confirm")
@signed_in
def confirm(public_id: str) -> Any:
    session = session_of(public_id)
    data = parse(ConfirmIn, json_body())
    if not data.confirmed:
        raise ValidationFailed("Hanya konfirmasi yang dicatat; bila tidak sesuai, batalkan sesi dengan alasan.")
    created = identity.confirm(
        db.session,
        evidence.store,
        session,
        current(),
        data.what,
        data.note,
        view=data.view,
        secret=secret(),
        clock=time.time,
    )
    return jsonify({"ok": True, "already": not created}), 201 if created else 200


@bp.get("/<public_id>/identity/ktp.jpg")
@readers
def ktp_image(public_id: str) -> Any:
    """The KTP snapshot, decrypted from the evidence store (every read is logged there; nothing else is written)."""
    user = current()
    session = session_of(public_id)
    ident = identity.find(db.session, session)
    if ident is None or ident.ktp_object is None:
        raise ValidationFailed("Belum ada foto KTP.")
    data = evidence.store.read(ident.ktp_object, live.actor(user))
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/<public_id>/identity/room.webm")
@readers
def room_video(public_id: str) -> Any:
    """The room scan, decrypted from the evidence store (the read is logged there), with the view token an assessor
    presents when confirming the room (``X-Room-View``) and the recording's length (``X-Room-Seconds``)."""
    session = session_of(public_id)
    view = identity.read_room(db.session, evidence.store, session, current(), secret=secret(), clock=time.time)
    return Response(
        view.data,
        mimetype="video/webm",
        headers={"Cache-Control": "no-store", "X-Room-View": view.token, "X-Room-Seconds": f"{view.seconds:.3f}"},
    )
