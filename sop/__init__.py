"""SOP dossier generator for BNSP (SE.011/BNSP/IV/2020 D.2.C): typed inputs → Jinja HTML → PDF/A-3b + DOCX, signed.

A library with no web layer: the web app (or the CLI, ``python -m sop``) gathers the facts into
:class:`~sop.inputs.DossierInputs` and calls :func:`build_dossier`.
"""

from sop.build import DossierResult, build_dossier
from sop.inputs import DossierInputs, EvidenceFacts
from sop.missing import MissingFact, MissingFactsError, missing_facts
from sop.render import SECTIONS
from sop.sign import DossierSigner, SignatureCheck, SigningError, load_signer, sign_pdf, verify_pdf_signature

__all__ = [
    "SECTIONS",
    "DossierInputs",
    "DossierResult",
    "DossierSigner",
    "EvidenceFacts",
    "MissingFact",
    "MissingFactsError",
    "SignatureCheck",
    "SigningError",
    "build_dossier",
    "load_signer",
    "missing_facts",
    "sign_pdf",
    "verify_pdf_signature",
]
