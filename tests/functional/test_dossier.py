"""The SOP dossier from the admin pages: missing facts listed, preview, signed PDF + DOCX stored as evidence."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from sqlalchemy import func, select

from tests.components import require
from tests.conftest import csrf_token


@pytest.fixture(autouse=True)
def _tools():
    require(shutil.which("dot") is not None, "graphviz (dot)", "apt-get install graphviz")
    require(shutil.which("pdftotext") is not None, "pdftotext", "apt-get install poppler-utils")


def _fill_everything(admin):
    token = csrf_token(admin, "/admin/lsp")
    resp = admin.post(
        "/admin/lsp",
        data={
            "csrf_token": token,
            "name": "LSP Uji Nusantara",
            "licence_number": "KEP.1234/BNSP/2024",
            "lsp_type": "pihak_ketiga",
            "address": "Jl. Asia Afrika 8",
            "city": "Bandung",
            "email": "lsp@example.id",
            "phone": "022-555",
            "director_name": "Ir. Dewi Lestari",
            "director_position": "Ketua LSP",
        },
    )
    assert resp.status_code == 302
    token = csrf_token(admin, "/admin/dosir/")
    resp = admin.post(
        "/admin/dosir/",
        data={
            "csrf_token": token,
            "letter_number": "017/LSP-UN/XI/2026",
            "letter_date": "2026-11-23",
            "letter_place": "Bandung",
            "server_location": "Pusat data Jakarta Selatan",
            "hosting_provider": "PT Awan",
            "evidence_storage_location": "MinIO di pusat data Jakarta Selatan",
            "backup": "Cadangan harian terenkripsi",
            "backup_location": "Pusat data Surabaya",
            "backup_retention_days": "30",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]


def test_missing_facts_are_listed_and_nothing_is_built(app, login_as):
    from remote_tuk.dossier.models import Dossier
    from remote_tuk.extensions import db

    admin = login_as("admin")
    page = admin.get("/admin/dosir/").get_data(as_text=True)
    assert "Data yang masih perlu dilengkapi" in page
    assert "meta.letter_number" in page and "lsp.city" in page and "deployment.server_location" in page
    resp = admin.post("/admin/dosir/buat", data={"csrf_token": csrf_token(admin, "/admin/dosir/")})
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Dossier)) == 0


def test_generate_preview_download_and_evidence(app, login_as, tmp_path):
    from remote_tuk.dossier.models import Dossier
    from remote_tuk.extensions import db, evidence

    admin = login_as("admin")
    _fill_everything(admin)
    page = admin.get("/admin/dosir/").get_data(as_text=True)
    assert "Dosir siap dibuat" in page
    preview = admin.get("/admin/dosir/pratinjau")
    assert preview.status_code == 200
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    html = preview.get_data(as_text=True)
    assert "LSP Uji Nusantara" in html and "017/LSP-UN/XI/2026" in html

    resp = admin.post("/admin/dosir/buat", data={"csrf_token": csrf_token(admin, "/admin/dosir/")})
    assert resp.status_code == 302
    with app.app_context():
        dossier = db.session.scalar(select(Dossier))
        entries = evidence.store.list_entries(dossier.evidence_session)
    types = [e.get("type") for e in entries if e.get("kind") == "item"]
    assert types == ["sop_dossier_manifest", "sop_dossier_pdf", "sop_dossier_docx"]
    assert entries[-1]["kind"] == "close"

    pdf = admin.get(f"/admin/dosir/{dossier.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    (tmp_path / "d.pdf").write_bytes(pdf.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "d.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "LSP Uji Nusantara" in text
    assert "SKM-JWD-2026" in text
    assert "Pusat data Jakarta Selatan" in text
    assert dossier.manifest_sha256[:16] in text  # the manifest hash is printed in the footers
    docx = admin.get(f"/admin/dosir/{dossier.id}/docx")
    from docx import Document

    body = "\n".join(p.text for p in Document(io.BytesIO(docx.data)).paragraphs)
    assert "LSP Uji Nusantara" in body
    # every download was read through the evidence store, which logs the reader
    with app.app_context():
        reads = [e for e in evidence.store.list_entries(dossier.evidence_session) if e.get("kind") == "read"]
    assert len(reads) == 2
    assert admin.get(f"/admin/dosir/{dossier.id}/exe").status_code == 404
    assert admin.get("/admin/dosir/9999/pdf").status_code == 404


def test_bad_declarations_are_refused(login_as):
    admin = login_as("admin")
    token = csrf_token(admin, "/admin/dosir/")
    resp = admin.post(
        "/admin/dosir/",
        data={
            "csrf_token": token,
            "letter_date": "kemarin",
            "backup_retention_days": "-3",
            "scheme_codes": ["TIDAK-ADA"],
            "public_url": "javascript:alert(1)",
        },
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "format tanggal" in html or "tidak valid" in html


@pytest.mark.parametrize("who", ["asesor_a", "asesi_a", "auditor_a"])
def test_only_admins(login_as, who):
    client = login_as(who)
    assert client.get("/admin/dosir/").status_code == 403
    assert client.get("/admin/dosir/pratinjau").status_code == 403
