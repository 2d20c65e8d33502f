"""The snapshot of a finding, for the assessor's alert list (decrypted from the evidence store; the read is logged)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from sqlalchemy import select

from remote_tuk.assessment import services as assessment
from remote_tuk.auth import current, signed_in
from remote_tuk.errors import Forbidden, NotFound
from remote_tuk.extensions import db, evidence
from remote_tuk.live import services as live
from remote_tuk.proctoring.models import Finding

bp = Blueprint("proctoring", __name__)


@bp.get("/live/<public_id>/temuan/<int:finding_id>/snapshot")
@signed_in
def snapshot(public_id: str, finding_id: int) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if live.participant(user, session).role == "candidate":
        raise Forbidden("Cuplikan temuan hanya untuk asesor dan peninjau.")
    row = db.session.scalar(select(Finding).where(Finding.id == finding_id, Finding.session_id == session.id))
    if row is None or row.snapshot_object is None:
        raise NotFound("Cuplikan tidak ditemukan.")
    data = evidence.store.read(row.snapshot_object, live.actor(user))
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
