"""Build the dossier: check the facts, render, write PDF/A-3b and DOCX, sign."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sop.inputs import DossierInputs
from sop.missing import MissingFactsError, missing_facts
from sop.render import SigningLabel, render_html
from sop.sign import DossierSigner, sign_pdf


@dataclass(frozen=True)
class DossierResult:
    """What a build produced. ``manifest`` is the exact JSON attached to the PDF; its SHA-256 is in every footer."""

    html: str
    manifest: bytes
    manifest_sha256: str
    pdf_path: Path | None = None
    docx_path: Path | None = None
    page_count: int | None = None
    signed: bool = False
    demo_signature: bool = False


def build_dossier(
    inputs: DossierInputs,
    *,
    pdf_path: Path | str | None = None,
    docx_path: Path | str | None = None,
    html_only: bool = False,
    signer: DossierSigner | None = None,
    docx_template: Path | str | None = None,
) -> DossierResult:
    """Build the dossier from *inputs*.

    Raises :class:`MissingFactsError` (carrying the list) before anything is written when a fact is missing. With
    ``html_only`` only the preview HTML and the manifest are produced. The PDF is signed when *signer* is given; a
    demo signer labels the dossier as signed with a DEMO certificate. Files appear whole or not at all.
    """
    missing = missing_facts(inputs)
    if missing:
        raise MissingFactsError(missing)
    # The preview says what the signed PDF will say, so its manifest hash is the one the PDF will carry.
    signing = SigningLabel(
        signed=signer is not None and (html_only or pdf_path is not None or docx_path is None),
        demo=bool(signer and signer.demo),
        subject=signer.subject if signer else None,
    )
    rendered = render_html(inputs, signing, png=docx_path is not None and not html_only)
    if html_only or (pdf_path is None and docx_path is None):
        return DossierResult(html=rendered.html, manifest=rendered.manifest, manifest_sha256=rendered.manifest_sha256)

    pdf_out = Path(pdf_path) if pdf_path is not None else None
    docx_out = Path(docx_path) if docx_path is not None else None
    pages = None
    if pdf_out is not None:
        from sop.pdf import write_pdf

        pdf_out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=pdf_out.parent, prefix=pdf_out.name + ".", suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            pages = write_pdf(rendered, tmp)
            if signer is not None:
                sign_pdf(tmp, pdf_out, signer=signer, location=inputs.meta.place)
            else:
                os.replace(tmp, pdf_out)
        finally:
            tmp.unlink(missing_ok=True)
    if docx_out is not None:
        from sop.docx import write_docx

        docx_out.parent.mkdir(parents=True, exist_ok=True)
        write_docx(
            rendered, inputs, signing, docx_out, template=Path(docx_template) if docx_template is not None else None
        )
    return DossierResult(
        html=rendered.html,
        manifest=rendered.manifest,
        manifest_sha256=rendered.manifest_sha256,
        pdf_path=pdf_out,
        docx_path=docx_out,
        page_count=pages,
        signed=signing.signed,
        demo_signature=signing.demo,
    )
