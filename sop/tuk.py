"""The remote TUK requirement profile, worded in Indonesian, with the thresholds the product enforces."""

from __future__ import annotations

from dataclasses import dataclass

from config.tuk_profile import Requirement, TukRequirementProfile

#: What each requirement checks, and how the verifier sees it on the screen.
_TEXT: dict[str, tuple[str, str]] = {
    "browser_webrtc": ("Peramban mendukung WebRTC", "Peramban dapat melakukan panggilan video langsung."),
    "browser_mediarecorder": ("Peramban mendukung MediaRecorder", "Peramban dapat merekam audio dan video sesi."),
    "camera_resolution": ("Resolusi kamera", "Lebar dan tinggi gambar kamera yang diterima."),
    "camera_fps": ("Laju bingkai kamera", "Jumlah bingkai video per detik yang diterima."),
    "camera_not_virtual": (
        "Kamera fisik, bukan kamera virtual",
        "Kamera yang digunakan adalah perangkat fisik, bukan perangkat lunak kamera virtual.",
    ),
    "microphone_level": ("Tingkat suara mikrofon", "Mikrofon menangkap suara asesi di atas ambang."),
    "speaker_check": (
        "Pengeras suara/headset berfungsi",
        "Asesi dapat mendengar suara melalui pengeras suara atau headset.",
    ),
    "upload_bandwidth": ("Kecepatan unggah", "Laju unggah terukur dari perangkat asesi ke server."),
    "download_bandwidth": ("Kecepatan unduh", "Laju unduh terukur dari server ke perangkat asesi."),
    "round_trip_time": ("Waktu tempuh pulang-pergi (RTT)", "Keterlambatan jaringan antara perangkat asesi dan server."),
    "jitter": ("Jitter", "Variasi keterlambatan paket jaringan."),
    "packet_loss": ("Kehilangan paket", "Persentase paket jaringan yang hilang."),
    "single_display": ("Satu layar", "Perangkat asesi hanya menggunakan satu layar."),
    "fullscreen": ("Mode layar penuh", "Halaman uji berjalan dalam mode layar penuh."),
    "lighting": ("Pencahayaan ruangan", "Kecerahan rata-rata gambar kamera."),
    "face_visible": ("Wajah terlihat", "Wajah asesi tampak jelas dalam gambar kamera."),
    "battery": ("Daya baterai", "Sisa daya baterai atau perangkat tersambung ke listrik."),
}

_SOURCE = {"server": "diukur server", "browser": "dilaporkan peramban"}


def _num(value: float) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    # Indonesian number format: dot for thousands, comma for decimals.
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")


@dataclass(frozen=True)
class RequirementRow:
    key: str
    no: int
    title: str
    description: str
    threshold: str
    mandatory: bool
    source: str

    @property
    def kind(self) -> str:
        return "Wajib" if self.mandatory else "Anjuran"


def threshold_text(req: Requirement) -> str:
    """The threshold in words, e.g. "minimal 640 × 480 px" or "maksimal 300 ms" or "harus terpenuhi"."""
    unit = f" {req.unit}" if req.unit else ""
    if req.key == "camera_resolution" and req.min is not None and req.min_height is not None:
        return f"minimal {_num(req.min)} × {_num(req.min_height)}{unit}"
    if req.min is not None and req.max is not None:
        return f"antara {_num(req.min)} dan {_num(req.max)}{unit}"
    if req.min is not None:
        return f"minimal {_num(req.min)}{unit}"
    if req.max is not None:
        return f"maksimal {_num(req.max)}{unit}"
    return "harus terpenuhi (ya/tidak)"


def requirement_rows(profile: TukRequirementProfile) -> list[RequirementRow]:
    rows = []
    for i, req in enumerate(profile.requirements, start=1):
        title, description = _TEXT.get(req.key, (req.key, ""))
        rows.append(
            RequirementRow(
                key=req.key,
                no=i,
                title=title,
                description=description,
                threshold=threshold_text(req),
                mandatory=req.mandatory,
                source=_SOURCE[req.source],
            )
        )
    return rows
