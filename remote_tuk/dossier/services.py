"""Generating the SOP dossier: facts → sop.build_dossier → PDF + DOCX stored as evidence (one evidence session each)."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from remote_tuk.accounts.models import User
from remote_tuk.audit import services as audit
from remote_tuk.db import utcnow
from remote_tuk.dossier.facts import gather
from remote_tuk.dossier.models import Dossier, DossierDeclarations
from remote_tuk.dossier.schemas import DeclarationsIn
from remote_tuk.errors import NotFound, ValidationFailed
from remote_tuk.lsp.models import Scheme
from sop import DossierInputs, MissingFact, build_dossier, load_signer, missing_facts

DOSSIER_GENERATED = "dossier_generated"
DOSSIER_DOWNLOADED = "dossier_downloaded"
audit.KIND_LABELS.setdefault(DOSSIER_GENERATED, "Dosir SOP dibuat")
audit.KIND_LABELS.setdefault(DOSSIER_DOWNLOADED, "Dosir SOP diunduh")

PDF_TYPE, DOCX_TYPE, MANIFEST_TYPE = "sop_dossier_pdf", "sop_dossier_docx", "sop_dossier_manifest"


def declarations(db: Session) -> DossierDeclarations:
    decl = db.scalar(select(DossierDeclarations).order_by(DossierDeclarations.id).limit(1))
    if decl is None:
        decl = DossierDeclarations()
        db.add(decl)
        db.flush()
    return decl


def save_declarations(db: Session, data: DeclarationsIn, *, actor: User) -> DossierDeclarations:
    decl = declarations(db)
    known = set(db.scalars(select(Scheme.code)))
    unknown = [c for c in data.scheme_codes if c not in known]
    if unknown:
        raise ValidationFailed("Skema tidak dikenal.", details={"scheme_codes": ", ".join(unknown)})
    for name, value in data.model_dump().items():
        setattr(decl, name, value)
    audit.record(db, audit.LSP_UPDATED, actor_id=actor.id, what="dossier_declarations")
    db.commit()
    return decl


def inputs(db: Session, settings: Settings, store: Any) -> DossierInputs:
    return gather(db, settings, store.describe_parameters())


def check(db: Session, settings: Settings, store: Any) -> tuple[DossierInputs, list[MissingFact]]:
    facts = inputs(db, settings, store)
    return facts, missing_facts(facts)


def preview_html(db: Session, settings: Settings, store: Any) -> str:
    return build_dossier(inputs(db, settings, store), html_only=True).html


def generate(db: Session, settings: Settings, store: Any, *, actor: User) -> Dossier:
    """Build, sign and store the dossier as evidence. Missing facts raise MissingFactsError and nothing is written."""
    facts = inputs(db, settings, store)
    signer = load_signer(settings.sop, demo_dir=settings.var_dir / "sop")
    evidence_session = f"sop-dossier-{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    actor_ref = (actor.role.value, str(actor.id))
    with tempfile.TemporaryDirectory(prefix="rtuk-dossier-") as tmp:
        pdf_path, docx_path = Path(tmp) / "dossier.pdf", Path(tmp) / "dossier.docx"
        result = build_dossier(facts, pdf_path=pdf_path, docx_path=docx_path, signer=signer)
        store.open_session(
            evidence_session, {"kind": "sop_dossier", "manifest_sha256": result.manifest_sha256}, actor=actor_ref
        )
        receipts = {}
        for type_, data, name in (
            (MANIFEST_TYPE, result.manifest, "manifest.json"),
            (PDF_TYPE, pdf_path.read_bytes(), "dossier.pdf"),
            (DOCX_TYPE, docx_path.read_bytes(), "dossier.docx"),
        ):
            r = store.append(
                evidence_session,
                type_,
                data,
                metadata={"filename": name, "manifest_sha256": result.manifest_sha256},
                actor=actor_ref,
            )
            receipts[type_] = {"log_index": r.log_index, "entry_hash": r.entry_hash, "object_key": r.object_key}
        store.close_session(evidence_session, actor=actor_ref)
    dossier = Dossier(
        created_by_id=actor.id,
        evidence_session=evidence_session,
        pdf_object=receipts[PDF_TYPE]["object_key"],
        docx_object=receipts[DOCX_TYPE]["object_key"],
        manifest_sha256=result.manifest_sha256,
        page_count=result.page_count or 0,
        demo_signature=result.demo_signature,
        receipts=receipts,
    )
    db.add(dossier)
    audit.record(
        db,
        DOSSIER_GENERATED,
        actor_id=actor.id,
        evidence_session=evidence_session,
        manifest_sha256=result.manifest_sha256,
    )
    db.commit()
    return dossier


def list_dossiers(db: Session) -> list[Dossier]:
    return list(db.scalars(select(Dossier).order_by(Dossier.id.desc())))


def read_file(db: Session, store: Any, dossier_id: int, kind: str, *, actor: User) -> tuple[Dossier, bytes]:
    dossier = db.get(Dossier, dossier_id)
    if dossier is None or kind not in ("pdf", "docx"):
        raise NotFound("Dosir tidak ditemukan.")
    data = store.read(dossier.pdf_object if kind == "pdf" else dossier.docx_object, (actor.role.value, str(actor.id)))
    audit.record(db, DOSSIER_DOWNLOADED, actor_id=actor.id, dossier=dossier.id, file=kind)
    db.commit()
    return dossier, data
