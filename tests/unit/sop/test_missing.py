"""Missing facts: a list of what to fill in (Indonesian, with a machine key), and no file."""

from __future__ import annotations

import pytest

from sop import MissingFactsError, build_dossier, missing_facts
from sop.inputs import DossierInputs


def test_the_example_is_complete(inputs):
    assert missing_facts(inputs) == []


def test_empty_inputs_list_everything_to_fill_in():
    keys = {fact.key: fact.message for fact in missing_facts(DossierInputs())}
    for key in [
        "meta.letter_number",
        "lsp.name",
        "lsp.licence_number",
        "lsp.licence_type",
        "lsp.director.name",
        "schemes",
        "tuk_profile",
        "evidence.encryption_algorithm",
        "evidence.retention_days",
        "evidence.verifier_key",
        "roles",
        "access_rules",
        "personnel.assessors",
        "deployment.server_location",
        "deployment.backup",
    ]:
        assert key in keys, key
    assert keys["lsp.licence_number"] == "Isi nomor SK lisensi LSP dari BNSP."


def test_assessor_without_met_number_and_unknown_role_are_reported(inputs):
    inputs.personnel.assessors[1].met_number = None
    inputs.access_rules[0].roles.append("penguji")
    keys = [fact.key for fact in missing_facts(inputs)]
    assert keys == ["access_rules[0].roles", "personnel.assessors[1].met_number"]


def test_build_refuses_and_writes_no_file(inputs, tmp_path):
    inputs.lsp.licence_number = "  "
    inputs.evidence.retention_days = None
    pdf, docx = tmp_path / "d.pdf", tmp_path / "d.docx"
    with pytest.raises(MissingFactsError) as info:
        build_dossier(inputs, pdf_path=pdf, docx_path=docx)
    assert [f.key for f in info.value.missing] == ["lsp.licence_number", "evidence.retention_days"]
    assert "nomor SK lisensi" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_expired_licence_uncovered_scheme_and_failed_trial_are_reported(inputs):
    import datetime as dt

    inputs.lsp.licence_valid_until = dt.date(2026, 1, 1)
    for assessor in inputs.personnel.assessors:
        assessor.schemes = [code for code in assessor.schemes if code != "SKM-TDN-NA-02"]
    inputs.trial_session.verification_ok = False
    keys = [fact.key for fact in missing_facts(inputs)]
    assert keys == ["lsp.licence_valid_until", "schemes[1].assessors", "trial_session.verification_ok"]
