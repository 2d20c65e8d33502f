"""The classroom page: the schedule's assessor (and, watching only, a granted auditor or the LSP's admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from flask_wtf.csrf import generate_csrf

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.auth import current, roles_required
from remote_tuk.classroom import services
from remote_tuk.extensions import db
from remote_tuk.turn.services import ice_servers_for

bp = Blueprint("classroom", __name__)


@bp.get("/jadwal/<int:schedule_id>/kelas")
@roles_required(Role.ASSESSOR, Role.AUDITOR, Role.LSP_ADMIN)
def room(schedule_id: int) -> Any:
    user = current()
    schedule = assessment.get_schedule_for(db.session, user, schedule_id)  # 404 for a schedule not theirs
    part = services.viewer_part(user, schedule)
    settings = current_app.config["RTUK"]
    tiles = services.tiles(db.session, schedule)
    first = schedule.sessions[0] if schedule.sessions else None
    data = {
        "schedule": schedule.id,
        "role": part.role,
        "can_talk": part.can_talk,
        "can_control": part.can_control,
        "tiles": tiles,
        "ice_servers": ice_servers_for(settings, user, first) if first is not None else [],
        "ice_gathering_timeout_ms": int(settings.rtc.ice_gathering_timeout_s * 1000),
        "csrf": generate_csrf(),
    }
    return render_template("classroom/room.html", schedule=schedule, page_data=data)
