"""The LSP profile and its schemes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from remote_tuk.audit import services as audit
from remote_tuk.errors import NotFound
from remote_tuk.lsp import standards
from remote_tuk.lsp.models import Element, Lsp, LspType, Scheme, Unit
from remote_tuk.lsp.schemas import LspProfileIn


def get_lsp(db: Session) -> Lsp | None:
    return db.scalar(select(Lsp).order_by(Lsp.id).limit(1))


def update_lsp(db: Session, data: LspProfileIn, *, actor_id: int | None) -> Lsp:
    lsp = get_lsp(db)
    if lsp is None:
        lsp = Lsp(name=data.name, lsp_type=LspType(data.lsp_type))
        db.add(lsp)
    for name, value in data.model_dump().items():
        setattr(lsp, name, LspType(value) if name == "lsp_type" else value)
    audit.record(db, audit.LSP_UPDATED, actor_id=actor_id)
    db.commit()
    return lsp


def list_schemes(db: Session) -> list[Scheme]:
    return list(db.scalars(select(Scheme).order_by(Scheme.code)))


def get_scheme(db: Session, scheme_id: int) -> Scheme:
    scheme = db.scalar(
        select(Scheme)
        .where(Scheme.id == scheme_id)
        .options(selectinload(Scheme.units).selectinload(Unit.elements).selectinload(Element.kuks))
    )
    if scheme is None:
        raise NotFound("Skema tidak ditemukan.")
    return scheme


def import_scheme(db: Session, data: bytes, filename: str, *, actor_id: int | None) -> Scheme:
    """Validate the whole file, then write it in one transaction; on any error nothing is written."""
    parsed = standards.parse(data, filename)
    scheme = standards.store(db, parsed)
    audit.record(db, audit.SCHEME_IMPORTED, actor_id=actor_id, code=scheme.code, units=len(parsed.units))
    db.commit()
    return scheme
