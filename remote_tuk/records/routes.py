"""The session's evidence page, the bundle an auditor verifies offline, the auditor's one-file verifier and the
auditor's guide (docs/VERIFYING.md)."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from config.settings import PROJECT_ROOT
from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.audit import services as audit
from remote_tuk.auth import current, roles_required
from remote_tuk.errors import NotFound, ValidationFailed
from remote_tuk.extensions import client_ip, db, evidence
from remote_tuk.records import services
from remote_tuk.review import documents as review_documents
from remote_tuk.views import current_formatter

bp = Blueprint("records", __name__)
viewers = roles_required(Role.LSP_ADMIN, Role.ASSESSOR, Role.AUDITOR)
BUNDLE_EXPORTED = "bundle_exported"
audit.KIND_LABELS.setdefault(BUNDLE_EXPORTED, "Bundel bukti diekspor")
#: the auditor's guide, Indonesian and English (served as a page)
GUIDE = PROJECT_ROOT / "docs" / "VERIFYING.md"


def _entries(public_id: str) -> list[dict[str, Any]]:
    store = evidence.store
    with store.log.locked() as st:
        known = public_id in st.heads
    return store.list_entries(public_id) if known else []


def _linked(public_id: str, fmt: Any) -> list[dict[str, Any]]:
    """The chains linked to the session (appeals, assessment records, the feedback acknowledgement), each with its
    rows; the session's bundle holds every one of them that is closed."""
    store = evidence.store
    out = []
    for chain in store.linked_chains(public_id):
        entries = store.list_entries(chain, include_related=False)
        rows = services.rows(entries, fmt)
        meta = entries[0].get("metadata") or {} if entries else {}
        out.append({"chain": chain, "form": str(meta.get("form") or meta.get("kind") or ""), "rows": rows,
                     "closed": bool(rows) and rows[-1].kind == "close"})
    return out


@bp.get("/sesi/<public_id>/bukti")
@viewers
def evidence_page(public_id: str) -> Any:
    from evidence_store.standalone import standalone_verifier

    session = assessment.get_session_for(db.session, current(), public_id)
    fmt = current_formatter()
    rows = services.rows(_entries(public_id), fmt)
    status = evidence.store.status()
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.label] = counts.get(r.label, 0) + 1
    return render_template(
        "records/evidence.html",
        s=session,
        rows=rows,
        counts=counts,
        svg=services.timeline_svg(rows, fmt, downtime_label=_("Video asesi tidak diterima"),
                                  axis_label=_("Lini masa bukti sesi")),
        closed=bool(rows) and rows[-1].kind == "close",
        verifier_key=status["verifier_key"],
        origin_fixed=status["origin_fixed"],
        checkpoint_size=status["checkpoint_size"],
        verifier=standalone_verifier(),
        zone=fmt.zone,
        actor_labels=services.ACTOR_LABELS,
        documents=review_documents.for_session(db.session, session),
        linked=_linked(public_id, fmt),
    )


@bp.get("/bukti/verifikator/<name>")
@viewers
def verifier_file(name: str) -> Any:
    """The auditor's verifier: one file, standard library + cryptography, built from the verifier's modules."""
    from evidence_store.standalone import standalone_verifier

    built = standalone_verifier()
    if name != built.name:
        raise NotFound(_("Berkas verifikator tidak ditemukan."))
    return Response(
        built.data,
        mimetype="text/x-python",
        headers={
            "Content-Disposition": f'attachment; filename="{built.name}"',
            # RFC 9530: the browser or a proxy can check what arrived; the page shows the same hash in hex
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(built.sha256)).decode()}:",
            "X-Content-SHA256": built.sha256,
        },
    )


@bp.get("/bukti/panduan-verifikasi")
@viewers
def verifying_guide() -> Any:
    """docs/VERIFYING.md as a page (Indonesian and English), linked from every evidence page."""
    from markdown_it import MarkdownIt

    from evidence_store.standalone import standalone_verifier

    try:
        text = GUIDE.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise NotFound(_("Panduan verifikasi tidak ada pada instalasi ini.")) from err
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return render_template("records/guide.html", html=html, verifier=standalone_verifier())


@bp.route("/sesi/<public_id>/bukti/bundel.zip", methods=["GET", "POST"])
@viewers
def bundle(public_id: str) -> Any:
    user = current()
    session = assessment.get_session_for(db.session, user, public_id)
    if not _entries(public_id):
        raise ValidationFailed("Sesi ini belum memiliki bukti.")
    auditor_key = None
    if request.method == "POST":
        text = (request.form.get("auditor_key") or "").strip()
        if text:
            from evidence_store.crypto import load_x25519_public

            try:
                auditor_key = load_x25519_public(text.encode())
            except ValueError as err:
                raise ValidationFailed(
                    "Kunci publik auditor bukan kunci X25519 (PEM atau base64 32 byte).",
                    details={"auditor_key": "tidak valid"},
                ) from err
    with tempfile.TemporaryDirectory(prefix="rtuk-bundle-") as tmp:
        path = evidence.store.export_bundle(public_id, Path(tmp) / "bundle.zip", auditor_public_key=auditor_key)
        data = path.read_bytes()
    audit.record(
        db.session,
        BUNDLE_EXPORTED,
        actor_id=user.id,
        ip=client_ip(),
        session=session.public_id,
        with_keys=auditor_key is not None,
    )
    db.session.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="bukti-{public_id}.zip"'},
    )
