"""Demo data for ``make run``: an LSP, the shipped Junior Web Developer scheme and its question bank, one account per
role, a schedule.

Idempotent: running it again finds what is there and creates nothing twice. Passwords are random on first run and
kept in ``var/demo-credentials.json`` (mode 0600), so they are never committed and stay the same between runs.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from remote_tuk.accounts.models import Role, User
from remote_tuk.accounts.services import create_user
from remote_tuk.assessment.models import AssessmentSession, AuditorGrant, Schedule
from remote_tuk.db import utcnow
from remote_tuk.dossier.models import DossierDeclarations
from remote_tuk.instruments import services as instruments
from remote_tuk.lsp import standards
from remote_tuk.lsp.models import Lsp, LspType, Scheme

DEMO_SCHEME = Path(__file__).parent / "lsp" / "demo" / "skema-junior-web-developer.json"
DEMO_BANK = Path(__file__).parent / "lsp" / "demo" / "bank-soal-junior-web-developer.json"

DEMO_USERS = [
    {"role": Role.LSP_ADMIN, "username": "admin", "full_name": "Rina Kusumawati (Admin LSP)"},
    {"role": Role.ASSESSOR, "username": "asesor", "full_name": "Budi Santoso", "met_number": "MET.000.004512.2019"},
    {
        "role": Role.CANDIDATE,
        "username": "asesi",
        "full_name": "Siti Nurhaliza",
        "nik": "3273015507990002",
        "phone": "081234567890",
    },
    {"role": Role.AUDITOR, "username": "auditor", "full_name": "Dr. Agus Prasetyo (Peninjau)"},
]


def _credentials(path: Path) -> dict[str, str]:
    if path.exists():
        return {c["username"]: c["password"] for c in json.loads(path.read_text())}
    return {}


def seed(db: Session, credentials_path: Path) -> list[dict[str, str]]:
    known = _credentials(credentials_path)
    if db.scalar(select(Lsp.id)) is None:
        db.add(
            Lsp(
                name="LSP Teknologi Digital Nusantara",
                licence_number="BNSP-LSP-1234-ID (demo)",
                lsp_type=LspType.THIRD_PARTY,
                address="Jl. Merdeka No. 10, Bandung, Jawa Barat 40111",
                city="Bandung",
                director_position="Ketua LSP",
                email="sertifikasi@lsp-tdn.example",
                phone="022-1234567",
                director_name="Ir. Hendra Wijaya, M.T.",
                domain="lsp-tdn.example",  # names the evidence log and its verifier key: lsp-tdn.example/evidence
            )
        )
    scheme = db.scalar(select(Scheme).where(Scheme.code == "SKM-JWD-2026"))
    if scheme is None:
        scheme = standards.store(db, standards.parse(DEMO_SCHEME.read_bytes(), DEMO_SCHEME.name))
    if instruments.bank_of(db, scheme) is None:
        instruments.import_bank(db, DEMO_BANK.read_bytes(), DEMO_BANK.name, actor=None)

    users: dict[str, User] = {}
    out = []
    for spec in DEMO_USERS:
        username = spec["username"]
        user = db.scalar(select(User).where(User.username == username))
        password = known.get(username)
        if user is None:
            password = password or secrets.token_urlsafe(9)
            fields = {k: v for k, v in spec.items() if k not in ("role", "username", "full_name")}
            user = create_user(
                db,
                username=username,
                full_name=str(spec["full_name"]),
                role=Role(spec["role"]),
                password=password,
                created_by=None,
                **fields,
            )  # type: ignore[arg-type]
        users[username] = user
        out.append(
            {
                "role": Role(spec["role"]).value,
                "username": username,
                "password": password or "(diubah oleh pengguna / changed by the user)",
            }
        )

    if db.scalar(select(DossierDeclarations.id)) is None:
        db.add(
            DossierDeclarations(
                letter_number="DEMO/001/LSP-TDN/XI/2026",
                letter_date=utcnow().date(),
                letter_place="Bandung",
                server_location="Server demo di komputer lokal (bukan produksi)",
                hosting_provider="Komputer lokal (demo)",
                evidence_storage_location="Direktori var/evidence pada komputer lokal (demo)",
                backup="Demo: tidak ada pencadangan otomatis; isi prosedur pencadangan LSP sebelum diajukan.",
                backup_location="Belum ditetapkan (demo)",
            )
        )

    admin = users["admin"]
    if db.scalar(select(Schedule.id).where(Schedule.title == "Uji Kompetensi Jarak Jauh – Demo")) is None:
        start = (utcnow() + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
        schedule = Schedule(
            title="Uji Kompetensi Jarak Jauh – Demo",
            scheme_id=scheme.id,
            starts_at=start,
            ends_at=start + timedelta(hours=3),
            assessor_id=users["asesor"].id,
            assignment_letter="001/ST/LSP-TDN/XI/2026",
            created_by_id=admin.id,
        )
        db.add(schedule)
        db.flush()
        db.add(AssessmentSession(schedule_id=schedule.id, candidate_id=users["asesi"].id))
        db.add(AuditorGrant(auditor_id=users["auditor"].id, schedule_id=schedule.id, granted_by_id=admin.id))
    db.commit()

    fresh = [c for c in out if not c["password"].startswith("(")]
    if fresh:
        merged = {**known, **{c["username"]: c["password"] for c in fresh}}
        credentials_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = credentials_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump([{"username": u, "password": p} for u, p in merged.items()], fh)
        tmp.replace(credentials_path)
    return out
