"""The remote TUK check: page, measurements, consent, ID and room, assessor actions, the printable record."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, stream_with_context, url_for
from flask_wtf.csrf import generate_csrf
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

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
from remote_tuk.tuk import services
from remote_tuk.tuk.models import TukOverride
from remote_tuk.turn.services import ice_servers_for
from remote_tuk.validation import parse

bp = Blueprint("tuk", __name__)

UPLOAD_BYTES = 2_000_000
DOWNLOAD_BYTES = 4_000_000
MEDIA_SECONDS = 8
PROBES = 6
MAX_UPLOAD = 16 * 1024 * 1024


class CheckRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    check_id: int = Field(gt=0)


class BrowserIn(CheckRef):
    values: dict[str, Any] = Field(max_length=40)


class DownloadResultIn(CheckRef):
    bytes: int = Field(gt=0, le=100_000_000)
    elapsed_ms: float = Field(gt=0, le=600_000)


class MediaIn(CheckRef):
    socket_id: str = Field(min_length=1, max_length=64)


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    what: str = Field(pattern=r"^(id|room)$")
    confirmed: bool = True
    note: str = Field(default="", max_length=2000)


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    key: str = Field(min_length=1, max_length=40)
    reason: str = Field(default="", max_length=2000)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Badan permintaan harus berupa objek JSON.")
    return body


def _session(public_id: str) -> Any:
    return assessment.get_session_for(db.session, current(), public_id)


def _transition(session: Any, to: Any, user: Any) -> None:
    assessment.transition(db.session, session, to, actor=user, emit=broadcast_transition)


def _urls(public_id: str) -> dict[str, str]:
    api = f"/api/v1/sessions/{public_id}"
    return {
        "consent": f"{api}/consent",
        "start": f"{api}/tuk/start",
        "upload": f"{api}/tuk/upload",
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
        "consent": consent_pages.check_page_data(session, profile),
        "measure": {"upload_bytes": UPLOAD_BYTES, "download_bytes": DOWNLOAD_BYTES, "media_seconds": MEDIA_SECONDS},
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
    media.watch(session.public_id)
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
    check = services.get_check(db.session, session, current(), request.args.get("check"))
    stream = request.stream
    total = 0
    started = time.perf_counter()  # from the first read: the first block's transfer time counts too
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_UPLOAD:
            raise ValidationFailed("Data uji terlalu besar.")
    if total < 100_000:
        raise ValidationFailed("Data uji unggah terlalu kecil (minimal 100 kB).")
    kbps = services.record_upload(db.session, check, total, time.perf_counter() - started)
    return jsonify({"upload_kbps": round(kbps, 1), "bytes": total})


@bp.get("/api/v1/sessions/<public_id>/tuk/download")
@signed_in
def download(public_id: str) -> Any:
    session = _session(public_id)
    check = services.get_check(db.session, session, current(), request.args.get("check"))
    services.start_download(db.session, check, DOWNLOAD_BYTES)
    block = os.urandom(64 * 1024)

    def body() -> Any:
        sent = 0
        while sent < DOWNLOAD_BYTES:
            n = min(len(block), DOWNLOAD_BYTES - sent)
            sent += n
            yield block[:n]

    return Response(
        stream_with_context(body()),
        mimetype="application/octet-stream",
        headers={"Content-Length": str(DOWNLOAD_BYTES), "Cache-Control": "no-store"},
    )


@bp.post("/api/v1/sessions/<public_id>/tuk/download-result")
@signed_in
def download_result(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(DownloadResultIn, _body())
    check = services.get_check(db.session, session, current(), data.check_id)
    kbps = services.record_download(db.session, check, data.bytes, data.elapsed_ms)
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
    frames = media.take_frames(session.public_id) if part.role == "candidate" else []
    camera = None
    if frames:
        from proctor.analysis import measure_camera_frames

        camera = measure_camera_frames([f.i420 for f in frames], [f.media_s for f in frames], fmt="yuv420p")
    values = services.record_media(
        db.session,
        check,
        stats=stats,
        camera=camera,
        rtts_ms=rtts,
        viewer_id=None if part.role == "candidate" else part.peer_id,
        probes_sent=PROBES,
    )
    if part.role == "candidate":
        media.watch(session.public_id)  # a re-measure keeps collecting
    return jsonify({"values": values, "frames": len(frames), "probes": len(rtts)})


@bp.post("/api/v1/sessions/<public_id>/tuk/finish")
@signed_in
def finish(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(CheckRef, _body())
    check = services.get_check(db.session, session, current(), data.check_id)
    check = services.finish_check(db.session, evidence.store, session, check)
    return jsonify(
        {
            "passed": check.passed,
            "valid_until": check.valid_until.isoformat() if check.valid_until else None,
            "results": check.results,
        }
    )


@bp.post("/api/v1/sessions/<public_id>/identity/<what>")
@signed_in
def identity_media(public_id: str, what: str) -> Any:
    if what not in ("ktp", "room"):
        raise ValidationFailed("Jenis bukti identitas tidak dikenal.")
    session = _session(public_id)
    services.store_identity_media(
        db.session, evidence.store, session, current(), what, request.get_data(cache=False), request.content_type
    )
    return jsonify({"ok": True, "what": what}), 201


@bp.post("/api/v1/sessions/<public_id>/identity/confirm")
@signed_in
def confirm(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(ConfirmIn, _body())
    if not data.confirmed:
        raise ValidationFailed("Hanya konfirmasi yang dicatat; bila tidak sesuai, batalkan sesi dengan alasan.")
    services.confirm_identity(db.session, evidence.store, session, current(), data.what, data.note)
    return jsonify({"ok": True}), 201


@bp.get("/api/v1/sessions/<public_id>/identity/ktp.jpg")
@roles_required(Role.ASSESSOR, Role.LSP_ADMIN, Role.AUDITOR, Role.CANDIDATE)
def ktp_image(public_id: str) -> Any:
    """The KTP snapshot, decrypted from the evidence store (every read is logged there)."""
    user = current()
    session = _session(public_id)
    ident = services.identity(db.session, session)
    db.session.commit()
    if ident.ktp_object is None:
        raise ValidationFailed("Belum ada foto KTP.")
    data = evidence.store.read(ident.ktp_object, live.actor(user))
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.post("/api/v1/sessions/<public_id>/tuk/override")
@signed_in
def override(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(OverrideIn, _body())
    row = services.override(db.session, evidence.store, session, current(), data.key, data.reason)
    return jsonify({"key": row.key, "reason": row.reason, "at": row.at.isoformat()}), 201


@bp.get("/api/v1/sessions/<public_id>/tuk/status")
@signed_in
def status(public_id: str) -> Any:
    # Whoever may see the session (candidate, its assessor, granted auditors, admins) may see its gate.
    return jsonify(_status(_session(public_id)))


def _status(session: Any) -> dict[str, Any]:
    check = services.latest_check(db.session, session)
    own = services.latest_check(db.session, session, role="assessor")
    ident = services.identity(db.session, session)
    db.session.commit()
    overrides = list(db.session.scalars(select(TukOverride).where(TukOverride.session_id == session.id)))
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
            "ktp": ident.ktp_object is not None,
            "ktp_url": url_for("tuk.ktp_image", public_id=session.public_id) if ident.ktp_object else None,
            "room": ident.room_object is not None,
            "id_confirmed": ident.id_confirmed_at is not None,
            "room_confirmed": ident.room_confirmed_at is not None,
        },
        "overrides": [{"key": o.key, "reason": o.reason, "at": o.at.isoformat()} for o in overrides],
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
        ident=services.identity(db.session, session),
    )
