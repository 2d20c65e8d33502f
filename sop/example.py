"""A complete, realistic example of the dossier's inputs (fictitious LSP), used by tests, the benchmark and demos."""

from __future__ import annotations

import datetime as dt

from config.tuk_profile import DEFAULT_TUK_PROFILE
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
    TrialSession,
    Unit,
)


def example_inputs() -> DossierInputs:
    return DossierInputs(
        meta=DossierMeta(
            letter_number="012/LSP-TDN/SRT/XI/2026",
            date=dt.date(2026, 11, 23),
            place="Bandung",
            additional_legal_basis=["Panduan Mutu LSP Teknologi Digital Nusantara, revisi 3 tahun 2026"],
        ),
        lsp=LspProfile(
            name="LSP Teknologi Digital Nusantara",
            licence_number="BNSP-LSP-1187-ID",
            licence_type="pihak_ketiga",
            licence_valid_until=dt.date(2029, 8, 14),
            address="Jl. Ir. H. Juanda No. 120, Dago, Coblong",
            city="Bandung",
            contact=Contact(
                phone="+62 22 2500 123", email="sekretariat@lsp-tdn.example", website="https://lsp-tdn.example"
            ),
            director=Person(name="Dr. Ir. Ratna Wulandari, M.T.", position="Ketua LSP"),
            data_protection_officer=Person(name="Andi Pratama, S.Kom.", position="Pejabat Pelindungan Data Pribadi"),
        ),
        schemes=[
            Scheme(
                code="SKM-TDN-JWD-01",
                title="Junior Web Developer",
                kind="Okupasi",
                units=[
                    Unit(code="J.620100.004.02", title="Menggunakan Struktur Data"),
                    Unit(code="J.620100.005.02", title="Mengimplementasikan User Interface"),
                    Unit(code="J.620100.017.02", title="Mengimplementasikan Pemrograman Terstruktur"),
                    Unit(code="J.620100.019.02", title="Menggunakan Library atau Komponen Pre-Existing"),
                ],
            ),
            Scheme(
                code="SKM-TDN-NA-02",
                title="Junior Network Administrator",
                kind="Okupasi",
                units=[
                    Unit(code="J.611000.005.01", title="Memasang Perangkat Jaringan"),
                    Unit(code="J.611000.013.01", title="Memantau Kinerja Jaringan"),
                ],
            ),
        ],
        tuk_profile=DEFAULT_TUK_PROFILE,
        # The shape of the evidence library's describe_parameters(), plus where the data physically is.
        evidence=EvidenceFacts.model_validate(
            {
                "backend": "s3",
                "backend_details": {
                    "backend": "s3",
                    "endpoint": "minio.lsp-tdn.example:9000",
                    "bucket": "rtuk-evidence",
                    "tls": True,
                    "object_lock": "COMPLIANCE",
                    "retention_days": 1825,
                    "legal_hold": False,
                },
                "object_lock_mode": "COMPLIANCE",
                "retention_days": 1825,
                "legal_hold": False,
                "encryption": {
                    "algorithm": "AES-256-GCM-STREAM-v1",
                    "cipher": "AES-256-GCM",
                    "data_key_bits": 256,
                    "chunk_size_bytes": 65536,
                    "tag_bytes": 16,
                    "nonce": "7-byte random prefix || uint32 chunk index || last-chunk flag (96 bits)",
                    "associated_data": "object header (object id, session id, type, key id, nonce prefix)",
                    "data_key": "fresh random per object",
                    "key_wrap": "AES-256-GCM-KEYWRAP-v1",
                    "kek_id": "kek-2026-01",
                    "kek_bits": 256,
                    "kek_source": "settings",
                },
                "plaintext_commitment": (
                    "SHA-256(32-byte random salt || plaintext), salt stored wrapped with the data key"
                ),
                "log": {
                    "hashing": "RFC 9162 (SHA-256, leaf 0x00, node 0x01)",
                    "entry_encoding": "canonical JSON, one line per entry",
                    "checkpoint_format": "C2SP tlog-checkpoint / signed-note",
                    "signature": "Ed25519",
                    "proof_format": "C2SP tlog-proof@v1",
                    "origin": "lsp-tdn.example/evidence",
                    "checkpoint_every_entries": 256,
                    "checkpoint_every_seconds": 60,
                    "checkpoint_on_session_close": True,
                },
                "verifier_key": "lsp-tdn.example/evidence+9f3c1a2b+AdK3cJq6Xw1mTTZ0f8qG0q7yHk2r2mV5b9lA4sW3n8Ew",
                "auditor_key_wrap": "X25519-HKDF-SHA256-AES-256-GCM-v1",
                "bundle_format": "rtuk-evidence-bundle/1",
                "storage_location": "MinIO dengan object lock di pusat data PT Awan Nusantara, Jakarta Selatan",
                "offline_verifier": "python3 rtuk_verify.py verify BUNDEL.zip --pubkey <kunci verifikasi>",
            }
        ),
        roles=[
            Role(
                key="admin",
                name="Administrator LSP",
                description="Mengelola skema, jadwal, penugasan asesor, dan profil persyaratan TUK.",
                permissions=[
                    "mengelola data skema dan jadwal",
                    "menugaskan asesor melalui surat tugas",
                    "menetapkan profil persyaratan teknis TUK jarak jauh",
                ],
                requires_2fa=True,
            ),
            Role(
                key="asesor",
                name="Asesor Kompetensi",
                description="Melaksanakan asesmen pada sesi yang ditugaskan kepadanya.",
                permissions=[
                    "melihat data asesi pada sesi yang ditugaskan",
                    "mengamati sesi langsung dan mencatat bukti",
                    "menetapkan rekomendasi K/BK",
                ],
                requires_2fa=True,
            ),
            Role(
                key="asesi",
                name="Asesi",
                description="Peserta uji kompetensi.",
                permissions=["mengisi permohonan dan asesmen mandiri", "mengikuti sesi uji yang dijadwalkan"],
            ),
            Role(
                key="auditor",
                name="Auditor/Peninjau",
                description="Meninjau proses asesmen dan memverifikasi bukti tanpa mengubahnya.",
                permissions=["membaca log bukti dan checkpoint", "menjalankan verifikasi luring"],
                requires_2fa=True,
            ),
        ],
        access_rules=[
            AccessRule(
                resource="Data pribadi asesi",
                roles=["admin", "asesor"],
                action="membaca",
                condition="asesor hanya untuk sesi yang ditugaskan kepadanya",
            ),
            AccessRule(
                resource="Rekaman dan bukti sesi",
                roles=["asesor", "auditor"],
                action="membaca",
                condition="selama masa retensi; setiap akses dicatat",
            ),
            AccessRule(
                resource="Keputusan K/BK",
                roles=["asesor"],
                action="menetapkan",
                condition="hanya asesor yang tercantum dalam surat tugas",
            ),
            AccessRule(
                resource="Profil persyaratan TUK",
                roles=["admin"],
                action="mengubah",
                condition="perubahan berlaku untuk sesi berikutnya dan tercatat",
            ),
            AccessRule(
                resource="Log bukti dan checkpoint",
                roles=["auditor", "admin"],
                action="membaca",
                condition="tidak ada peran yang dapat mengubah atau menghapus entri",
            ),
        ],
        personnel=Personnel(
            administrators=[
                Administrator(
                    name="Siti Nurhaliza, S.E.", position="Manajer Sertifikasi", email="siti@lsp-tdn.example"
                ),
                Administrator(
                    name="Bayu Saputra, S.Kom.", position="Administrator Sistem", email="bayu@lsp-tdn.example"
                ),
            ],
            assessors=[
                Assessor(
                    name="Hendra Gunawan, S.T., M.Kom.", met_number="MET.000.004512 2021", schemes=["SKM-TDN-JWD-01"]
                ),
                Assessor(
                    name="Maria Lestari, S.Kom.",
                    met_number="MET.000.007833 2022",
                    schemes=["SKM-TDN-JWD-01", "SKM-TDN-NA-02"],
                ),
                Assessor(name="Yusuf Hidayat, S.T.", met_number="MET.000.002219 2019", schemes=["SKM-TDN-NA-02"]),
            ],
        ),
        deployment=Deployment(
            server_location="Pusat data PT Awan Nusantara, Jakarta Selatan (Indonesia)",
            hosting_provider="PT Awan Nusantara (penyelenggara sistem elektronik terdaftar)",
            database="PostgreSQL 16",
            backup=(
                "Cadangan basis data harian pukul 01.00 WIB (pg_dump terenkripsi) dan replikasi bucket bukti setiap jam"
            ),
            backup_location="Pusat data kedua PT Awan Nusantara, Surabaya (Indonesia)",
            backup_retention_days=90,
            public_url="https://uji.lsp-tdn.example",
            tls=True,
            ice_servers=["turn:turn.lsp-tdn.example:3478"],
            message_queue=None,
            app_nodes=1,
        ),
        capabilities=Capabilities(
            session_recording=True,
            face_matching=False,
            proctoring_signals=False,
            electronic_consent=True,
            online_appeal=False,
            tuk_gate=True,
            tuk_check_records=True,
            evidence_export=True,
            two_factor_auth=True,
        ),
        candidate_trials=CandidateTrials(
            candidates=24, tried=21, passed=19, runs=27, selftests_played=21, selftests_sent=12
        ),
        trial_session=TrialSession(
            session_ref="UJI-COBA-2026-11-20-01",
            held_on=dt.date(2026, 11, 20),
            entries=1342,
            checkpoint_size=1342,
            checkpoint_root_hash="5f1d3c9e8a7b6d4c2e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d",
            verification_ok=True,
            verification_detail="rantai hash, bukti inklusi, dan tanda tangan checkpoint valid",
            verifier_command=(
                "python -m evidence_store verify bundle-UJI-COBA-2026-11-20-01.zip --pubkey <kunci verifikasi>"
            ),
        ),
    )
