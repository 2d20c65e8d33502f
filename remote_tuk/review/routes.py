"""The review room page, its recording served in byte ranges from the encrypted store, and the identity evidence one
click away (issue 15 #1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from evidence_store.errors import KeyUnavailable, ObjectNotFound
from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.auth import current, signed_in
from remote_tuk.errors import NotFound
from remote_tuk.extensions import db, evidence
from remote_tuk.live.services import actor
from remote_tuk.review import documents, feedback, process, services
from remote_tuk.review.models import AssessmentDocument
from remote_tuk.review.schemas import (
    PROCESS_CHECKS,
    AckIn,
    IdentityWhat,
    ProcessReviewerIn,
    ProcessReviewIn,
    SourceIn,
)
from remote_tuk.validation import parse
from remote_tuk.views import current_formatter

bp = Blueprint("review", __name__)

KIND_LABELS = {
    "mark": "Penilaian KUK",
    "finding": "Temuan pengawasan",
    "event": "Peristiwa sesi",
    "chat": "Obrolan",
    "pause": "Jeda",
    "downtime": "Video asesi tidak diterima",
    "identity": "Pemeriksaan identitas",
    "speech": "Ucapan",
    "other": "Lainnya",
}


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"media_clock": services.media_clock}


@bp.get("/sesi/<public_id>/tinjauan")
@signed_in
def room(public_id: str) -> Any:
    user = current()
    session = services.session_for_review(db.session, user, public_id)
    store = evidence.store
    fmt = current_formatter()
    recordings = {src: services.recording(db.session, session, src) for src in services.SOURCES}
    for rec in recordings.values():
        if rec is not None and rec.object_key:
            store.log_read(rec.object_key, actor(user))  # every viewing is an evidence read: who, what, when
    items = services.timeline(db.session, store, session, fmt)
    kinds_present = [k for k in services.KINDS if any(i.kind == k for i in items)]
    sources = {
        src: {"url": url_for("review.recording", public_id=public_id, source=src),
              "duration_s": rec.duration_s, "version": rec.version, "gaps": rec.gaps,
              "holes": services.browser_holes(store, session, rec) if src == "browser" else []}
        for src, rec in recordings.items() if rec is not None
    }
    return render_template(
        "review/room.html",
        s=session,
        items=items,
        kinds_present=kinds_present,
        kind_labels=KIND_LABELS,
        sources=sources,
        identity=services.identity_objects(db.session, session),
        decisions=services.current_decisions(db.session, session),
        documents=documents.for_session(db.session, session),
        ack=feedback.ack_for(db.session, session),
        page_data={"sources": sources, "primary": "browser" if "browser" in sources else "server"},
        zone=fmt.zone,
    )


@bp.get("/sesi/<public_id>/tinjauan/rekaman/<source>.webm")
@signed_in
def recording(public_id: str, source: str) -> Any:
    """The joined recording decrypted on the fly: ``Range`` requests get 206 with only the chunks they cover."""
    user = current()
    session = services.session_for_review(db.session, user, public_id)
    src = parse(SourceIn, {"source": source}).source
    rec = services.recording(db.session, session, src)
    if rec is None or not rec.object_key:
        raise NotFound("Rekaman tidak ditemukan.")
    store = evidence.store
    try:
        obj = store.plain_object(rec.object_key)
        size = obj.plaintext_size
        wanted = services.parse_range(request.headers.get("Range"), size)
        start, stop = wanted if wanted is not None else (0, size)  # no Range: the whole file, chunk by chunk
        pieces = store.read_range(obj, start, stop)
    except (ObjectNotFound, KeyUnavailable) as err:  # gone from the store, or its key destroyed (erasure)
        raise NotFound("Rekaman tidak tersedia.") from err

    def body() -> Iterator[bytes]:
        yield from pieces

    headers = {"Accept-Ranges": "bytes", "Content-Length": str(stop - start), "Cache-Control": "private, no-store",
               "X-Content-Type-Options": "nosniff"}
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return Response(body(), status=status, mimetype="video/webm", headers=headers, direct_passthrough=True)


@bp.get("/sesi/<public_id>/tinjauan/identitas/<what>")
@signed_in
def identity(public_id: str, what: str) -> Any:
    """The KTP snapshot or the room scan, read (and logged as read) from the evidence store."""
    user = current()
    session = services.session_for_review(db.session, user, public_id)
    which = parse(IdentityWhat, {"what": what}).what
    key = services.identity_objects(db.session, session).get(which)
    if key is None:
        raise NotFound(_("Bukti identitas tidak ada untuk sesi ini."))
    try:
        data = evidence.store.read(key, actor(user))
    except Exception as err:
        raise NotFound(_("Bukti identitas tidak ada untuk sesi ini.")) from err
    assert data is not None
    mime = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" \
        else "video/webm" if data[:4] == b"\x1a\x45\xdf\xa3" else "application/octet-stream"
    return Response(data, mimetype=mime, headers={"Cache-Control": "private, no-store",
                                                  "X-Content-Type-Options": "nosniff"})


# --- the assessment records (FR.AK.02 per candidate, FR.AK.05 per schedule) ---------------------------------------


def _session_document(public_id: str, form: str, facts_of: Any) -> Any:
    """Generate, sign and store one of a session's documents (FR.AK.02, FR.AK.03) from its recorded facts."""
    user = current()
    if user.role is Role.CANDIDATE:
        raise NotFound("Sesi tidak ditemukan.")
    session = assessment.get_session_for(db.session, user, public_id)
    doc = documents.generate(db.session, current_app.config["RTUK"], evidence.store, facts_of(db.session, session),
                             actor=user)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(document_json(doc)), 201
    flash(f"{form} versi {doc.version} dibuat dan ditandatangani.", "success")
    return redirect(url_for("records.evidence_page", public_id=public_id))


@bp.post("/sesi/<public_id>/dokumen/fr-ak-02")
@signed_in
def generate_fr_ak_02(public_id: str) -> Any:
    return _session_document(public_id, "FR.AK.02", documents.fr_ak_02_facts)


@bp.post("/jadwal/<int:schedule_id>/dokumen/fr-ak-05")
@signed_in
def generate_fr_ak_05(schedule_id: int) -> Any:
    user = current()
    if user.role is Role.CANDIDATE:
        raise NotFound("Jadwal tidak ditemukan.")
    schedule = assessment.get_schedule_for(db.session, user, schedule_id)
    facts = documents.fr_ak_05_facts(db.session, schedule)
    doc = documents.generate(db.session, current_app.config["RTUK"], evidence.store, facts, actor=user)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(document_json(doc)), 201
    flash(f"FR.AK.05 versi {doc.version} dibuat dan ditandatangani.", "success")
    return redirect(request.referrer or url_for("accounts.index"))


@bp.get("/dokumen/<int:doc_id>.pdf")
@signed_in
def document_pdf(doc_id: int) -> Any:
    doc, data = documents.read(db.session, evidence.store, current(), doc_id)
    name = f"{doc.evidence_session}.pdf"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store",
        "X-Content-SHA256": doc.sha256})


def document_json(doc: Any) -> dict[str, Any]:
    return {"id": doc.id, "form": doc.form, "version": doc.version, "evidence_session": doc.evidence_session,
            "log_index": doc.log_index, "sha256": doc.sha256, "size": doc.size, "demo_signature": doc.demo_signature,
            "url": url_for("review.document_pdf", doc_id=doc.id)}


@bp.post("/sesi/<public_id>/dokumen/fr-ak-03")
@signed_in
def generate_fr_ak_03(public_id: str) -> Any:
    return _session_document(public_id, "FR.AK.03", documents.fr_ak_03_facts)


# --- feedback to the candidate (FR.AK.03) --------------------------------------------------------------------------


@bp.app_template_global()
def feedback_status(session: Any) -> dict[str, Any]:
    """The feedback the candidate's dashboard shows for a decided session, and whether they acknowledged it."""
    from remote_tuk.assessment.models import SessionState

    if session.state is not SessionState.DECIDED:
        return {"decided": False}
    return {"decided": True, "feedback": feedback.feedback(db.session, session),
            "ack": feedback.ack_for(db.session, session)}


@bp.post("/sesi/<public_id>/umpan-balik")
@signed_in
def acknowledge(public_id: str) -> Any:
    body = request.get_json(silent=True) if request.is_json else \
        {k: request.form.get(k) for k in request.form if k != "csrf_token"}
    ack = feedback.acknowledge(db.session, evidence.store, current(), public_id, parse(AckIn, body or {}))
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify({"log_index": ack.log_index, "evidence_chain": ack.evidence_chain,
                        "feedback_sha256": ack.feedback_sha256}), 201
    flash("Tanggapan atas umpan balik dicatat.", "success")
    return redirect(url_for("assessment.candidate_dashboard"))


@bp.app_template_global()
def session_decisions(session: Any) -> list[dict[str, Any]]:
    """The current unit decisions of a decided session (the session page shows them)."""
    from remote_tuk.assessment.models import SessionState

    if session.state is not SessionState.DECIDED:
        return []
    return services.current_decisions(db.session, session)


# --- the process review (FR.AK.06) ------------------------------------------------------------------------------------


def _process_form(form: Any) -> dict[str, Any]:
    """The HTML form (``met_<key>`` = ya/tidak, ``note_<key>``) as the API's body."""
    answers: dict[str, Any] = {}
    for key in PROCESS_CHECKS:
        met = form.get(f"met_{key}")
        answers[key] = {"met": {"ya": True, "tidak": False}.get(met, met), "note": form.get(f"note_{key}", "")}
    return {"answers": answers, "findings": form.get("findings", ""),
            "recommendations": form.get("recommendations", "")}


@bp.route("/jadwal/<int:schedule_id>/tinjauan-proses", methods=["GET", "POST"])
@signed_in
def process_review(schedule_id: int) -> Any:
    user = current()
    if user.role is Role.CANDIDATE:
        raise NotFound("Jadwal tidak ditemukan.")
    schedule = process.schedule_for_process(db.session, user, schedule_id)
    if request.method == "POST":
        body = request.get_json(silent=True) if request.is_json else _process_form(request.form)
        review = process.record(db.session, current_app.config["RTUK"], evidence.store, user, schedule_id,
                                parse(ProcessReviewIn, body if isinstance(body, dict) else {}))
        doc = db.session.get(AssessmentDocument, review.document_id)
        if request.is_json or request.accept_mimetypes.best == "application/json":
            return jsonify({"review": review.id, "document": document_json(doc)}), 201
        flash(f"FR.AK.06 versi {doc.version if doc else ''} dicatat dan ditandatangani.", "success")
        return redirect(url_for("review.process_review", schedule_id=schedule_id))
    reviews = list(db.session.scalars(select(AssessmentDocument).where(
        AssessmentDocument.schedule_id == schedule.id, AssessmentDocument.form == documents.FR_AK_06)
        .order_by(AssessmentDocument.id.desc())))
    return render_template("review/process.html", schedule=schedule, checks=PROCESS_CHECKS, reviews=reviews,
                           recorded=process.recorded(db.session, schedule),
                           may_record=process.may_record(db.session, user, schedule),
                           reviewer=process.reviewer_of(db.session, schedule),
                           candidates=process.candidates(db.session, schedule) if user.role is Role.LSP_ADMIN else [])


@bp.post("/jadwal/<int:schedule_id>/tinjauan-proses/peninjau")
@signed_in
def process_reviewer(schedule_id: int) -> Any:
    """The LSP admin assigns the schedule's process reviewer (not the schedule's own assessor: 422)."""
    user = current()
    if user.role is Role.CANDIDATE:
        raise NotFound("Jadwal tidak ditemukan.")
    body = request.get_json(silent=True) if request.is_json else {"reviewer_id": request.form.get("reviewer_id")}
    row = process.assign_reviewer(db.session, user, schedule_id,
                                  parse(ProcessReviewerIn, body if isinstance(body, dict) else {}))
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify({"schedule": schedule_id, "reviewer_id": row.reviewer_id})
    flash(_("Peninjau proses asesmen ditugaskan."), "success")
    return redirect(url_for("review.process_review", schedule_id=schedule_id))


def bundle_response(chain: str, filename: str, user: Any, **details: Any) -> Response:
    """The offline-verifiable bundle of one evidence chain (a document's, an appeal's), as the evidence page gives
    the session's; the export is on the audit log."""
    import tempfile
    from pathlib import Path

    from remote_tuk.audit import services as audit
    from remote_tuk.extensions import client_ip

    with tempfile.TemporaryDirectory(prefix="rtuk-bundle-") as tmp:
        data = evidence.store.export_bundle(chain, Path(tmp) / "bundle.zip").read_bytes()
    audit.record(db.session, "bundle_exported", actor_id=user.id, ip=client_ip(), chain=chain, **details)
    db.session.commit()
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/dokumen/<int:doc_id>/bundel.zip")
@signed_in
def document_bundle(doc_id: int) -> Any:
    user = current()
    doc = documents.visible(db.session, user, doc_id)
    return bundle_response(doc.evidence_session, f"bukti-{doc.evidence_session}.zip", user, document=doc.id)
