"""The editable DOCX opens with python-docx and says what the PDF says."""

from __future__ import annotations

import docx

from sop import SECTIONS


def _all_text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return " ".join(" ".join(parts).split())


def test_docx_opens_and_contains_every_section(built):
    document = docx.Document(str(built.docx_path))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == [f"{n}. {title}" for n, (_, title) in enumerate(SECTIONS, start=1)]


def test_docx_holds_the_values_tables_and_diagram(built):
    document = docx.Document(str(built.docx_path))
    text = _all_text(document)
    for value in ["LSP Teknologi Digital Nusantara", "BNSP-LSP-1187-ID", "minimal 1.500 kbps", "maksimal 300 ms",
                  "AES-256-GCM", "1.825 hari (5 tahun)", "MET.000.004512 2021", "3 × 24 jam", "☐"]:  # fmt: skip
        assert value in text, value
    assert len(document.tables) > 15
    assert len(document.inline_shapes) == 2  # the QR code of the hash on the cover and the architecture diagram
    assert built.manifest_sha256 in text  # cover


def test_docx_footer_has_the_hash_and_page_fields_and_the_demo_label(built):
    document = docx.Document(str(built.docx_path))
    section = document.sections[0]
    footer_xml = section.footer._element.xml
    assert built.manifest_sha256 in footer_xml
    assert "PAGE" in footer_xml and "NUMPAGES" in footer_xml
    assert "DEMO" in section.header.paragraphs[0].text
    assert "{{" not in _all_text(document)  # every placeholder was filled


def test_docx_has_a_table_of_contents_field_word_updates_on_open(built):
    document = docx.Document(str(built.docx_path))
    assert 'TOC \\o "1-1"' in document.element.xml
    assert "updateFields" in document.settings.element.xml


def test_docx_cover_qr_decodes_to_the_manifest_hash(built):
    import importlib.util

    from tests.components import require

    require(importlib.util.find_spec("cv2") is not None, "OpenCV (cv2)", "pip install opencv-python-headless")
    import cv2
    import numpy as np

    document = docx.Document(str(built.docx_path))
    images = [part.blob for part in document.part.related_parts.values() if part.content_type == "image/png"]
    decoded = [
        cv2.QRCodeDetector().detectAndDecode(cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR))[0]
        for blob in images
    ]
    assert built.manifest_sha256 in decoded
