"""Inputs → manifest → Jinja HTML (the single source of the dossier's text; the DOCX is converted from it)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jinja2
import segno

from sop.diagram import Diagram, render_architecture
from sop.inputs import DossierInputs
from sop.tuk import requirement_rows

GENERATOR = "remote-tuk sop 1.0"
MANIFEST_FORMAT = "remote-tuk/sop-dossier-manifest"
MANIFEST_NAME = "manifest.json"

#: The dossier's chapters, in order: (id, title). The TOC, the DOCX and the tests all read this list.
SECTIONS: list[tuple[str, str]] = [
    ("permohonan", "Surat Permohonan"),
    ("dasar-hukum", "Dasar Hukum dan Acuan"),
    ("profil", "Profil LSP dan Ruang Lingkup Skema"),
    ("sop-layanan", "SOP Layanan Sertifikasi Jarak Jauh"),
    ("sop-asesmen", "SOP Pelaksanaan Asesmen Jarak Jauh"),
    ("sop-tuk", "SOP Verifikasi TUK Jarak Jauh"),
    ("sop-banding", "SOP Banding Jarak Jauh"),
    ("sistem-ti", "Uraian Sistem Teknologi Informasi"),
    ("matriks", "Matriks Ketertelusuran dan Kerahasiaan"),
    ("pdp", "Pelindungan Data Pribadi"),
    ("risiko", "Register Risiko dan Rencana Kontinjensi"),
    ("pernyataan", "Pernyataan"),
    ("lampiran", "Lampiran: Manifes dan Verifikasi Dokumen"),
]

_MONTHS = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
]  # fmt: skip

_LICENCE = {
    "pihak_kesatu": "LSP Pihak Kesatu (P1)",
    "pihak_kedua": "LSP Pihak Kedua (P2)",
    "pihak_ketiga": "LSP Pihak Ketiga (P3)",
}


@dataclass(frozen=True)
class SigningLabel:
    """What the dossier says about its own electronic signature."""

    signed: bool
    demo: bool = False
    subject: str | None = None


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def build_manifest(inputs: DossierInputs, diagram: Diagram, signing: SigningLabel) -> tuple[bytes, str]:
    """The machine-readable manifest (canonical JSON bytes) and its SHA-256 in hex."""
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": 1,
        "generator": GENERATOR,
        "dossier_version": inputs.meta.version,
        "sections": [{"id": sid, "title": title} for sid, title in SECTIONS],
        "inputs": inputs.model_dump(mode="json"),
        "diagram": {"format": "graphviz-dot", "sha256": hashlib.sha256(diagram.dot.encode("utf-8")).hexdigest()},
        "signature": {"signed": signing.signed, "demo_certificate": signing.demo, "subject": signing.subject},
    }
    raw = canonical_json(manifest)
    return raw, hashlib.sha256(raw).hexdigest()


# ---- formatting helpers used by the templates -------------------------------------------------------------------


def fmt_date(value: dt.date | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def fmt_int(value: int | float | None) -> str:
    if value is None:
        return ""
    return f"{value:,}".replace(",", ".")


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return ""
    if value % (1024 * 1024) == 0:
        return f"{value // (1024 * 1024)} MiB ({fmt_int(value)} bita)"
    if value % 1024 == 0:
        return f"{value // 1024} KiB ({fmt_int(value)} bita)"
    return f"{fmt_int(value)} bita"


def fmt_days(value: int | None) -> str:
    if value is None:
        return ""
    text = f"{fmt_int(value)} hari"
    if value % 365 == 0:
        text += f" ({value // 365} tahun)"
    return text


def sentence(value: str | None) -> str:
    """*value* ending with exactly one full stop."""
    text = (value or "").rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


#: Fixed phrases the evidence library reports in English, in Indonesian. Anything else is printed as reported.
_TERMS = {
    "settings": "dari pengaturan server (RTUK_EVIDENCE_KEK), disimpan terpisah dari data",
    "generated under the data dir": "dibuat otomatis di direktori data (konfigurasi pengembangan)",
    "fresh random per object": "kunci data acak baru untuk setiap objek",
    "canonical JSON, one line per entry": "JSON kanonis, satu baris per entri",
    "object header (object id, session id, type, key id, nonce prefix)": (
        "header objek (id objek, id sesi, jenis, id kunci, awalan nonce)"
    ),
    "7-byte random prefix || uint32 chunk index || last-chunk flag (96 bits)": (
        "awalan acak 7 bita || indeks potongan (uint32) || penanda potongan terakhir (96 bit)"
    ),
    "SHA-256(32-byte random salt || plaintext), salt stored wrapped with the data key": (
        "SHA-256(salt acak 32 bita || isi), salt disimpan terbungkus kunci data"
    ),
}


def term(value: object) -> str:
    text = "" if value is None else str(value)
    return _TERMS.get(text, text)


def licence_label(value: str | None) -> str:
    return _LICENCE.get(value or "", "")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sop", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        term=term, sentence=sentence, date=fmt_date, int=fmt_int, bytes=fmt_bytes, days=fmt_days, licence=licence_label
    )
    return env


_ENV: jinja2.Environment | None = None


def env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return _ENV


def qr_data_uri(text: str) -> str:
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2)


def svg_data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@dataclass(frozen=True)
class Rendered:
    html: str
    manifest: bytes
    manifest_sha256: str
    diagram: Diagram


def render_html(inputs: DossierInputs, signing: SigningLabel, *, png: bool = True) -> Rendered:
    """Render the whole dossier as one HTML document (for WeasyPrint, the browser preview and the DOCX)."""
    diagram = render_architecture(inputs, png=png)
    manifest, digest = build_manifest(inputs, diagram, signing)
    assert inputs.tuk_profile is not None  # guaranteed by missing_facts()
    context = {
        "i": inputs,
        "meta": inputs.meta,
        "lsp": inputs.lsp,
        "schemes": inputs.schemes,
        "ev": inputs.evidence,
        "dep": inputs.deployment,
        "cap": inputs.capabilities,
        "tuk": inputs.tuk_profile,
        "tuk_rows": requirement_rows(inputs.tuk_profile),
        "roles": inputs.roles,
        "role_names": {r.key: r.name for r in inputs.roles},
        "rules": inputs.access_rules,
        "staff": inputs.personnel,
        "trial": inputs.trial_session,
        "trials": inputs.candidate_trials,
        "sections": SECTIONS,
        "title": dict(SECTIONS),
        "num": {sid: n for n, (sid, _) in enumerate(SECTIONS, start=1)},
        "hash": digest,
        "qr_uri": qr_data_uri(digest),
        "diagram_uri": svg_data_uri(diagram.svg),
        "signing": signing,
        "manifest_name": MANIFEST_NAME,
        "generator": GENERATOR,
    }
    html = env().get_template("dossier.html.j2").render(**context)
    return Rendered(html=html, manifest=manifest, manifest_sha256=digest, diagram=diagram)
