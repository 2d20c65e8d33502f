"""The trial session (uji coba): the page, the consent preview, the check's steps on the trial's own record, the
self-test recording, and the LSP's overview per schedule (docs/TUK-CHECK.md, "Trial session")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask_wtf.csrf import generate_csrf

from remote_tuk.accounts.models import Role
from remote_tuk.assessment.models import AssessmentSession, Schedule
from remote_tuk.auth import current, roles_required, signed_in
from remote_tuk.consent import routes as consent_pages
from remote_tuk.consent.schemas import ConsentIn
from remote_tuk.extensions import db, evidence
from remote_tuk.trial import services
from remote_tuk.trial.schemas import PlayedIn
from remote_tuk.tuk import bandwidth, edge
from remote_tuk.tuk import routes as check_routes
from remote_tuk.tuk import services as tuk
from remote_tuk.tuk.edge import json_body as _body
from remote_tuk.tuk.edge import secret as _check_secret
from remote_tuk.tuk.edge import session_of as _session
from remote_tuk.tuk.schemas import BrowserIn, CheckQuery, CheckRef, DownloadResultIn, UploadChunkQuery, UploadResultIn
from remote_tuk.validation import parse

bp = Blueprint("trial", __name__)


def _secret() -> str:
    # the transfer tokens of a trial are signed apart from the real check's: a trial's token never fits a check
    return _check_secret() + ":trial"


def _urls(public_id: str) -> dict[str, str]:
    api = f"/api/v1/sessions/{public_id}/trial"
    return {
        "consent": f"{api}/consent-preview",
        "start": f"{api}/start",
        "upload": f"{api}/upload",
        "upload_result": f"{api}/upload-result",
        "download": f"{api}/download",
        "download_result": f"{api}/download-result",
        "browser": f"{api}/browser",
        "finish": f"{api}/finish",
        "played": f"{api}/played",
        "recording": f"{api}/recording",
        "status": f"{api}/status",
        "session": f"/sesi/{public_id}",
        "live": f"/sesi/{public_id}/langsung",
        "record": f"/sesi/{public_id}/verifikasi-tuk",
    }


@bp.get("/sesi/<public_id>/uji-coba")
@roles_required(Role.CANDIDATE)
def page(public_id: str) -> Any:
    user = current()
    session = _session(public_id)
    services.require_candidate(user, session)
    services.require_open(session)
    profile = tuk.profile_for(db.session, session)
    consent = consent_pages.check_page_data(session, profile)
    consent["given"] = False  # a preview: shown every time, never given here
    consent["can_withdraw"] = False
    profile_page = tuk.profile_for_page(profile)
    data = {
        "session": session.public_id,
        "role": "candidate",
        "trial": {"not_judged": sorted(services.MEDIA_KEYS), "selftest_seconds": 10},
        "state": session.state.value,
        "csrf": generate_csrf(),
        "ice_servers": [],
        "ice_gathering_timeout_ms": 0,
        "profile": profile_page,
        "consent": consent,
        "measure": {
            "upload_bytes": check_routes.UPLOAD_BYTES,
            "upload_first_chunk": check_routes.UPLOAD_FIRST_CHUNK,
            "upload_chunk": check_routes.UPLOAD_CHUNK,
            "upload_chunk_max": bandwidth.CHUNK_MAX,
            "download_bytes": check_routes.DOWNLOAD_BYTES,
            "download_tail": bandwidth.DOWNLOAD_TAIL,
            "media_seconds": 0,
        },
        "urls": _urls(session.public_id),
    }
    last = services.newest(db.session, session, finished=True)
    return render_template("tuk/check.html", s=session, page_data=data, trial=True, last_trial=last)


@bp.post("/api/v1/sessions/<public_id>/trial/consent-preview")
@signed_in
def consent_preview(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(ConsentIn, _body())
    run = services.preview_consent(db.session, session, current(), kind=data.kind, accept=data.accept)
    if run is None:
        return jsonify({"declined": True, "preview": True})
    return jsonify({"preview": True, "trial_id": run.id})


@bp.post("/api/v1/sessions/<public_id>/trial/start")
@signed_in
def start(public_id: str) -> Any:
    run = services.start(db.session, _session(public_id), current())
    return jsonify({"check_id": run.id, "trial_id": run.id}), 201


@bp.post("/api/v1/sessions/<public_id>/trial/browser")
@signed_in
def browser(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(BrowserIn, _body())
    run = services.get(db.session, session, current(), data.check_id)
    ignored = tuk.record_browser_values(db.session, run, data.values)  # type: ignore[arg-type]  # same measurements
    return jsonify({"ok": True, "ignored": ignored})


@bp.post("/api/v1/sessions/<public_id>/trial/upload")
@signed_in
def upload(public_id: str) -> Any:
    """One chunk of the upload measurement, exactly as the real check's (docs/TUK-CHECK.md). Writes nothing."""
    session = _session(public_id)
    query = parse(UploadChunkQuery, request.args)
    run_id = services.get(db.session, session, current(), query.check).id
    return jsonify(edge.upload_chunk(_secret(), run_id, query.seq))


@bp.post("/api/v1/sessions/<public_id>/trial/upload-result")
@signed_in
def upload_result(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(UploadResultIn, _body())
    run = services.get(db.session, session, current(), data.check_id)
    result = edge.upload_result(_secret(), run.id, data)
    tuk.record_upload(db.session, run, result)  # type: ignore[arg-type]
    return jsonify({"upload_kbps": round(result.kbps, 1), **result.detail()})


@bp.get("/api/v1/sessions/<public_id>/trial/download")
@signed_in
def download(public_id: str) -> Any:
    session = _session(public_id)
    query = parse(CheckQuery, request.args)
    return edge.download(_secret(), services.get(db.session, session, current(), query.check).id)


@bp.post("/api/v1/sessions/<public_id>/trial/download-result")
@signed_in
def download_result(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(DownloadResultIn, _body())
    run = services.get(db.session, session, current(), data.check_id)
    kbps = edge.download_rate(_secret(), run.id, data)
    tuk.record_download(db.session, run, kbps)  # type: ignore[arg-type]
    return jsonify({"download_kbps": round(kbps, 1)})


@bp.post("/api/v1/sessions/<public_id>/trial/finish")
@signed_in
def finish(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(CheckRef, _body())
    run = services.get(db.session, session, current(), data.check_id)
    run = services.finish(db.session, evidence.store, session, run)
    return jsonify(_run_json(run))


@bp.post("/api/v1/sessions/<public_id>/trial/played")
@signed_in
def played(public_id: str) -> Any:
    session = _session(public_id)
    data = parse(PlayedIn, _body())
    run = services.get(db.session, session, current(), data.check_id, finished_ok=True)
    run = services.played(db.session, run, data.seconds)
    return jsonify(_run_json(run))


@bp.post("/api/v1/sessions/<public_id>/trial/recording")
@signed_in
def recording(public_id: str) -> Any:
    session = _session(public_id)
    query = parse(CheckQuery, request.args)
    user = current()
    run = services.get(db.session, session, user, query.check, finished_ok=True)
    run = services.send_recording(
        db.session, evidence.store, session, user, run, request.get_data(cache=False), request.content_type
    )
    return jsonify(_run_json(run)), 201


@bp.get("/api/v1/sessions/<public_id>/trial/status")
@signed_in
def status(public_id: str) -> Any:
    """The candidate's newest finished trial (read only)."""
    session = _session(public_id)
    services.require_candidate(current(), session)
    run = services.newest(db.session, session, finished=True)
    return jsonify({"state": session.state.value, "trial": None if run is None else _run_json(run)})


def _run_json(run: Any) -> dict[str, Any]:
    return {
        "trial_id": run.id,
        "passed": run.passed,
        "valid_until": None,
        "results": run.results or [],
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "consent_previewed": run.consent_previewed_at is not None,
        "selftest_seconds": run.selftest_seconds,
        "selftest_played": run.selftest_played_at is not None,
        "selftest_sent": run.selftest_object is not None,
    }


# --- template helpers: the candidate's way in, the LSP's overview ------------------------------------------------


@bp.app_template_global("trial_open")
def trial_open(session: AssessmentSession) -> bool:
    """Whether the candidate can still run a trial for this session (before it goes live)."""
    return session.state in services.OPEN_STATES


@bp.app_template_global("trial_overview")
def trial_overview(schedule: Schedule) -> list[services.Row]:
    return services.overview(db.session, schedule)


@bp.app_template_global("trial_last")
def trial_last(session: AssessmentSession) -> Any:
    return services.newest(db.session, session, finished=True)
