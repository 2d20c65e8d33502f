"""python -m sop: example-inputs, build from JSON or from the configured facts provider, missing facts, verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sop.__main__ import main
from sop.inputs import DossierInputs
from sop.missing import missing_facts

ROOT = Path(__file__).resolve().parents[3]


def test_example_inputs_prints_complete_json():
    out = subprocess.run(
        [sys.executable, "-m", "sop", "example-inputs"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    inputs = DossierInputs.model_validate(json.loads(out))
    assert missing_facts(inputs) == []
    assert inputs.lsp.licence_number == "BNSP-LSP-1187-ID"


def test_build_from_inputs_json_writes_signed_pdf_and_docx(tools, inputs, tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(inputs.model_dump_json(), encoding="utf-8")
    pdf, docx = tmp_path / "out" / "dossier.pdf", tmp_path / "out" / "dossier.docx"
    code = main(["build", "--out", str(pdf), "--docx", str(docx), "--inputs", str(facts),
                 "--demo-cert-dir", str(tmp_path / "cert")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert pdf.is_file() and docx.is_file()
    assert "sertifikat DEMO" in out
    assert main(["verify", str(pdf)]) == 0
    assert sorted(p.name for p in pdf.parent.iterdir()) == ["dossier.docx", "dossier.pdf"]  # no temp files left


def test_missing_facts_print_the_list_exit_non_zero_and_write_nothing(inputs, tmp_path, capsys):
    inputs.lsp.licence_number = None
    inputs.personnel.assessors[0].met_number = ""
    facts = tmp_path / "facts.json"
    facts.write_text(inputs.model_dump_json(), encoding="utf-8")
    pdf = tmp_path / "dossier.pdf"
    code = main(["build", "--out", str(pdf), "--inputs", str(facts), "--no-sign"])
    err = capsys.readouterr().err
    assert code == 1
    assert "[lsp.licence_number] Isi nomor SK lisensi LSP dari BNSP." in err
    assert "[personnel.assessors[0].met_number]" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["facts.json"]


def test_provider_from_settings_is_loaded_by_name(monkeypatch, capsys):
    monkeypatch.setenv("RTUK_SOP_FACTS_PROVIDER", "tests.unit.sop.fake_provider:collect_inputs")
    assert main(["missing"]) == 0


def test_unloadable_or_failing_provider_exits_with_a_clear_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RTUK_SOP_FACTS_PROVIDER", "tidak_ada.modul:collect_inputs")
    assert main(["build", "--out", str(tmp_path / "d.pdf"), "--no-sign"]) == 2
    assert "Modul penyedia fakta 'tidak_ada.modul' tidak dapat dimuat" in capsys.readouterr().err

    monkeypatch.setenv("RTUK_SOP_FACTS_PROVIDER", "tests.unit.sop.fake_provider:broken")
    assert main(["build", "--out", str(tmp_path / "d.pdf"), "--no-sign"]) == 2
    assert "basis data tidak tersedia" in capsys.readouterr().err

    monkeypatch.setenv("RTUK_SOP_FACTS_PROVIDER", "tanpa-titik-dua")
    assert main(["build", "--out", str(tmp_path / "d.pdf"), "--no-sign"]) == 2
    assert "modul:fungsi" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_invalid_json_inputs_exit_2(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text('{"lsp": {"licence_type": "pihak_keempat"}}', encoding="utf-8")
    assert main(["build", "--out", str(tmp_path / "d.pdf"), "--inputs", str(facts), "--no-sign"]) == 2
    assert "licence_type" in capsys.readouterr().err


def test_preview_writes_self_contained_html(inputs, tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text(inputs.model_dump_json(), encoding="utf-8")
    out = tmp_path / "preview.html"
    assert main(["preview", "--out", str(out), "--inputs", str(facts)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "Uraian Sistem Teknologi Informasi" in html
    assert "data:image/svg+xml;base64," in html
    assert "http://" not in html.replace("http://www.w3.org", "")


def test_missing_facts_exit_1_from_a_real_process(tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text("{}", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "sop", "build", "--out", str(tmp_path / "d.pdf"), "--inputs", str(facts), "--no-sign"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "[lsp.licence_number]" in proc.stderr
    assert not (tmp_path / "d.pdf").exists()


def test_schema_describes_the_inputs(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"lsp", "schemes", "tuk_profile", "evidence", "capabilities"} <= set(schema["properties"])
