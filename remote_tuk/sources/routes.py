"""Routes of the extra sources (issue 19; docs/LIVE-PROTOCOL.md "Extra sources"): the phone link (made on the
candidate's pages, opened on the phone without an account), the phone's camera page, offers, recording chunks and
status of the phone and the screen share, and the assessor's subscription to them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from remote_tuk.accounts.models import User
from remote_tuk.assessment import services as assessment
from remote_tuk.assessment.models import AssessmentSession
from remote_tuk.auth import current, signed_in
from remote_tuk.db import utcnow
from remote_tuk.errors import DomainError, Forbidden, NotFound, ValidationFailed
from remote_tuk.extensions import db, evidence, media, socketio
from remote_tuk.live import services as live
from remote_tuk.live.media import NAMESPACE, room_of
from remote_tuk.live.schemas import ChunkHeadersIn
from remote_tuk.sources import services
from remote_tuk.sources.schemas import PhoneStatusIn, ScreenEventIn, SdpIn
from remote_tuk.turn.services import ice_servers_for
from remote_tuk.validation import parse

bp = Blueprint("sources", __name__)
COOKIE_KEY = "rtuk_phone"


class MediaRefused(ValidationFailed):
    code = "media_refused"


def _session_by_id(public_id: str) -> AssessmentSession:
    if not assessment._PUBLIC_ID.fullmatch(public_id):
        raise NotFound("Sesi tidak ditemukan.")
    found = db.session.scalar(select(AssessmentSession).where(AssessmentSession.public_id == public_id))
    if found is None:
        raise NotFound("Sesi tidak ditemukan.")
    return found


def _grants() -> dict[str, str]:
    value = session.get(COOKIE_KEY)
    return dict(value) if isinstance(value, dict) else {}


def _phone(public_id: str) -> tuple[AssessmentSession, Any]:
    """The session and the used link this browser's phone grant names (403 otherwise)."""
    s = _session_by_id(public_id)
    link = services.grant_session(db.session, s, _grants().get(public_id))
    return s, link


def _source(source: str) -> str:
    if source not in services.SOURCES:
        raise NotFound("Sumber media tidak dikenal.")
    return source


def _sender(public_id: str, source: str) -> tuple[AssessmentSession, User | None]:
    """Who may send *source* of the session: the phone with its grant, the screen only the candidate's own page."""
    if source == "phone":
        s, _link = _phone(public_id)
        return s, None
    user = current()
    if not getattr(user, "is_authenticated", False):
        raise Forbidden("Masuk sebagai asesi untuk membagikan layar.")
    s = assessment.get_session_for(db.session, user, public_id)
    if live.participant(user, s).role != "candidate":
        raise Forbidden("Hanya asesi sesi ini yang membagikan layarnya.")
    return s, user


def _engine_call(fn: Any) -> Any:
    from proctor.errors import ProctorError

    try:
        return fn()
    except ProctorError as err:
        raise MediaRefused(f"Media ditolak: {getattr(err, 'message', str(err))}") from None


def qr_png(url: str) -> str:
    import segno

    return str(segno.make(url, error="m").png_data_uri(scale=6, border=4, dark="#111827"))


# --- the phone link -------------------------------------------------------------------------------------------------


@bp.post("/api/v1/sessions/<public_id>/sources/phone/link")
@signed_in
def new_link(public_id: str) -> Any:
    user = current()
    s = assessment.get_session_for(db.session, user, public_id)
    token, link = services.issue_link(db.session, evidence.store, s, user)
    settings = current_app.config["RTUK"]
    base = (settings.public_origin or request.host_url).rstrip("/")
    url = base + url_for("sources.phone_open", public_id=public_id, token=token)
    return jsonify({"url": url, "qr": qr_png(url), "expires_at": link.expires_at.isoformat(),
                    "expires_in_s": int(services.LINK_TTL.total_seconds())}), 201


@bp.route("/sesi/<public_id>/kamera-hp/<token>", methods=["GET", "POST"])
def phone_open(public_id: str, token: str) -> Any:
    """GET shows what the link is for and a button; the POST uses the link (once) and opens the camera page."""
    s = _session_by_id(public_id)
    try:
        if request.method == "GET":
            services.find_link(db.session, s, token)
            return render_template("sources/phone_open.html", s=s)
        link = services.redeem_link(db.session, evidence.store, s, token,
                                    device=request.headers.get("User-Agent", ""))
    except DomainError as err:
        db.session.rollback()
        return render_template("sources/phone_refused.html", message=err.message, code=err.code), err.status
    grants = _grants()
    grants[public_id] = link.grant
    session[COOKIE_KEY] = grants
    return redirect(url_for("sources.phone_page", public_id=public_id))


@bp.get("/sesi/<public_id>/kamera-hp")
def phone_page(public_id: str) -> Any:
    try:
        s, _link = _phone(public_id)
    except DomainError as err:
        return render_template("sources/phone_refused.html", message=err.message, code=err.code), err.status
    settings = current_app.config["RTUK"]
    data = {
        "session": s.public_id,
        "state": s.state.value,
        "csrf": generate_csrf(),
        "ice_servers": ice_servers_for(settings, SimpleNamespace(id=s.candidate_id), s),
        "ice_gathering_timeout_ms": int(settings.rtc.ice_gathering_timeout_s * 1000),
        "chunk_ms": settings.rtc.chunk_ms,
        "next_seq": services.next_seq(db.session, s, "phone"),
        "urls": {
            "offer": url_for("sources.offer", public_id=public_id, source="phone"),
            "chunks": url_for("sources.chunks", public_id=public_id, source="phone"),
            "status": url_for("sources.phone_status", public_id=public_id),
        },
    }
    return render_template("sources/phone.html", s=s, page_data=data)


# --- media and chunks of the phone and the screen -------------------------------------------------------------------


@bp.post("/api/v1/sessions/<public_id>/sources/<source>/offer")
def offer(public_id: str, source: str) -> Any:
    s, _user = _sender(public_id, _source(source))
    if s.state not in services.MEDIA_STATES:
        raise live.InvalidState(f"Media tidak dapat dihubungkan saat sesi berstatus '{s.state_label}'.")
    body = parse(SdpIn, request.get_json(silent=True))
    live.ensure_evidence(evidence.store, s)
    sid = media.prepare_source(s.public_id, source, s.state)
    answer = _engine_call(lambda: media.engine.source_offer(sid, body.sdp))
    return jsonify({"sdp": answer})


@bp.post("/api/v1/sessions/<public_id>/sources/<source>/chunks")
def chunks(public_id: str, source: str) -> Any:
    arrived = utcnow()
    s, user = _sender(public_id, _source(source))
    settings = current_app.config["RTUK"]
    headers = parse(ChunkHeadersIn, {k: request.headers.get(k) for k in ("X-Chunk-Seq", "X-Chunk-SHA256",
                                                                          "X-Chunk-Start")})
    result = services.accept_chunk(
        db.session, evidence.store, s, source, user, headers=headers, body=request.get_data(cache=False),
        max_bytes=settings.rtc.max_chunk_bytes, chunk_ms=settings.rtc.chunk_ms, arrived=arrived,
    )
    body = {"seq": result.seq, "log_index": result.log_index, "stream": source}
    if result.duplicate:
        return jsonify({**body, "duplicate": True}), 200
    return jsonify(body), 201


@bp.post("/api/v1/sessions/<public_id>/sources/phone/status")
def phone_status(public_id: str) -> Any:
    s, _link = _phone(public_id)
    data = parse(PhoneStatusIn, request.get_json(silent=True))
    status = media.sources.update(s.public_id, "phone", battery=data.battery, charging=data.charging,
                                  facing=data.facing, battery_label=services.battery_label(data.battery))
    socketio.emit("source", {"source": "phone", "type": "status", **status}, to=room_of(s.public_id),
                  namespace=NAMESPACE)
    return jsonify({"ok": True, "state": s.state.value})


@bp.post("/api/v1/sessions/<public_id>/sources/screen/event")
@signed_in
def screen_event(public_id: str) -> Any:
    s, user = _sender(public_id, "screen")
    data = parse(ScreenEventIn, request.get_json(silent=True))
    if s.state not in services.MEDIA_STATES:
        raise live.InvalidState("Layar hanya dibagikan saat pemeriksaan atau sesi berlangsung.")
    kind = "screen.share_started" if data.kind == "started" else "screen.share_refused"
    live.ensure_evidence(evidence.store, s)
    live.record_event(evidence.store, s, kind, by=user, data={"surface": data.surface})
    if data.kind == "started":
        media.sources.update(s.public_id, "screen", surface=data.surface)
    return jsonify({"ok": True, "event": kind}), 201


# --- the assessor's view --------------------------------------------------------------------------------------------


def _staff(public_id: str) -> tuple[AssessmentSession, Any]:
    user = current()
    s = assessment.get_session_for(db.session, user, public_id)
    part = live.participant(user, s)
    if part.role == "candidate":
        raise Forbidden("Sumber media tambahan ditampilkan kepada asesor dan peninjau.")
    return s, part


@bp.post("/api/v1/sessions/<public_id>/sources/<source>/watch")
@signed_in
def watch(public_id: str, source: str) -> Any:
    s, part = _staff(public_id)
    _source(source)
    if s.state not in services.MEDIA_STATES:
        raise live.InvalidState(f"Media tidak dapat dihubungkan saat sesi berstatus '{s.state_label}'.")
    body = parse(SdpIn, request.get_json(silent=True))
    sid = media.prepare_source(s.public_id, source, s.state)
    answer = _engine_call(lambda: media.engine.viewer_offer(sid, part.peer_id, body.sdp, False))
    return jsonify({"sdp": answer})


@bp.get("/api/v1/sessions/<public_id>/sources")
@signed_in
def status(public_id: str) -> Any:
    """The extra sources' state (the assessor's page, and the candidate's check page waiting for the phone)."""
    s = assessment.get_session_for(db.session, current(), public_id)
    state = media.sources.of(s.public_id)
    counts = services.chunk_status(db.session, s)
    return jsonify({**{src: {**state[src], **counts[src]} for src in services.SOURCES},
                    "session_state": s.state.value})
