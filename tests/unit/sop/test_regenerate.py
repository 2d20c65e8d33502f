"""Change the configuration, regenerate, see the text change; features not described are not claimed."""

from __future__ import annotations

from config.tuk_profile import DEFAULT_TUK_PROFILE, Requirement, TukRequirementProfile
from sop import build_dossier, missing_facts

from .conftest import pdf_pages


def _with_upload(min_kbps: float) -> TukRequirementProfile:
    reqs = [
        Requirement(key="upload_bandwidth", min=min_kbps, unit="kbps") if r.key == "upload_bandwidth" else r
        for r in DEFAULT_TUK_PROFILE.requirements
    ]
    return DEFAULT_TUK_PROFILE.model_copy(update={"requirements": reqs, "valid_minutes": 45})


def test_changed_threshold_and_retention_change_the_pdf_text(tools, inputs, tmp_path):
    inputs.tuk_profile = _with_upload(2500)
    inputs.evidence.retention_days = 3650
    inputs.evidence.checkpoint_every_entries = 1000
    result = build_dossier(inputs, pdf_path=tmp_path / "d.pdf")
    text = " ".join(" ".join(pdf_pages(result.pdf_path)).split())
    assert "Kecepatan unggah: minimal 2.500 kbps" in text
    assert "Kecepatan unggah: minimal 1.500 kbps" not in text
    assert "Kecepatan unduh: minimal 1.500 kbps" in text  # untouched
    assert "berlaku selama 45 menit" in text
    assert "3.650 hari (10 tahun)" in text and "1.825 hari" not in text
    assert "setiap 1.000 entri atau setiap 60 detik" in text
    assert not result.signed and "DEMO" not in text


def test_features_not_described_are_not_claimed(inputs):
    inputs.capabilities.face_matching = False
    inputs.capabilities.session_recording = False
    inputs.capabilities.tuk_gate = False
    html = build_dossier(inputs, html_only=True).html
    assert "pencocokan wajah otomatis" in html
    assert "membandingkan wajah asesi di kamera dengan foto" not in html
    assert "Sistem tidak merekam audio dan video sesi" in html
    assert "rekaman sesi" not in html
    assert "Sesi tidak dapat dimulai selama ada persyaratan" not in html

    inputs.capabilities.face_matching = True
    inputs.capabilities.session_recording = True
    inputs.capabilities.tuk_gate = True
    html = build_dossier(inputs, html_only=True).html
    assert "membandingkan wajah asesi di kamera dengan foto" in html
    assert "Seluruh sesi asesmen direkam" in html
    assert "Sesi tidak dapat dimulai selama ada persyaratan" in html


def test_no_trial_session_says_so_instead_of_inventing_one(inputs):
    inputs.trial_session = None
    html = build_dossier(inputs, html_only=True).html
    assert "Belum ada uji coba sesi" in html
    assert "Hash akar checkpoint terakhir" not in html


def test_same_inputs_give_the_same_manifest_hash(inputs):
    first = build_dossier(inputs, html_only=True)
    second = build_dossier(inputs, html_only=True)
    assert first.manifest_sha256 == second.manifest_sha256
    inputs.evidence.retention_days = 30
    assert build_dossier(inputs, html_only=True).manifest_sha256 != first.manifest_sha256


def test_inputs_are_text_never_markup(inputs):
    inputs.lsp.name = "LSP <img src='http://example.invalid/x.png'> & Co"
    html = build_dossier(inputs, html_only=True).html
    assert "<img src='http://example.invalid" not in html
    assert "LSP &lt;img src=&#39;http://example.invalid/x.png&#39;&gt; &amp; Co" in html


def test_a_minimal_system_is_described_without_the_features_it_lacks(inputs):
    import re

    from sop.inputs import Capabilities, EvidenceFacts

    ev = inputs.evidence
    inputs.evidence = EvidenceFacts.model_validate(
        {
            "hash": "SHA-256", "cipher": "AES-256-GCM", "key_wrap": "AES-256-GCM-KEYWRAP-v1", "signature": "Ed25519",
            "chunk_size": 65536, "checkpoint_every_entries": 256, "checkpoint_every_seconds": 60,
            "backend": "filesystem", "retention_days": 365, "storage_location": "Disk server aplikasi, Bandung",
            "log_origin": ev.log_origin, "verifier_key": ev.verifier_key,
        }
    )  # fmt: skip
    inputs.capabilities = Capabilities()
    inputs.deployment.ice_servers = []
    inputs.deployment.tls = False
    inputs.trial_session = None
    assert missing_facts(inputs) == []
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", build_dossier(inputs, html_only=True).html))
    for claim in [
        "object lock mode COMPLIANCE",
        "Seluruh sesi asesmen direkam",
        "faktor autentikasi kedua",
        "turn:",
        "crypto-shredding",
        "Sesi tidak dapat dimulai selama ada persyaratan",
        "membandingkan wajah asesi di kamera",
        "di dalam aplikasi; persetujuan",
        "verifikator luring",
        "HTTPS",
    ]:
        assert claim not in text, claim
    for statement in [
        "Penyimpanan bukti tidak menerapkan object lock",
        "Sistem tidak merekam audio dan video sesi",
        "tidak ada; media hanya melalui koneksi langsung",
        "Belum ada uji coba sesi",
        "365 hari (1 tahun)",
    ]:
        assert statement in text, statement


def test_the_offline_verifiers_hash_is_printed_only_when_known(inputs):
    inputs.evidence.offline_verifier_sha256 = None
    assert "SHA-256 berkas verifikator luring" not in build_dossier(inputs, html_only=True).html
    inputs.evidence.offline_verifier_sha256 = "ab" * 32
    html = build_dossier(inputs, html_only=True).html
    assert "SHA-256 berkas verifikator luring" in html and "ab" * 32 in html
