"""Gather the SOP dossier's facts from the live configuration (the database, the settings, the evidence store).

Every number in the dossier comes from here, so it is the one the product enforces. ``collect_inputs()`` without
arguments is the provider ``python -m sop build`` loads by name (``RTUK_SOP_FACTS_PROVIDER``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import DEFAULT_TUK_PROFILE, Settings, TukRequirementProfile
from remote_tuk.accounts.models import ROLE_LABELS, User
from remote_tuk.accounts.models import Role as UserRole
from remote_tuk.accounts.services import TOTP_ROLES
from remote_tuk.assessment.models import STATE_LABELS, Schedule
from remote_tuk.assessment.services import TRANSITIONS
from remote_tuk.dossier.models import DossierDeclarations
from remote_tuk.lsp.models import Lsp
from remote_tuk.lsp.models import Scheme as SchemeModel
from remote_tuk.proctoring import profiles as proctoring_profiles
from remote_tuk.trial import services as trial_services
from remote_tuk.tuk.models import RequirementProfileRecord
from sop.inputs import (
    AccessRule,
    Administrator,
    Assessor,
    CandidateTrials,
    Capabilities,
    Contact,
    Deployment,
    DossierInputs,
    DossierMeta,
    EvidenceFacts,
    LspProfile,
    Person,
    Personnel,
    Role,
    Scheme,
    Unit,
)

_PERMISSIONS = {
    UserRole.LSP_ADMIN: [
        "mengelola profil LSP, skema (impor/ekspor standar RMCS), pengguna dan jadwal asesmen",
        "menugaskan asesor dengan nomor surat tugas dan menambahkan asesi ke jadwal",
        "menerbitkan tautan masuk sekali pakai bagi asesi",
        "memberi akses baca kepada auditor/peninjau per jadwal",
        "membaca log audit keamanan yang hanya dapat ditambah",
    ],
    UserRole.ASSESSOR: [
        "melihat jadwal yang ditugaskan kepadanya melalui surat tugas beserta sesinya",
        "mengubah status sesi pada jadwal yang ditugaskan kepadanya",
    ],
    UserRole.CANDIDATE: ["melihat sesi asesmennya sendiri", "memulai pemeriksaan TUK pada sesinya sendiri"],
    UserRole.AUDITOR: ["melihat (hanya baca) jadwal dan sesi yang aksesnya diberikan LSP kepadanya"],
}


def _roles() -> list[Role]:
    return [
        Role(
            key=role.value,
            name=ROLE_LABELS[role],
            permissions=_PERMISSIONS[role],
            requires_2fa=role in TOTP_ROLES,
        )
        for role in UserRole
    ]


def _access_rules() -> list[AccessRule]:
    rules = [
        AccessRule(resource="Profil LSP, skema, pengguna, jadwal", roles=["lsp_admin"], action="kelola"),
        AccessRule(
            resource="Jadwal asesmen",
            roles=["asesor"],
            action="lihat",
            condition="hanya jadwal yang ditugaskan kepadanya (surat tugas)",
        ),
        AccessRule(
            resource="Jadwal asesmen",
            roles=["auditor"],
            action="lihat",
            condition="hanya jadwal yang aksesnya diberikan admin LSP",
        ),
        AccessRule(
            resource="Sesi asesmen",
            roles=["asesi"],
            action="lihat",
            condition="hanya sesinya sendiri; sesi orang lain dijawab sama seperti sesi yang tidak ada",
        ),
        AccessRule(resource="Log audit keamanan", roles=["lsp_admin"], action="baca", condition="tidak dapat diubah"),
    ]
    by_roles: dict[tuple[str, ...], list[str]] = {}
    for (src, dst), roles in TRANSITIONS.items():
        key = tuple(sorted(r.value for r in roles))
        by_roles.setdefault(key, []).append(f"{STATE_LABELS[src]} → {STATE_LABELS[dst]}")
    for roles, moves in by_roles.items():
        condition = "asesor hanya pada jadwal yang ditugaskan kepadanya; asesi hanya pada sesinya sendiri"
        rules.append(
            AccessRule(
                resource="Status sesi", roles=list(roles), action="ubah: " + "; ".join(moves), condition=condition
            )
        )
    return rules


def evidence_facts(
    settings: Settings, parameters: dict[str, Any], declarations: DossierDeclarations | None
) -> EvidenceFacts:
    """The evidence library's own ``describe_parameters()`` plus what only the LSP can declare (where it is)."""
    from evidence_store.standalone import standalone_verifier

    params = dict(parameters)
    verifier = standalone_verifier()
    commitment = params.pop("plaintext_commitment", None)
    if isinstance(commitment, dict):
        commitment = "; ".join(f"{k}: {v}" for k, v in commitment.items())
    return EvidenceFacts.from_settings(
        settings.evidence,
        **params,
        commitment_scheme=commitment,
        storage_location=(declarations.evidence_storage_location or None) if declarations else None,
        offline_verifier=f"{verifier.name} (satu berkas; Python 3.11+ dan paket cryptography), diunduh dari halaman "
        f"Bukti sesi: python3 {verifier.name} verify BUNDEL.zip --pubkey KUNCI_VERIFIKASI",
        offline_verifier_sha256=verifier.sha256,
    )


def _database_name(db: Session) -> str:
    bind = db.get_bind()
    dialect = bind.dialect.name
    version = ".".join(str(p) for p in (bind.dialect.server_version_info or ())[:2])
    return {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(dialect, dialect) + (f" {version}" if version else "")


def gather(db: Session, settings: Settings, evidence_parameters: dict[str, Any]) -> DossierInputs:
    lsp = db.scalar(select(Lsp).order_by(Lsp.id).limit(1))
    decl = db.scalar(select(DossierDeclarations).order_by(DossierDeclarations.id).limit(1))
    schemes = list(db.scalars(select(SchemeModel).order_by(SchemeModel.code)))
    if decl and decl.scheme_codes:
        schemes = [s for s in schemes if s.code in set(decl.scheme_codes)]
    users = list(db.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name)))
    # The schemes an assessor assesses are those of the schedules they were assigned to by assignment letter.
    assigned: dict[int, set[str]] = {}
    for assessor_id, code in db.execute(
        select(Schedule.assessor_id, SchemeModel.code).join(SchemeModel).where(Schedule.assessor_id.is_not(None))
    ):
        assigned.setdefault(assessor_id, set()).add(code)
    return DossierInputs(
        meta=DossierMeta(
            letter_number=decl.letter_number or None if decl else None,
            date=decl.letter_date if decl else None,
            place=decl.letter_place or None if decl else None,
        ),
        lsp=LspProfile(
            name=lsp.name if lsp else None,
            licence_number=(lsp.licence_number or None) if lsp else None,
            licence_type=lsp.lsp_type.value if lsp else None,
            address=(lsp.address or None) if lsp else None,
            city=(lsp.city or None) if lsp else None,
            contact=Contact(phone=(lsp.phone or None) if lsp else None, email=(lsp.email or None) if lsp else None),
            director=Person(
                name=(lsp.director_name or None) if lsp else None,
                position=(lsp.director_position or None) if lsp else None,
            ),
        ),
        schemes=[
            Scheme(code=s.code, title=s.title, units=[Unit(code=u.code, title=u.title) for u in s.units],
                   proctoring=proctoring_profiles.for_scheme(db, s.id),
                   proctoring_own=proctoring_profiles.is_own(db, s.id))
            for s in schemes
        ],
        tuk_profile=_lsp_profile(db),
        evidence=evidence_facts(settings, evidence_parameters, decl),
        roles=_roles(),
        access_rules=_access_rules(),
        personnel=Personnel(
            administrators=[
                Administrator(name=u.full_name, position="Admin LSP", email=u.email)
                for u in users
                if u.role is UserRole.LSP_ADMIN
            ],
            assessors=[
                Assessor(name=u.full_name, met_number=u.met_number, schemes=sorted(assigned.get(u.id, set())))
                for u in users
                if u.role is UserRole.ASSESSOR
            ],
        ),
        deployment=Deployment(
            server_location=(decl.server_location or None) if decl else None,
            hosting_provider=(decl.hosting_provider or None) if decl else None,
            database=_database_name(db),
            backup=(decl.backup or None) if decl else None,
            backup_location=(decl.backup_location or None) if decl else None,
            backup_retention_days=decl.backup_retention_days if decl else None,
            public_url=(decl.public_url or None) if decl else None,
            tls=settings.behind_tls,
            ice_servers=[u for s in settings.rtc.ice_servers for u in _urls(s)],
            message_queue=settings.socketio_message_queue or None,
        ),
        candidate_trials=_candidate_trials(db),
        capabilities=Capabilities(
            # Only what this build really does; later features switch their flag on when they exist.
            session_recording=True,  # browser MediaRecorder chunks + server-side VP8 segments, both as evidence
            electronic_consent=True,  # FR.AK.01 and UU PDP consent, versioned texts, accepted before recording
            tuk_gate=True,  # the state machine refuses ready/live until the gate is open
            tuk_check_records=True,  # every TUK check, ID/room confirmation and override is evidence
            evidence_export=True,
            two_factor_auth=True,
            online_appeal=True,  # FR.AK.04 in the app (remote_tuk/appeals): submitted, assigned, decided, evidence
            # live analysis of the candidate's video and audio and the browser's signals, shown to the assessor as
            # findings (remote_tuk/proctoring), under each scheme's proctoring profile
            proctoring_signals=True,
        ),
    )


def _candidate_trials(db: Session) -> CandidateTrials:
    """The candidates' trials before the day (remote_tuk/trial), counted over every candidate session."""
    t = trial_services.summary(db)
    return CandidateTrials(
        candidates=t.candidates,
        tried=t.tried,
        passed=t.passed,
        runs=t.runs,
        selftests_played=t.selftests_played,
        selftests_sent=t.selftests_sent,
    )


def _lsp_profile(db: Session) -> TukRequirementProfile:
    """The LSP's default requirement profile (the product's standard one until the LSP sets its own)."""
    row = db.scalar(select(RequirementProfileRecord).where(RequirementProfileRecord.is_default.is_(True)))
    return TukRequirementProfile.model_validate(row.data) if row is not None else DEFAULT_TUK_PROFILE


def _urls(server: dict[str, Any]) -> list[str]:
    urls = server.get("urls", [])
    return [urls] if isinstance(urls, str) else [str(u) for u in urls]


def collect_inputs() -> DossierInputs:
    """Provider for ``python -m sop build``: the facts of the installation the environment's settings point at."""
    from remote_tuk import create_app
    from remote_tuk.extensions import db, evidence

    app = create_app()
    with app.app_context():
        return gather(db.session, app.config["RTUK"], evidence.store.describe_parameters())
