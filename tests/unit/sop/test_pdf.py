"""The signed PDF: sections, actual values, TOC page numbers, footers, attached manifest, PDF/A, signature."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pypdf

from sop import SECTIONS, build_dossier, verify_pdf_signature
from sop.example import example_inputs
from sop.render import MANIFEST_NAME, qr_data_uri


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_every_section_is_in_the_pdf(pages):
    text = _squash("\n".join(pages))
    for n, (_, title) in enumerate(SECTIONS, start=1):
        assert f"{n}. {title}" in text


def test_pdf_holds_the_actual_configuration_values(pages):
    text = _squash("\n".join(pages))
    inputs = example_inputs()
    for value in [
        inputs.lsp.name,
        inputs.lsp.licence_number,
        inputs.meta.letter_number,
        "SE.011/BNSP/IV/2020",
        "minimal 640 × 480 px",
        "minimal 15 fps",
        "minimal 1.500 kbps",
        "maksimal 300 ms",
        "maksimal 30 ms",
        "maksimal 2 %",
        "minimal 60 luma",
        "berlaku selama 30 menit",
        "AES-256-GCM",
        "kunci 256 bit",
        "64 KiB (65.536 bita)",
        "setiap 256 entri atau setiap 60 detik",
        "1.825 hari (5 tahun)",
        "object lock mode COMPLIANCE",
        "Ed25519",
        "AES-256-GCM-KEYWRAP-v1, kunci pembungkus (KEK) 256 bit, identitas KEK kek-2026-01",
        "serta setiap kali sesi ditutup",
        "lsp-tdn.example/evidence",
        "Pusat data PT Awan Nusantara, Jakarta Selatan",
        "3 × 24 jam",
        "VALID",
    ]:
        assert value in text, value
    for scheme in inputs.schemes:
        assert scheme.code in text
        for unit in scheme.units:
            assert unit.code in text
    for assessor in inputs.personnel.assessors:
        assert assessor.met_number in text


def test_the_diagram_is_drawn_as_vector_text(pages):
    it_pages = _squash("\n".join(pages))
    assert "Peramban asesi" in it_pages
    assert "turn:turn.lsp-tdn.example:3478" in it_pages


def test_toc_page_numbers_point_at_the_headings(pages):
    toc = next(i for i, p in enumerate(pages) if "Daftar Isi" in p and "1. Surat Permohonan" in p)
    for n, (_, title) in enumerate(SECTIONS, start=1):
        heading = f"{n}. {title}"
        match = re.search(re.escape(heading) + r"\s*\.*\s*(\d+)\s*$", pages[toc], re.MULTILINE)
        assert match, f"{heading} not in the table of contents"
        page_no = int(match.group(1))
        body_lines = [line.strip() for line in pages[page_no - 1].splitlines()]
        # The heading stands on a line of its own on that page (the running header repeats it at the right edge).
        assert heading in body_lines, f"{heading}: TOC says page {page_no}"
        for earlier in range(toc + 1, page_no - 1):
            assert heading not in [line.strip() for line in pages[earlier].splitlines()]


def test_every_footer_has_page_x_of_y_and_the_manifest_hash(built, pages):
    assert built.page_count == len(pages) > 15
    for number, page in enumerate(pages, start=1):
        assert f"Halaman {number} dari {built.page_count}" in page
        assert f"SHA-256 manifes: {built.manifest_sha256}" in page


def test_attached_manifest_hash_matches_the_footer(built, pages):
    reader = pypdf.PdfReader(built.pdf_path)
    attached = reader.attachments[MANIFEST_NAME][0]
    footer_hash = re.search(r"SHA-256 manifes: ([0-9a-f]{64})", pages[3]).group(1)
    assert hashlib.sha256(attached).hexdigest() == footer_hash == built.manifest_sha256
    manifest = json.loads(attached)
    assert manifest["inputs"] == example_inputs().model_dump(mode="json")
    assert [s["title"] for s in manifest["sections"]] == [t for _, t in SECTIONS]
    assert manifest["signature"] == {"signed": True, "demo_certificate": True, "subject": built_subject(built)}


def built_subject(built) -> str:
    return json.loads(built.manifest)["signature"]["subject"]


def test_pdf_is_pdf_a_3b_with_the_manifest_as_associated_file(built):
    reader = pypdf.PdfReader(built.pdf_path)
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_data()
    assert b'pdfaid:part="3"' in xmp or b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b'pdfaid:conformance="B"' in xmp or b"<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    associated = [ref.get_object() for ref in root["/AF"]]
    assert any(f["/F"] == MANIFEST_NAME and f["/AFRelationship"] == "/Data" for f in associated)


def test_cover_carries_a_qr_code_of_the_hash(built):
    assert qr_data_uri(built.manifest_sha256) in built.html
    cover = built.html.split('class="toc')[0]
    assert built.manifest_sha256 in cover


def test_demo_signature_is_labelled_on_the_cover_and_every_page(pages):
    assert "sertifikat DEMO" in _squash(pages[0])
    for page in pages[1:]:
        assert "DEMO: ditandatangani dengan sertifikat uji (self-signed), bukan sertifikat LSP" in _squash(page)


def test_signature_validates_then_fails_after_one_flipped_byte(built, tmp_path):
    check = verify_pdf_signature(built.pdf_path)
    assert check.valid and check.intact and check.covers_whole_file
    assert check.demo and not check.trusted
    raw = bytearray(Path(built.pdf_path).read_bytes())
    stream = raw.index(b"stream", len(raw) // 3) + 20  # inside a signed content stream
    raw[stream] ^= 0x01
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(raw))
    bad = verify_pdf_signature(tampered)
    assert not bad.valid
    assert bad.error


def test_signature_is_trusted_when_its_root_is_given(built, demo_signer):
    check = verify_pdf_signature(built.pdf_path, trust_roots=[demo_signer.certificate])
    assert check.valid and check.trusted


def test_cover_letter_and_its_signature_fit_on_one_page(pages):
    letter = next(p for p in pages if "Dengan hormat," in p)
    assert "Hormat kami," in letter
    assert example_inputs().lsp.director.name in letter


def test_preview_with_the_same_signer_has_the_pdf_hash(built, demo_signer):
    preview = build_dossier(example_inputs(), html_only=True, signer=demo_signer)
    assert preview.manifest_sha256 == built.manifest_sha256
    assert "sertifikat DEMO" in preview.html


def test_cover_qr_code_decodes_to_the_manifest_hash(built, tmp_path):
    import importlib.util
    import subprocess

    from tests.components import require

    require(importlib.util.find_spec("cv2") is not None, "OpenCV (cv2)", "pip install opencv-python-headless")
    import cv2

    subprocess.run(
        ["pdftoppm", "-f", "1", "-l", "1", "-r", "150", "-png", str(built.pdf_path), str(tmp_path / "cover")],
        check=True,
    )
    image = cv2.imread(str(next(tmp_path.glob("cover*.png"))))
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == built.manifest_sha256


def test_pdf_metadata_language_and_bookmarks(built):
    reader = pypdf.PdfReader(built.pdf_path)
    assert reader.metadata["/Author"] == example_inputs().lsp.name
    assert reader.metadata["/Title"].startswith("Dokumen Permohonan Asesmen Jarak Jauh")
    assert reader.trailer["/Root"]["/Lang"] == "id"
    top = [item.title for item in reader.outline if not isinstance(item, list)]
    for n, (_, title) in enumerate(SECTIONS, start=1):
        assert f"{n}. {title}" in top


def test_a_flipped_byte_in_the_signature_itself_is_caught(built, tmp_path):
    raw = bytearray(Path(built.pdf_path).read_bytes())
    contents = raw.rindex(b"/Contents <") + len(b"/Contents <")
    der = bytes(raw[contents : raw.index(b">", contents)]).rstrip(b"0")
    position = contents + len(der) - 8  # inside the signature value at the end of the CMS blob
    raw[position] = ord("0") if raw[position] != ord("0") else ord("1")
    tampered = tmp_path / "bad-signature.pdf"
    tampered.write_bytes(bytes(raw))
    assert not verify_pdf_signature(tampered).valid
