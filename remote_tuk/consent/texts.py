"""The consent texts the product ships, and the shape of a consent text.

An LSP edits and publishes its own versions (``remote_tuk.consent.editing``, stored in ``consent_text_versions``);
until it stores any, the defaults below are in force, and the first consent given or the first edit stores them
as the LSP's own. A published text never changes: a new wording is a new version, and every acceptance records the
version and the SHA-256 of the exact text shown (:attr:`ConsentText.sha256`).

Version 1 of each text is kept here unchanged because consents were given under it: it promised what the product
did not do yet (withdrawal by contacting the LSP with processing stopped "within 3 × 24 hours", biometric matching
stated as fact, an appeal right with no word on who handles it). Version 2 says only what the product does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

FR_AK_01 = "fr_ak_01"
PDP = "pdp"
#: Every kind a candidate must accept, in the order shown.
KINDS = (FR_AK_01, PDP)
KIND_LABELS = {
    FR_AK_01: "FR.AK.01 Persetujuan asesmen dan kerahasiaan",
    PDP: "Persetujuan pemrosesan data pribadi (UU PDP)",
}


@dataclass(frozen=True)
class ConsentText:
    kind: str
    version: int
    title: str
    body: str

    @property
    def sha256(self) -> str:
        """SHA-256 of exactly what is shown (kind, version, title, body), as recorded with every acceptance."""
        return hashlib.sha256(f"{self.kind}\n{self.version}\n{self.title}\n{self.body}".encode()).hexdigest()


# --- version 1: shipped until the LSP could edit its texts (kept: consents were given under it) --------------------

FR_AK_01_V1 = ConsentText(
    kind=FR_AK_01,
    version=1,
    title="FR.AK.01 Persetujuan Asesmen dan Kerahasiaan",
    body=(
        "Saya, asesi yang namanya tercantum pada sesi ini, menyatakan bahwa:\n"
        "1. Saya telah menerima penjelasan tentang skema sertifikasi, unit kompetensi yang diases, proses asesmen "
        "jarak jauh, metode dan perangkat asesmen, serta hak saya untuk mengajukan banding.\n"
        "2. Saya bersedia diases secara jarak jauh oleh asesor yang ditugaskan LSP, melalui video dan suara secara "
        "langsung, dan saya akan mengikuti petunjuk asesor selama asesmen.\n"
        "3. Saya menjamin bahwa saya sendiri yang mengikuti asesmen ini, tanpa bantuan orang lain, di ruangan yang "
        "memenuhi persyaratan TUK jarak jauh, dan tidak menggunakan bahan atau perangkat yang tidak diizinkan.\n"
        "4. Saya memahami bahwa bukti-bukti asesmen (rekaman, catatan observasi, jawaban) dikumpulkan, disimpan "
        "terenkripsi, dan hanya digunakan untuk keperluan sertifikasi serta penjaminan mutu oleh LSP dan BNSP.\n"
        "5. Asesor dan LSP wajib menjaga kerahasiaan informasi yang diperoleh selama asesmen; saya juga wajib "
        "menjaga kerahasiaan materi uji kompetensi dan tidak merekam, menyalin, atau menyebarkannya."
    ),
)

PDP_V1 = ConsentText(
    kind=PDP,
    version=1,
    title="Persetujuan Pemrosesan Data Pribadi (UU No. 27 Tahun 2022)",
    body=(
        "LSP sebagai pengendali data pribadi akan memproses data pribadi saya untuk penyelenggaraan asesmen jarak "
        "jauh, yaitu: identitas (nama, NIK, foto KTP yang saya tunjukkan ke kamera), rekaman wajah dan suara saya "
        "selama pemeriksaan TUK dan asesmen, rekaman ruangan, serta data teknis perangkat dan jaringan.\n"
        "Rekaman wajah yang digunakan untuk mencocokkan identitas termasuk data pribadi yang bersifat spesifik "
        "(data biometrik, Pasal 4). Dasar pemrosesannya adalah persetujuan eksplisit saya ini (Pasal 20 dan 22).\n"
        "Data disimpan terenkripsi selama masa retensi bukti yang ditetapkan LSP, diakses hanya oleh asesor yang "
        "ditugaskan, petugas LSP yang berwenang, dan peninjau BNSP, lalu dihapus atau dimusnahkan sesuai Pasal 42–44.\n"
        "Saya berhak menarik persetujuan ini kapan saja dengan menghubungi LSP; pemrosesan dihentikan paling lambat "
        "3 × 24 jam setelah penarikan, dan penarikan tidak membatalkan pemrosesan yang telah dilakukan sebelumnya. "
        "Jika terjadi kegagalan pelindungan data, LSP memberitahukannya kepada saya paling lambat 3 × 24 jam.\n"
        "Tanpa persetujuan ini asesmen jarak jauh tidak dapat dilaksanakan; saya dapat meminta asesmen di TUK "
        "tatap muka."
    ),
)


# --- version 2: the product's default, promising only what it does ----------------------------------------------

FR_AK_01_V2 = ConsentText(
    kind=FR_AK_01,
    version=2,
    title="FR.AK.01 Persetujuan Asesmen dan Kerahasiaan",
    body=(
        "Saya, asesi yang namanya tercantum pada formulir ini, menyatakan bahwa:\n"
        "1. Saya telah menerima penjelasan tentang skema sertifikasi, unit kompetensi yang diases, proses asesmen "
        "jarak jauh, metode dan perangkat asesmen, serta bukti yang akan dikumpulkan sebagaimana tercantum pada "
        "formulir ini.\n"
        "2. Saya bersedia diases secara jarak jauh oleh asesor yang ditugaskan LSP, melalui video dan suara secara "
        "langsung, dan saya akan mengikuti petunjuk asesor selama asesmen.\n"
        "3. Saya menjamin bahwa saya sendiri yang mengikuti asesmen ini, tanpa bantuan orang lain, di lokasi yang "
        "saya nyatakan pada formulir ini dan yang memenuhi persyaratan TUK jarak jauh, dan tidak menggunakan bahan "
        "atau perangkat yang tidak diizinkan.\n"
        "4. Saya memahami bahwa bukti-bukti asesmen (rekaman, catatan observasi, keputusan) dikumpulkan, disimpan "
        "terenkripsi, dan hanya digunakan untuk keperluan sertifikasi serta penjaminan mutu oleh LSP dan BNSP.\n"
        "5. Saya berhak mengajukan banding atas keputusan asesmen. Banding diajukan kepada LSP dan ditangani sesuai "
        "prosedur banding LSP (formulir FR.AK.04), di luar aplikasi ini.\n"
        "6. Asesor dan LSP wajib menjaga kerahasiaan informasi yang diperoleh selama asesmen; saya juga wajib "
        "menjaga kerahasiaan materi uji kompetensi dan tidak merekam, menyalin, atau menyebarkannya.\n"
        "Formulir ini ditandatangani secara elektronik oleh asesi dan oleh asesor yang ditugaskan sebelum asesmen "
        "dimulai."
    ),
)

PDP_V2 = ConsentText(
    kind=PDP,
    version=2,
    title="Persetujuan Pemrosesan Data Pribadi (UU No. 27 Tahun 2022)",
    body=(
        "LSP sebagai pengendali data pribadi memproses data pribadi saya untuk penyelenggaraan asesmen jarak jauh, "
        "yaitu: identitas (nama, NIK, foto KTP yang saya tunjukkan ke kamera), lokasi yang saya nyatakan, rekaman "
        "wajah dan suara saya selama pemeriksaan TUK dan asesmen, rekaman ruangan, percakapan selama sesi, serta "
        "data teknis perangkat dan jaringan (termasuk alamat IP).\n"
        "Rekaman wajah saya dapat dibandingkan secara otomatis dengan wajah saya pada awal sesi untuk membantu "
        "asesor memastikan bahwa orang yang sama mengikuti seluruh asesmen; hasilnya hanya menjadi catatan bagi "
        "asesor, tidak pernah keputusan otomatis. Data wajah yang diolah dengan cara ini termasuk data pribadi yang "
        "bersifat spesifik (data biometrik, Pasal 4). Dasar pemrosesannya adalah persetujuan eksplisit saya ini "
        "(Pasal 20 dan 22).\n"
        "Data disimpan terenkripsi selama masa retensi yang ditetapkan LSP dan diakses hanya oleh asesor yang "
        "ditugaskan, petugas LSP yang berwenang, dan peninjau BNSP yang diberi akses; setiap pembukaan bukti "
        "dicatat. Setelah masa retensi berakhir, LSP menghapus data dengan memusnahkan kunci enkripsinya "
        "(Pasal 42–44).\n"
        'Saya dapat menarik persetujuan ini kapan saja sebelum keputusan asesmen, dengan tombol "Tarik '
        'persetujuan" di dasbor saya atau di halaman pemeriksaan TUK. Pemrosesan untuk asesmen ini langsung '
        "dihentikan: video dan suara yang sedang berjalan diputus, unggahan dan analisis ditolak, dan sesi "
        'dibatalkan dengan alasan "persetujuan ditarik". LSP diberi tahu dan menindaklanjuti penarikan saya '
        "paling lambat 3 × 24 jam. Penarikan tidak membatalkan pemrosesan yang telah dilakukan sebelumnya; bukti "
        "yang sudah terekam tetap tersimpan terenkripsi sampai dihapus sesuai ketentuan di atas. Setelah keputusan "
        "asesmen, permintaan tentang data saya diajukan langsung kepada LSP.\n"
        "Jika terjadi kegagalan pelindungan data pribadi, LSP wajib memberitahukannya kepada saya paling lambat "
        "3 × 24 jam (Pasal 46).\n"
        "Tanpa persetujuan ini asesmen jarak jauh tidak dapat dilaksanakan; saya dapat meminta asesmen di TUK "
        "tatap muka."
    ),
)

#: Every text the product has shipped, by (kind, version).
BUILT_IN = {(t.kind, t.version): t for t in (FR_AK_01_V1, PDP_V1, FR_AK_01_V2, PDP_V2)}
#: The product's default per kind (in force until the LSP stores its own).
DEFAULTS = {t.kind: t for t in (FR_AK_01_V2, PDP_V2)}
