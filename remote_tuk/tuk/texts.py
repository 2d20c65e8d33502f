"""Versioned consent texts and the requirement labels and hints shown to candidates (Indonesian).

A consent text never changes once published: a new wording is a new version, and every acceptance records the
version and the SHA-256 of the exact text that was shown.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsentText:
    kind: str
    version: int
    title: str
    body: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.kind}\n{self.version}\n{self.title}\n{self.body}".encode()).hexdigest()


FR_AK_01_V1 = ConsentText(
    kind="fr_ak_01",
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
    kind="pdp",
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

CURRENT = {t.kind: t for t in (FR_AK_01_V1, PDP_V1)}
ALL = {(t.kind, t.version): t for t in (FR_AK_01_V1, PDP_V1)}

#: key -> (label, how to fix)
REQUIREMENTS: dict[str, tuple[str, str]] = {
    "browser_webrtc": ("Dukungan WebRTC peramban", "Gunakan Chrome, Edge atau Firefox versi terbaru."),
    "browser_mediarecorder": ("Perekaman di peramban (MediaRecorder)", "Gunakan Chrome, Edge atau Firefox terbaru."),
    "camera_resolution": (
        "Resolusi kamera",
        "Gunakan webcam minimal 640×480; tutup aplikasi lain yang memakai kamera.",
    ),
    "camera_fps": ("Laju bingkai kamera", "Tutup aplikasi lain, nyalakan lampu, dan gunakan kamera yang lebih baik."),
    "camera_not_virtual": (
        "Kamera fisik (bukan kamera virtual)",
        "Pilih kamera fisik; matikan OBS, ManyCam dan sejenisnya.",
    ),
    "microphone_level": ("Level mikrofon", "Dekatkan mikrofon, periksa volume input, dan bicara dengan jelas."),
    "speaker_check": ("Pengeras suara / headset", "Periksa volume dan perangkat keluaran suara, lalu ulangi."),
    "upload_bandwidth": ("Kecepatan unggah", "Dekati router Wi-Fi, gunakan kabel LAN, atau hentikan unduhan lain."),
    "download_bandwidth": ("Kecepatan unduh", "Dekati router Wi-Fi, gunakan kabel LAN, atau hentikan streaming lain."),
    "round_trip_time": ("Latensi (RTT)", "Gunakan jaringan yang lebih stabil; hindari VPN."),
    "jitter": ("Jitter", "Gunakan jaringan kabel atau dekati router; hentikan pemakaian jaringan lain."),
    "packet_loss": ("Kehilangan paket", "Gunakan jaringan yang lebih stabil atau kabel LAN."),
    "single_display": ("Satu layar", "Cabut monitor tambahan; gunakan satu layar saja."),
    "fullscreen": ("Mode layar penuh", "Izinkan mode layar penuh di peramban."),
    "lighting": ("Pencahayaan", "Nyalakan lampu di depan wajah; hindari membelakangi jendela."),
    "face_visible": ("Wajah terlihat", "Duduk menghadap kamera; pastikan wajah Anda terlihat utuh dan jelas."),
    "battery": ("Daya baterai", "Sambungkan pengisi daya selama asesmen."),
}
