"""HTML → PDF/A-3b with WeasyPrint, the manifest attached as an associated file."""

from __future__ import annotations

import io
from pathlib import Path

from sop.render import MANIFEST_NAME, Rendered


def write_pdf(rendered: Rendered, target: Path) -> int:
    """Write the dossier PDF to *target*; return its page count."""
    import weasyprint  # heavy import, only when a PDF is asked for
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    font_config = FontConfiguration()
    # Only data: URIs (the diagram and the QR code) are resolved: the dossier never fetches anything.
    offline = URLFetcher(allowed_protocols={"data"})
    document = weasyprint.HTML(string=rendered.html, base_url=str(Path(__file__).parent), url_fetcher=offline).render(
        font_config=font_config
    )
    attachment = weasyprint.Attachment(
        file_obj=io.BytesIO(rendered.manifest),
        name=MANIFEST_NAME,
        description="Manifes data dokumen (JSON); SHA-256 tercantum pada kaki setiap halaman",
        relationship="Data",
    )
    document.write_pdf(
        str(target),
        pdf_variant="pdf/a-3b",
        attachments=[attachment],
        custom_metadata=True,
    )
    return len(document.pages)
