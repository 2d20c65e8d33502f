"""The LSP's consent texts: the version in force, drafts, publishing, history and the difference between versions.

A published version never changes; editing makes (or changes) the one draft of a kind, and publishing the draft makes
it the next version, in force for every session not yet consented (a session keeps the version it was consented
under). Until the LSP stores texts of a kind, the product's default (``consent.texts.DEFAULTS``) is in force; the first
edit or the first consent given stores it as the LSP's own.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import User
from remote_tuk.audit import services as audit
from remote_tuk.consent import texts
from remote_tuk.consent.models import ConsentTextVersion
from remote_tuk.consent.texts import ConsentText
from remote_tuk.db import utcnow
from remote_tuk.errors import Conflict, NotFound, ValidationFailed
from remote_tuk.lsp.models import Lsp
from remote_tuk.lsp.services import get_lsp

DRAFT, PUBLISHED = "draft", "published"
TEXT_PUBLISHED = "consent_text_published"
TEXT_DRAFTED = "consent_text_drafted"
audit.KIND_LABELS.setdefault(TEXT_PUBLISHED, "Teks persetujuan diterbitkan")
audit.KIND_LABELS.setdefault(TEXT_DRAFTED, "Draf teks persetujuan disimpan")


def as_text(row: ConsentTextVersion) -> ConsentText:
    return ConsentText(kind=row.kind, version=row.version, title=row.title, body=row.body)


def require_kind(kind: str) -> str:
    if kind not in texts.KINDS:
        raise NotFound("Jenis teks persetujuan tidak dikenal.")
    return kind


def _rows(db: Session, lsp: Lsp, kind: str) -> list[ConsentTextVersion]:
    return list(
        db.scalars(
            select(ConsentTextVersion)
            .where(ConsentTextVersion.lsp_id == lsp.id, ConsentTextVersion.kind == kind)
            .order_by(ConsentTextVersion.version)
        )
    )


def _published_row(db: Session, lsp: Lsp, kind: str) -> ConsentTextVersion | None:
    return db.scalar(
        select(ConsentTextVersion)
        .where(
            ConsentTextVersion.lsp_id == lsp.id,
            ConsentTextVersion.kind == kind,
            ConsentTextVersion.status == PUBLISHED,
        )
        .order_by(ConsentTextVersion.version.desc())
        .limit(1)
    )


def current(db: Session, kind: str) -> ConsentText:
    """The version in force for *kind*: the LSP's latest published one, else the product's default."""
    lsp = get_lsp(db)
    row = _published_row(db, lsp, kind) if lsp is not None else None
    return as_text(row) if row is not None else texts.DEFAULTS[kind]


def find(db: Session, kind: str, version: int) -> ConsentText | None:
    """A published version (the LSP's, or one the product shipped), or None."""
    lsp = get_lsp(db)
    if lsp is not None:
        row = db.scalar(
            select(ConsentTextVersion).where(
                ConsentTextVersion.lsp_id == lsp.id,
                ConsentTextVersion.kind == kind,
                ConsentTextVersion.version == version,
                ConsentTextVersion.status == PUBLISHED,
            )
        )
        if row is not None:
            return as_text(row)
    return texts.BUILT_IN.get((kind, version))


def ensure_stored(db: Session, *, now: datetime | None = None) -> None:
    """Store the product's default as the LSP's own published version of every kind it has no text of yet, so the
    exact text a candidate accepts is in the database (flushed, not committed)."""
    lsp = get_lsp(db)
    if lsp is None:
        return
    now = now or utcnow()
    for kind in texts.KINDS:
        if not _rows(db, lsp, kind):
            default = texts.DEFAULTS[kind]
            db.add(
                ConsentTextVersion(
                    lsp_id=lsp.id,
                    kind=kind,
                    version=default.version,
                    title=default.title,
                    body=default.body,
                    status=PUBLISHED,
                    note="Teks bawaan produk.",
                    sha256=default.sha256,
                    created_at=now,
                    published_at=now,
                )
            )
    db.flush()


@dataclass(frozen=True)
class VersionView:
    """One line of a kind's history: stored by the LSP, or shipped by the product before the LSP stored its own."""

    text: ConsentText
    status: str
    stored: bool
    note: str
    published_at: datetime | None
    in_force: bool


def history(db: Session, kind: str) -> list[VersionView]:
    """Every version of *kind*, newest first: the LSP's (draft included), then the product's earlier ones."""
    lsp = get_lsp(db)
    rows = _rows(db, lsp, kind) if lsp is not None else []
    in_force = current(db, kind).version
    out = [
        VersionView(as_text(r), r.status, True, r.note, r.published_at, r.status == PUBLISHED and r.version == in_force)
        for r in rows
    ]
    first = rows[0].version if rows else None
    for (k, v), t in texts.BUILT_IN.items():
        if k == kind and (first is None or v < first):
            out.append(VersionView(t, PUBLISHED, False, "", None, first is None and v == in_force))
    return sorted(out, key=lambda x: x.text.version, reverse=True)


def draft(db: Session, kind: str) -> ConsentTextVersion | None:
    lsp = get_lsp(db)
    if lsp is None:
        return None
    return db.scalar(
        select(ConsentTextVersion).where(
            ConsentTextVersion.lsp_id == lsp.id, ConsentTextVersion.kind == kind, ConsentTextVersion.status == DRAFT
        )
    )


def _lsp_required(db: Session) -> Lsp:
    lsp = get_lsp(db)
    if lsp is None:
        raise Conflict("Isi profil LSP terlebih dahulu: teks persetujuan disimpan atas nama LSP.")
    return lsp


def save_draft(db: Session, kind: str, *, title: str, body: str, note: str, actor: User) -> ConsentTextVersion:
    """Create or change the draft of *kind* (a published version is never changed)."""
    lsp = _lsp_required(db)
    ensure_stored(db)
    row = draft(db, kind)
    if row is None:
        last = db.scalar(
            select(func.max(ConsentTextVersion.version)).where(
                ConsentTextVersion.lsp_id == lsp.id, ConsentTextVersion.kind == kind
            )
        )
        row = ConsentTextVersion(
            lsp_id=lsp.id, kind=kind, version=int(last or 0) + 1, status=DRAFT, created_by_id=actor.id
        )
        db.add(row)
    row.title, row.body, row.note = title, body, note
    db.flush()
    audit.record(db, TEXT_DRAFTED, actor_id=actor.id, kind=kind, version=row.version)
    db.commit()
    return row


def publish(db: Session, kind: str, *, actor: User, now: datetime | None = None) -> ConsentTextVersion:
    """Publish the draft of *kind* as its next version; refused if there is none or it says nothing new."""
    row = draft(db, kind)
    if row is None:
        raise Conflict("Tidak ada draf untuk diterbitkan.")
    in_force = current(db, kind)
    if (row.title, row.body) == (in_force.title, in_force.body):
        raise ValidationFailed(
            "Draf sama dengan versi yang berlaku; tidak ada yang diterbitkan.", details={"body": "tidak berubah"}
        )
    now = now or utcnow()
    row.status, row.published_at, row.published_by_id = PUBLISHED, now, actor.id
    row.sha256 = as_text(row).sha256
    audit.record(db, TEXT_PUBLISHED, actor_id=actor.id, kind=kind, version=row.version, sha256=row.sha256)
    db.commit()
    return row


def discard(db: Session, kind: str, *, actor: User) -> None:
    row = draft(db, kind)
    if row is None:
        raise Conflict("Tidak ada draf.")
    db.delete(row)
    db.commit()


def previous(db: Session, kind: str, version: int) -> ConsentText | None:
    """The published version just before *version* (what a new version is compared with)."""
    older = [v.text for v in history(db, kind) if v.status == PUBLISHED and v.text.version < version]
    return older[0] if older else None


# --- the difference between two versions ----------------------------------------------------------------------------

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class DiffPart:
    op: str  # "same" | "added" | "removed"
    text: str


def diff(old: str, new: str) -> list[DiffPart]:
    """Word by word (whitespace kept), so a changed phrase in a long paragraph shows as that phrase."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[DiffPart] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(DiffPart("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(DiffPart("removed", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(DiffPart("added", "".join(b[j1:j2])))
    return out
