"""What the dossier cannot state yet: a list of facts to fill in, never blanks in the document."""

from __future__ import annotations

from dataclasses import dataclass

from sop.inputs import DossierInputs


@dataclass(frozen=True)
class MissingFact:
    """One fact to fill in: a machine key (dotted path into the inputs) and what to do, in Indonesian."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class MissingFactsError(ValueError):
    """Raised by the builder when facts are missing; carries the list. No file has been written."""

    def __init__(self, missing: list[MissingFact]):
        self.missing = list(missing)
        lines = "\n".join(f"- {fact}" for fact in self.missing)
        super().__init__(f"Dossier tidak dapat dibuat, {len(self.missing)} data belum diisi:\n{lines}")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def missing_facts(inputs: DossierInputs) -> list[MissingFact]:
    """Every fact the dossier needs that *inputs* does not give, in document order."""
    out: list[MissingFact] = []

    def need(key: str, value: object, message: str) -> None:
        if _blank(value):
            out.append(MissingFact(key, message))

    meta, lsp = inputs.meta, inputs.lsp
    need("meta.letter_number", meta.letter_number, "Isi nomor surat permohonan kepada BNSP.")
    need("meta.date", meta.date, "Isi tanggal surat permohonan.")
    need("meta.place", meta.place, "Isi tempat (kota) penandatanganan surat permohonan.")

    need("lsp.name", lsp.name, "Isi nama resmi LSP.")
    need("lsp.licence_number", lsp.licence_number, "Isi nomor SK lisensi LSP dari BNSP.")
    need("lsp.licence_type", lsp.licence_type, "Pilih jenis LSP: pihak kesatu, pihak kedua, atau pihak ketiga.")
    need("lsp.address", lsp.address, "Isi alamat kantor LSP.")
    need("lsp.city", lsp.city, "Isi kota kedudukan LSP.")
    if _blank(lsp.contact.phone) and _blank(lsp.contact.email):
        out.append(MissingFact("lsp.contact", "Isi sekurang-kurangnya satu kontak LSP (telepon atau surel)."))
    if lsp.licence_valid_until and meta.date and lsp.licence_valid_until < meta.date:
        out.append(
            MissingFact(
                "lsp.licence_valid_until", "Lisensi LSP sudah berakhir pada tanggal surat; perbarui data lisensi."
            )
        )
    need("lsp.director.name", lsp.director.name, "Isi nama Ketua/Direktur LSP yang menandatangani dokumen.")
    need("lsp.director.position", lsp.director.position, "Isi jabatan penanggung jawab LSP (mis. Ketua LSP).")

    if not inputs.schemes:
        out.append(
            MissingFact(
                "schemes", "Pilih sekurang-kurangnya satu skema sertifikasi yang diajukan untuk asesmen jarak jauh."
            )
        )
    for i, scheme in enumerate(inputs.schemes):
        label = scheme.code or f"ke-{i + 1}"
        need(f"schemes[{i}].code", scheme.code, f"Isi kode skema sertifikasi {label}.")
        need(f"schemes[{i}].title", scheme.title, f"Isi judul skema sertifikasi {label}.")
        if not scheme.units:
            out.append(MissingFact(f"schemes[{i}].units", f"Isi unit kompetensi skema {label}."))

    if inputs.tuk_profile is None:
        out.append(MissingFact("tuk_profile", "Tetapkan profil persyaratan teknis TUK jarak jauh yang berlaku."))

    ev = inputs.evidence
    need("evidence.hash_algorithm", ev.hash_algorithm, "Nyatakan algoritma hash bukti (dari pustaka bukti).")
    need("evidence.encryption_algorithm", ev.encryption_algorithm, "Nyatakan algoritma enkripsi bukti.")
    need("evidence.encryption_key_bits", ev.encryption_key_bits, "Nyatakan panjang kunci enkripsi bukti (bit).")
    need("evidence.key_wrap_algorithm", ev.key_wrap_algorithm, "Nyatakan algoritma pembungkus kunci (key wrap).")
    need("evidence.signature_algorithm", ev.signature_algorithm, "Nyatakan algoritma tanda tangan checkpoint.")
    need("evidence.chunk_size", ev.chunk_size, "Nyatakan ukuran potongan (chunk) enkripsi.")
    need(
        "evidence.checkpoint_every_entries", ev.checkpoint_every_entries, "Nyatakan interval checkpoint (jumlah entri)."
    )
    need("evidence.checkpoint_every_seconds", ev.checkpoint_every_seconds, "Nyatakan interval checkpoint (detik).")
    need("evidence.object_lock_mode", ev.object_lock_mode, "Nyatakan mode object lock penyimpanan bukti.")
    need("evidence.retention_days", ev.retention_days, "Nyatakan masa retensi bukti (hari).")
    need("evidence.backend", ev.backend, "Nyatakan jenis penyimpanan bukti (filesystem atau S3/MinIO).")
    need("evidence.storage_location", ev.storage_location, "Nyatakan lokasi fisik penyimpanan bukti.")
    need("evidence.log_origin", ev.log_origin, "Nyatakan nama log bukti (origin checkpoint).")
    need("evidence.verifier_key", ev.verifier_key, "Nyatakan kunci verifikasi checkpoint (verifier key).")

    if not inputs.roles:
        out.append(MissingFact("roles", "Daftarkan peran pengguna dan hak aksesnya."))
    if not inputs.access_rules:
        out.append(MissingFact("access_rules", "Daftarkan aturan akses terhadap data asesmen dan bukti."))
    known_roles = {role.key for role in inputs.roles}
    for i, rule in enumerate(inputs.access_rules):
        for role in rule.roles:
            if known_roles and role not in known_roles:
                out.append(
                    MissingFact(f"access_rules[{i}].roles", f"Peran '{role}' pada aturan akses belum didaftarkan.")
                )

    if not inputs.personnel.administrators:
        out.append(MissingFact("personnel.administrators", "Daftarkan sekurang-kurangnya satu administrator LSP."))
    if not inputs.personnel.assessors:
        out.append(MissingFact("personnel.assessors", "Daftarkan sekurang-kurangnya satu asesor kompetensi."))
    for i, assessor in enumerate(inputs.personnel.assessors):
        need(
            f"personnel.assessors[{i}].met_number",
            assessor.met_number,
            f"Isi nomor registrasi MET asesor {assessor.name}.",
        )

    covered = {code for assessor in inputs.personnel.assessors for code in assessor.schemes}
    for i, scheme in enumerate(inputs.schemes):
        if inputs.personnel.assessors and scheme.code and scheme.code not in covered:
            out.append(
                MissingFact(
                    f"schemes[{i}].assessors", f"Tetapkan sekurang-kurangnya satu asesor untuk skema {scheme.code}."
                )
            )

    dep = inputs.deployment
    need("deployment.server_location", dep.server_location, "Nyatakan lokasi fisik server aplikasi.")
    need("deployment.database", dep.database, "Nyatakan basis data yang digunakan.")
    need("deployment.backup", dep.backup, "Uraikan cara dan jadwal pencadangan (backup).")
    need("deployment.backup_location", dep.backup_location, "Nyatakan lokasi penyimpanan cadangan.")
    trial = inputs.trial_session
    if trial is not None and not trial.verification_ok:
        out.append(
            MissingFact(
                "trial_session.verification_ok",
                "Verifikasi bukti uji coba sesi gagal: ulangi uji coba hingga valid atau kosongkan ringkasannya.",
            )
        )
    return out
