"""Fixtures for the SOP dossier tests: one signed build (PDF + DOCX) shared by the whole module set."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from config.settings import SopSettings
from sop import build_dossier, load_signer
from sop.example import example_inputs
from sop.inputs import DossierInputs
from tests.components import require


def _has_fonts() -> bool:
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":family=Noto Serif"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


@pytest.fixture(scope="session")
def tools() -> None:
    require(shutil.which("dot") is not None, "Graphviz 'dot'", "apt-get install graphviz")
    require(shutil.which("pdftotext") is not None, "pdftotext", "apt-get install poppler-utils")
    require(_has_fonts(), "Noto fonts", "apt-get install fonts-noto-core")


@pytest.fixture
def inputs() -> DossierInputs:
    return example_inputs()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-cert")


@pytest.fixture(scope="session")
def demo_signer(demo_dir: Path):
    return load_signer(SopSettings(signing_p12=""), demo_dir=demo_dir)


@pytest.fixture(scope="session")
def built(tools, demo_signer, tmp_path_factory: pytest.TempPathFactory):
    """The example dossier, signed with the demo certificate, as PDF and DOCX."""
    out = tmp_path_factory.mktemp("dossier")
    return build_dossier(
        example_inputs(), pdf_path=out / "dossier.pdf", docx_path=out / "dossier.docx", signer=demo_signer
    )


def pdf_pages(path: Path) -> list[str]:
    """The text of each page (pdftotext -layout), in order."""
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return pages


@pytest.fixture(scope="session")
def pages(built) -> list[str]:
    return pdf_pages(built.pdf_path)
