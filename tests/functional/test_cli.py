"""Operator CLI: import/export of standards and user creation, with clear errors and non-zero exits."""

from __future__ import annotations

import json

from remote_tuk.demo import DEMO_SCHEME


def test_import_export_round_trip(app, tmp_path):
    doc = json.loads(DEMO_SCHEME.read_text())
    doc["scheme"]["code"] = "SKM-CLI-01"
    src = tmp_path / "skema.json"
    src.write_text(json.dumps(doc, ensure_ascii=False))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-standard", str(src)])
    assert result.exit_code == 0, result.output
    assert "SKM-CLI-01" in result.output and "20 KUK" in result.output
    exported = runner.invoke(args=["export-standard", "SKM-CLI-01"])
    assert json.loads(exported.output) == doc
    csv_out = runner.invoke(args=["export-standard", "SKM-CLI-01", "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("scheme_code,scheme_title")


def test_bad_import_exits_non_zero_with_lines(app, tmp_path):
    src = tmp_path / "rusak.csv"
    src.write_text(
        "scheme_code,scheme_title,unit_code,unit_title,element_number,element_title,kuk_number,kuk_text\n"
        "S-1,Skema,J.1,Unit,1,Elemen,1.1,\n"
    )
    result = app.test_cli_runner().invoke(args=["import-standard", str(src)])
    assert result.exit_code != 0
    assert "baris 2: kuk_text: wajib diisi" in result.output


def test_unknown_export_and_bad_user(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["export-standard", "TIDAK-ADA"]).exit_code != 0
    result = runner.invoke(
        args=["create-user", "--username", "ases", "--name", "A", "--role", "asesor"],
        input="Kata-Sandi-Panjang-1\nKata-Sandi-Panjang-1\n",
    )
    assert result.exit_code != 0
    assert "MET" in result.output
    ok = runner.invoke(
        args=["create-user", "--username", "ases", "--name", "A", "--role", "asesor", "--met", "MET.1"],
        input="Kata-Sandi-Panjang-1\nKata-Sandi-Panjang-1\n",
    )
    assert ok.exit_code == 0, ok.output
