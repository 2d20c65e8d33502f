"""The requirement labels and hints shown to candidates (Indonesian). The consent texts are in
``remote_tuk.consent`` (edited and versioned by the LSP)."""

from __future__ import annotations

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
    "phone_camera": ("Kamera HP (kamera kedua)",
                     "Pindai kode QR dengan HP dan arahkan kamera belakangnya ke tangan dan meja kerja Anda."),
    "screen_share": ("Berbagi seluruh layar", "Bagikan seluruh layar (bukan satu jendela atau tab) saat diminta."),
}
