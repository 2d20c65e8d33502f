"""The session's evidence page and the bundle an auditor verifies offline."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request

from remote_tuk.accounts.models import Role
from remote_tuk.assessment import services as assessment
from remote_tuk.audit import services as audit
from remote_tuk.auth import current, roles_required
from remote_tuk.errors import ValidationFailed
from remote_tuk.extensions import client_ip, db, evidence
from remote_tuk.records import services

bp = Blueprint("records", __name__)
viewers = roles_required(Role.LSP_ADMIN, Role.ASSESSOR, Role.AUDITOR)
BUNDLE_EXPORTED = "bundle_exported"
audit.KIND_LABELS.setdefault(BUNDLE_EXPORTED, "Bundel bukti diekspor")


def _entries(public_id: str) -> list[dict[str, Any]]:
    store = evidence.store
    with store.log.locked() as st:
        known = public_id in st.heads
    return store.list_entries(public_id) if known else []


@bp.get("/sesi/<public_id>/bukti")
@viewers
def evidence_page(public_id: str) -> Any:
    session = assessment.get_session_for(db.session, current(), public_id)
    rows = services.rows(_entries(public_id))
    status = evidence.store.status()
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.label] = counts.get(r.label, 0) + 1
    return render_template(
        "records/evidence.html",
        s=session,
        rows=rows,
        counts=counts,
        svg=services.timeline_svg(rows),
        closed=bool(rows) and rows[-1].kind == "close",
        verifier_key=status["verifier_key"],
        checkpoint_size=status["checkpoint_size"],
    )


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
