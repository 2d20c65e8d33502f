"""PAdES signature of the dossier PDF with pyHanko, and its verification.

The LSP's key and certificate come from the PKCS#12 file named in settings (``RTUK_SOP_SIGNING_P12``). When none is
configured, a self-signed DEMO certificate is generated once and cached in a directory the caller passes; a dossier
signed with it says so on its cover, in every header and in its appendix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.settings import SopSettings

DEMO_P12_NAME = "demo-dossier-signer.p12"
DEMO_COMMON_NAME = "DEMO penanda tangan dokumen SOP (sertifikat uji, tidak sah)"


class SigningError(RuntimeError):
    """The signing key could not be loaded or the PDF could not be signed."""


@dataclass(frozen=True)
class DossierSigner:
    """A loaded signing key: pyHanko's signer, and whether it is the self-signed demo certificate."""

    signer: Any  # pyhanko.sign.signers.SimpleSigner
    demo: bool
    subject: str
    p12_path: Path

    @property
    def certificate(self) -> Any:
        return self.signer.signing_cert


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_demo_p12(directory: Path) -> Path:
    """The cached demo PKCS#12, generated on first use.

    One file, written atomically with mode 0600 and no passphrase (it is a throw-away demo key), so two processes
    generating it at once cannot leave a key and a password that do not belong together.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    p12_path = directory / DEMO_P12_NAME
    if p12_path.is_file():
        return p12_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEMO_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DEMO remote-tuk"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(b"demo-dossier-signer", key, cert, None, serialization.NoEncryption())
    _write_private(p12_path, data)
    return p12_path


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """pyHanko logs failures it also reports (as None or a status) with a traceback; we report them ourselves."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _load_p12(path: Path, password: bytes | None, *, demo: bool) -> DossierSigner:
    from pyhanko.sign import signers

    if not path.is_file():
        raise SigningError(f"Berkas PKCS#12 penanda tangan tidak ditemukan: {path}")
    with _quiet("pyhanko.sign.signers"):
        signer = signers.SimpleSigner.load_pkcs12(str(path), passphrase=password)
    if signer is None:
        raise SigningError(f"Berkas PKCS#12 {path} tidak dapat dibuka (kata sandi salah atau berkas rusak).")
    subject = signer.signing_cert.subject.human_friendly
    return DossierSigner(signer=signer, demo=demo, subject=subject, p12_path=path)


def load_signer(settings: SopSettings | None = None, *, demo_dir: Path | str | None = None) -> DossierSigner:
    """The LSP's signer from settings, or the cached demo signer under *demo_dir* when no PKCS#12 is configured."""
    settings = settings if settings is not None else SopSettings()
    if settings.signing_p12:
        password = settings.signing_p12_password.encode("utf-8") if settings.signing_p12_password else None
        return _load_p12(Path(settings.signing_p12), password, demo=False)
    if demo_dir is None:
        raise SigningError(
            "RTUK_SOP_SIGNING_P12 tidak diatur dan tidak ada direktori untuk sertifikat DEMO (demo_dir)."
        )
    path = ensure_demo_p12(Path(demo_dir))
    try:
        return _load_p12(path, None, demo=True)
    except SigningError:
        # A throw-away demo key that cannot be read (damaged, or from an older format) is simply made again.
        path.unlink(missing_ok=True)
        return _load_p12(ensure_demo_p12(Path(demo_dir)), None, demo=True)


def sign_pdf(
    src: Path | str,
    dst: Path | str | None = None,
    *,
    signer: DossierSigner | None = None,
    settings: SopSettings | None = None,
    demo_dir: Path | str | None = None,
    reason: str = "Dokumen permohonan asesmen jarak jauh kepada BNSP",
    location: str | None = None,
) -> Path:
    """Sign *src* (PAdES, incremental update, so PDF/A and the attachment stay) into *dst* (default: in place).

    Without *signer*, the key is loaded with :func:`load_signer` from *settings* (the PKCS#12 in ``RTUK_SOP_*``), or the
    demo certificate under *demo_dir*. Note that only :func:`sop.build_dossier` can label a dossier as DEMO-signed.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    if signer is None:
        signer = load_signer(settings, demo_dir=demo_dir)

    src, dst = Path(src), Path(dst) if dst is not None else Path(src)
    meta = signers.PdfSignatureMetadata(
        field_name="TandaTanganLSP",
        reason=("DEMO (sertifikat uji, tidak sah): " + reason) if signer.demo else reason,
        location=location,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name + ".", suffix=".tmp")
    try:
        with open(src, "rb") as inf, os.fdopen(fd, "wb") as outf:
            writer = IncrementalPdfFileWriter(inf, strict=False)
            signers.sign_pdf(writer, meta, signer=signer.signer, output=outf)
        os.replace(tmp, dst)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SigningError(f"Penandatanganan PDF gagal: {exc}") from exc
    return dst


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking a dossier's signature."""

    valid: bool
    intact: bool = False
    covers_whole_file: bool = False
    trusted: bool = False
    demo: bool = False
    signer_subject: str | None = None
    error: str | None = None


def verify_pdf_signature(path: Path | str, *, trust_roots: list[Any] | None = None) -> SignatureCheck:
    """Check the dossier's signature: the signed bytes are intact, the signature is valid and covers the whole file.

    ``trusted`` is True only when the signer's certificate chains to one of *trust_roots* (asn1crypto or
    cryptography certificates); a demo certificate is never trusted unless passed here.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    roots = [_to_asn1(c) for c in (trust_roots or [])]
    # pyHanko logs an untrusted (e.g. self-signed demo) certificate as a warning with a traceback; the outcome is
    # reported in ``trusted`` instead.
    try:
        with open(path, "rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            sigs = reader.embedded_signatures
            if not sigs:
                return SignatureCheck(valid=False, error="PDF tidak memuat tanda tangan elektronik.")
            sig = sigs[-1]
            # Only the roots given are trusted (never the operating system's list); nothing is fetched.
            context = ValidationContext(trust_roots=roots, allow_fetching=False)
            with _quiet("pyhanko.sign.validation"):
                status = validate_pdf_signature(sig, context)
            subject = status.signing_cert.subject.human_friendly if status.signing_cert is not None else None
            whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
            ok = bool(status.intact and status.valid and whole)
            return SignatureCheck(
                valid=ok,
                intact=bool(status.intact),
                covers_whole_file=whole,
                trusted=bool(status.trusted),
                demo=bool(subject and "DEMO" in subject),
                signer_subject=subject,
                error=None if ok else "Tanda tangan tidak valid atau berkas telah diubah setelah ditandatangani.",
            )
    except Exception as exc:  # noqa: BLE001 - a corrupted file can fail anywhere in parsing
        return SignatureCheck(valid=False, error=f"Tanda tangan tidak dapat diperiksa: {exc}")


def _to_asn1(cert: Any) -> Any:
    from asn1crypto import x509 as asn1_x509

    if isinstance(cert, asn1_x509.Certificate):
        return cert
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
