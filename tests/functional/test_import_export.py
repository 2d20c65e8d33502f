"""Importing and exporting standards through the admin pages: all or nothing; bad input is refused clearly."""

from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from remote_tuk.demo import DEMO_SCHEME
from tests.conftest import csrf_token


def _counts(app):
    from remote_tuk.extensions import db
    from remote_tuk.lsp.models import Element, Kuk, Scheme, Unit

    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Scheme, Unit, Element, Kuk))


def _upload(client, name: str, data: bytes):
    token = csrf_token(client, "/admin/skema")
    return client.post(
        "/admin/skema/impor",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _doc(code="SKM-BARU-01"):
    doc = json.loads(DEMO_SCHEME.read_text())
    doc["scheme"]["code"] = code
    return doc


def test_import_json_then_export_both_formats_round_trip(app, login_as):
    admin = login_as("admin")
    resp = _upload(admin, "baru.json", json.dumps(_doc()).encode())
    assert resp.status_code == 302
    scheme_path = resp.headers["Location"]
    page = admin.get(scheme_path).get_data(as_text=True)
    assert "Menggunakan Struktur Data" in page
    scheme_id = scheme_path.rstrip("/").rsplit("/", 1)[1]
    exported_json = admin.get(f"/admin/skema/{scheme_id}/ekspor.json")
    assert exported_json.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(exported_json.data) == _doc()
    exported_csv = admin.get(f"/admin/skema/{scheme_id}/ekspor.csv").data
    # re-import the CSV under another code: the same tree comes back
    text = exported_csv.decode().replace("SKM-BARU-01", "SKM-BARU-02")
    assert _upload(admin, "lagi.csv", text.encode()).status_code == 302
    from remote_tuk.extensions import db
    from remote_tuk.lsp import standards
    from remote_tuk.lsp.models import Scheme
    from remote_tuk.lsp.services import get_scheme

    with app.app_context():
        sid = db.session.scalar(select(Scheme.id).where(Scheme.code == "SKM-BARU-02"))
        again = json.loads(standards.to_json(get_scheme(db.session, sid)))
    assert again == _doc("SKM-BARU-02")


def test_bad_import_writes_nothing_and_names_the_line(app, login_as):
    admin = login_as("admin")
    before = _counts(app)
    doc = _doc()
    doc["scheme"]["units"][2]["elements"][1]["kuk"][0]["text"] = ""  # the very last unit: earlier ones are fine
    resp = _upload(admin, "rusak.json", json.dumps(doc, indent=2).encode())
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "scheme.units[2].elements[1].kuk[0].text" in html
    assert "baris" in html
    assert _counts(app) == before


def test_duplicate_code_conflict_writes_nothing(app, login_as):
    admin = login_as("admin")
    before = _counts(app)
    resp = _upload(admin, "demo.json", DEMO_SCHEME.read_bytes())  # the test cast already has this scheme
    assert resp.status_code == 409
    assert _counts(app) == before


def test_partial_csv_is_refused(app, login_as):
    admin = login_as("admin")
    before = _counts(app)
    csv_text = "scheme_code,scheme_title,unit_code\nSKM-X,Skema X,J.1"
    resp = _upload(admin, "partial.csv", csv_text.encode())
    assert resp.status_code == 422
    assert "element_number" in resp.get_data(as_text=True)
    assert _counts(app) == before


def test_missing_file_and_wrong_type(login_as):
    admin = login_as("admin")
    token = csrf_token(admin, "/admin/skema")
    assert admin.post("/admin/skema/impor", data={"csrf_token": token}).status_code == 422
    assert _upload(admin, "skema.pdf", b"%PDF-1.7").status_code == 422


def test_oversized_body_is_413(app, login_as):
    admin = login_as("admin")
    limit = app.config["MAX_CONTENT_LENGTH"]
    resp = _upload(admin, "besar.json", b" " * (limit + 1))
    assert resp.status_code == 413
    api = admin.post("/api/v1/sessions/abc/transition", data=b"x" * (limit + 1), content_type="application/json")
    assert api.status_code == 413
    assert api.get_json()["error"] == "request_entity_too_large"


def test_unknown_export_format_and_scheme(login_as, cast):
    admin = login_as("admin")
    assert admin.get(f"/admin/skema/{cast.scheme_id}/ekspor.xml").status_code == 404
    assert admin.get("/admin/skema/999999").status_code == 404
