"""The remote TUK check: the page, consent, the measurements, overrides, the gate status and the printable record
(the KTP photo, the room scan and their confirmations are in identity_routes.py)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.events import broadcast_transition
from remote_tuk.auth import current, roles_required, signed_in
from remote_tuk.consent import routes as consent_pages
from remote_tuk.consent.schemas import ConsentIn
from remote_tuk.errors import Forbidden, ValidationFailed
from remote_tuk.extensions import db, evidence, media, socketio
from remote_tuk.live import services as live
from remote_tuk.live.events import joined_sockets
from remote_tuk.live.media import NAMESPACE
from remote_tuk.sources.pages import sources_page_data
from remote_tuk.sources.services import check_values as source_check_values
from remote_tuk.tuk import bandwidth, edge, identity, services
from remote_tuk.tuk.edge import json_body as _body
from remote_tuk.tuk.edge import secret as _secret
from remote_tuk.tuk.edge import session_of as _session
from remote_tuk.tuk.identity_routes import bp as identity_bp
from remote_tuk.tuk.schemas import (
    BrowserIn,
    CheckQuery,
    CheckRef,
    DownloadResultIn,
    MediaIn,
    OverrideIn,
    UploadChunkQuery,
    UploadResultIn,
)
from remote_tuk.turn.services import ice_servers_for
from remote_tuk.validation import parse

bp = Blueprint("tuk", __name__)
bp.register_blueprint(identity_bp)  # the KTP photo, the room scan and their confirmations: endpoints "tuk.identity.*"

#: the upload budget of the network step: a first chunk that starts the server's clock, then timed chunks
UPLOAD_BYTES = 2_000_000
UPLOAD_FIRST_CHUNK = 64 * 1024
UPLOAD_CHUNK = 256 * 1024
DOWNLOAD_BYTES = edge.DOWNLOAD_BYTES
MEDIA_SECONDS = 8
PROBES = 6


def _transition(session: Any, to: Any, user: Any) -> None:
    assessment.transition(db.session, session, to, actor=user, emit=broadcast_transition)


def _urls(public_id: str) -> dict[str, str]:
    api = f"/api/v1/sessions/{public_id}"
    return {
        "consent": f"{api}/consent",
        "start": f"{api}/tuk/start",
        "upload": f"{api}/tuk/upload",
        "upload_result": f"{api}/tuk/upload-result",
        "download": f"{api}/tuk/download",
        "download_result": f"{api}/tuk/download-result",
        "browser": f"{api}/tuk/browser",
        "media": f"{api}/tuk/media",
        "finish": f"{api}/tuk/finish",
        "ktp": f"{api}/identity/ktp",
        "room": f"{api}/identity/room",
        "status": f"{api}/tuk/status",
        "confirm": f"{api}/identity/confirm",
        "override": f"{api}/tuk/override",
        "session": url_for("assessment.session_detail", public_id=public_id),
        "live": url_for("live.page", public_id=public_id),
        "record": url_for("tuk.record", public_id=public_id),
    }


@bp.get("/sesi/<public_id>/pemeriksaan")
@roles_required(Role.CANDIDATE, Role.ASSESSOR)
def page(public_id: str) -> Any:
    user = current()
    session = _session(public_id)
    part = live.participant(user, session)
    if part.role == "witness":
        raise Forbidden("Halaman pemeriksaan untuk asesi dan asesor sesi ini.")
    settings = current_app.config["RTUK"]
    profile = services.profile_for(db.session, session)
    data = {
        "session": session.public_id,
        "role": part.role,
        "state": session.state.value,
        "csrf": generate_csrf(),
        "ice_servers": ice_servers_for(settings, user, session),
        "ice_gathering_timeout_ms": int(settings.rtc.ice_gathering_timeout_s * 1000),
        "profile": services.profile_for_page(profile),
        "sources": sources_page_data(public_id, "candidate" if session.candidate_id == user.id else "assessor",
                                     profile),
        "consent": consent_pages.check_page_data(session, profile),
        "measure": {
            "upload_bytes": UPLOAD_BYTES,
            "upload_first_chunk": UPLOAD_FIRST_CHUNK,
            "upload_chunk": UPLOAD_CHUNK,
            "upload_chunk_max": bandwidth.CHUNK_MAX,
            "download_bytes": DOWNLOAD_BYTES,
            "download_tail": bandwidth.DOWNLOAD_TAIL,
            "media_seconds": MEDIA_SECONDS,
        },
        "urls": _urls(session.public_id),
    }
    return render_template("tuk/check.html", s=session, page_data=data)


@bp.post("/api/v1/sessions/<public_id>/consent")
@signed_in
def consent(public_id: str) -> Any:
    return consent_pages.give(_session(public_id), parse(ConsentIn, _body()))


@bp.post("/api/v1/sessions/<public_id>/tuk/start")
@signed_in
def start(public_id: str) -> Any:
    session = _session(public_id)
    check = services.start_check(db.session, session, current(), transition=_transition)
    if check.role == "candidate":
        media.watch(session.public_id)  # keep the next sampled frames for this check's camera measurement
    return jsonify({"check_id": check.id}), 201


@bp.post("/api/v1/sessions/<public_id>/tuk/browser")
@signed_in
def browser(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(BrowserIn, _body())
    check = services.get_check(db.session, session, current(), data.check_id)
    ignored = services.record_browser_values(db.session, check, data.values)
    return jsonify({"ok": True, "ignored": ignored})


@bp.post("/api/v1/sessions/<public_id>/tuk/upload")
@signed_in
def upload(public_id: str) -> Any:
    session = _session(public_id)
    query = parse(UploadChunkQuery, request.args)
    check_id = services.get_check(db.session, session, current(), query.check).id
    return jsonify(edge.upload_chunk(_secret(), check_id, query.seq))


@bp.post("/api/v1/sessions/<public_id>/tuk/upload-result")
@signed_in
def upload_result(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(UploadResultIn, _body())
    check = services.get_check(db.session, session, current(), data.check_id)
    result = edge.upload_result(_secret(), check.id, data)
    services.record_upload(db.session, check, result)
    return jsonify({"upload_kbps": round(result.kbps, 1), **result.detail()})


@bp.get("/api/v1/sessions/<public_id>/tuk/download")
@signed_in
def download(public_id: str) -> Any:
    session = _session(public_id)
    query = parse(CheckQuery, request.args)
    return edge.download(_secret(), services.get_check(db.session, session, current(), query.check).id)


@bp.post("/api/v1/sessions/<public_id>/tuk/download-result")
@signed_in
def download_result(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(DownloadResultIn, _body())
    check = services.get_check(db.session, session, current(), data.check_id)
    kbps = edge.download_rate(_secret(), check.id, data)
    services.record_download(db.session, check, kbps)
    return jsonify({"download_kbps": round(kbps, 1)})


@bp.post("/api/v1/sessions/<public_id>/tuk/media")
@signed_in
def media_result(public_id: str) -> Any:
    user = current()
    session = _session(public_id)
    data = parse(MediaIn, _body())
    check = services.get_check(db.session, session, user, data.check_id)
    if joined_sockets().get(data.socket_id) != (session.public_id, user.id):
        raise ValidationFailed("Soket ini bukan milik Anda pada sesi ini.", details={"socket_id": "tidak dikenal"})
    rtts = []
    for i in range(PROBES):
        t0 = time.perf_counter()
        try:
            socketio.call("probe", {"n": i}, to=data.socket_id, namespace=NAMESPACE, timeout=3)
        except Exception as err:  # noqa: BLE001 - a lost probe is simply not counted
            current_app.logger.info("RTT probe %s to %s lost: %s", i, data.socket_id, err)
        else:
            rtts.append((time.perf_counter() - t0) * 1000)
    stats = media.stats(session.public_id)
    part = live.participant(user, session)
    # the frames kept since this check started; taking them ends the keeping (a new check keeps new ones)
    # measured where the frames are (this process's engine, or the session's media node)
    frames, camera = media.measure_camera(session.public_id) if part.role == "candidate" else (0, None)
    values = services.record_media(
        db.session,
        check,
        stats=stats,
        camera=camera,
        rtts_ms=rtts,
        viewer_id=None if part.role == "candidate" else part.peer_id,
        probes_sent=PROBES,
    )
    return jsonify({"values": values, "frames": frames, "probes": len(rtts)})


@bp.post("/api/v1/sessions/<public_id>/tuk/finish")
@signed_in
def finish(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(CheckRef, _body())
    check = services.get_check(db.session, session, current(), data.check_id)
    if check.role == "candidate":
        # the phone camera and the screen share (issue 19): measured by the server, from what its engine receives
        services.record_server_values(db.session, check, source_check_values(
            media.sources.of(session.public_id), services.profile_for(db.session, session)))
    check = services.finish_check(db.session, evidence.store, session, check)
    if check.role == "candidate":
        media.take_frames(session.public_id)  # frames kept for a media step that did not run are freed too
    return jsonify(
        {
            "passed": check.passed,
            "valid_until": check.valid_until.isoformat() if check.valid_until else None,
            "results": check.results,
        }
    )


@bp.post("/api/v1/sessions/<public_id>/tuk/override")
@signed_in
def override(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(OverrideIn, _body())
    row, created = services.override(db.session, evidence.store, session, current(), data.key, data.reason)
    body = {"key": row.key, "reason": row.reason, "at": row.at.isoformat(), "already": not created}
    return jsonify(body), 201 if created else 200


@bp.get("/api/v1/sessions/<public_id>/tuk/status")
@signed_in
def status(public_id: str) -> Any:
    # Whoever may see the session (candidate, its assessor, granted auditors, admins) may see its gate.
    return jsonify(_status(_session(public_id)))


def _status(session: Any) -> dict[str, Any]:
    """The gate's state as both pages poll it (read only)."""
    check = services.latest_check(db.session, session)
    own = services.latest_check(db.session, session, role="assessor")
    ident = identity.find(db.session, session)
    has = {
        "ktp": ident is not None and ident.ktp_object is not None,
        "room": ident is not None and ident.room_object is not None,
    }
    return {
        "state": session.state.value,
        "consent": sorted(services.consents_given(db.session, session)),
        "check": None
        if check is None
        else {
            "id": check.id,
            "passed": check.passed,
            "results": check.results,
            "valid_until": check.valid_until.isoformat() if check.valid_until else None,
        },
        "assessor_check": None if own is None else {"passed": own.passed, "results": own.results},
        "identity": {
            "ktp": has["ktp"],
            "ktp_url": url_for("tuk.identity.ktp_image", public_id=session.public_id) if has["ktp"] else None,
            # the object's id changes with every new upload: a page knows when to load the new one
            "ktp_ref": ident.ktp_object[-12:] if has["ktp"] and ident else None,
            "room": has["room"],
            "room_url": url_for("tuk.identity.room_video", public_id=session.public_id) if has["room"] else None,
            "room_ref": ident.room_object[-12:] if has["room"] and ident else None,
            "id_confirmed": ident is not None and ident.id_confirmed_at is not None,
            "room_confirmed": ident is not None and ident.room_confirmed_at is not None,
        },
        "overrides": [
            {"key": o.key, "reason": o.reason, "at": o.at.isoformat()} for o in services.overrides(db.session, session)
        ],
        "gate": services.gate(db.session, session),
    }


@bp.get("/sesi/<public_id>/verifikasi-tuk")
@roles_required(Role.LSP_ADMIN, Role.ASSESSOR, Role.AUDITOR, Role.CANDIDATE)
def record(public_id: str) -> Any:
    session = _session(public_id)
    return render_template(
        "tuk/record.html",
        s=session,
        st=_status(session),
        profile=services.profile_for(db.session, session),
        ident=identity.find(db.session, session),
        shown=_shown,
    )


def _shown(r: dict[str, Any]) -> str:
    """A result's value as the printable record shows it (bandwidth in Mbit/s, in the page's language)."""
    from flask_babel import format_decimal
    from flask_babel import gettext as _

    value = r.get("value")
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("ya") if value else _("tidak")
    if r.get("unit") == "kbps" and isinstance(value, int | float):
        mbps = value / 1000
        return f"{format_decimal(mbps, format='#,##0' if mbps >= 100 else '#,##0.0')} Mbit/s"
    if isinstance(value, int | float):
        return f"{format_decimal(value)} {r.get('unit') or ''}".strip()
    return str(value)
