"""Signing with the LSP's PKCS#12 from settings, and the cached demo certificate."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from config.settings import SopSettings
from sop import SigningError, build_dossier, load_signer, sign_pdf, verify_pdf_signature


@pytest.fixture
def lsp_p12(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LSP Teknologi Digital Nusantara")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = tmp_path / "lsp.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"lsp", key, cert, None, serialization.BestAvailableEncryption(b"rahasia")
        )
    )
    return path, cert


@pytest.fixture(scope="module")
def unsigned_pdf(tools, tmp_path_factory):
    from sop.example import example_inputs

    return build_dossier(example_inputs(), pdf_path=tmp_path_factory.mktemp("plain") / "plain.pdf").pdf_path


def test_demo_certificate_is_generated_once_and_cached(demo_dir, demo_signer):
    again = load_signer(SopSettings(signing_p12=""), demo_dir=demo_dir)
    assert again.demo and demo_signer.demo
    assert again.certificate.serial_number == demo_signer.certificate.serial_number
    assert "DEMO" in again.subject
    assert again.p12_path.parent == demo_dir
    assert again.p12_path.stat().st_mode & 0o777 == 0o600


def test_no_p12_and_no_demo_dir_is_refused():
    with pytest.raises(SigningError):
        load_signer(SopSettings(signing_p12=""))


def test_wrong_password_or_missing_file_is_a_clear_error(lsp_p12, tmp_path):
    path, _ = lsp_p12
    with pytest.raises(SigningError):
        load_signer(SopSettings(signing_p12=str(tmp_path / "nope.p12")))
    with pytest.raises(SigningError):
        load_signer(SopSettings(signing_p12=str(path), signing_p12_password="salah"))


def test_lsp_certificate_from_settings_signs_without_demo_label(inputs, lsp_p12, unsigned_pdf, tmp_path):
    path, cert = lsp_p12
    signer = load_signer(SopSettings(signing_p12=str(path), signing_p12_password="rahasia"))
    assert not signer.demo
    html = build_dossier(inputs, html_only=True, signer=signer).html
    assert "sertifikat DEMO" not in html

    assert verify_pdf_signature(unsigned_pdf).error == "PDF tidak memuat tanda tangan elektronik."
    signed = sign_pdf(unsigned_pdf, tmp_path / "signed.pdf", signer=signer)
    check = verify_pdf_signature(signed, trust_roots=[cert])
    assert check.valid and check.trusted and not check.demo
    assert "LSP Teknologi Digital Nusantara" in check.signer_subject


def test_sign_pdf_loads_the_key_from_settings_when_no_signer_is_given(lsp_p12, unsigned_pdf, tmp_path):
    path, cert = lsp_p12
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(unsigned_pdf.read_bytes())
    settings = SopSettings(signing_p12=str(path), signing_p12_password="rahasia")
    signed = sign_pdf(copy, settings=settings)
    assert signed == copy
    assert verify_pdf_signature(signed, trust_roots=[cert]).trusted


def test_an_unreadable_demo_key_is_made_again(tmp_path):
    from sop.sign import DEMO_P12_NAME

    (tmp_path / DEMO_P12_NAME).write_bytes(b"not a PKCS#12 file")
    signer = load_signer(SopSettings(signing_p12=""), demo_dir=tmp_path)
    assert signer.demo
