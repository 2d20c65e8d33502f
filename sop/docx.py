"""The editable DOCX: a docxtpl Word template (cover, running footer) whose body is converted from the dossier HTML.

The HTML is the one source of the text, so the PDF and the DOCX never say different things. The default template is
built here with python-docx; an LSP may pass its own ``.docx`` template with the same placeholders
(``{{ lsp_name }}``, ``{{ letter_number }}``, ``{{ date }}``, ``{{ manifest_sha256 }}``, ``{{ signature_note }}``,
``{{p body }}``).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

from sop.inputs import DossierInputs
from sop.render import Rendered, SigningLabel, fmt_date

_TEMPLATE_CACHE: bytes | None = None


def _field(paragraph: Any, instruction: str, placeholder: str = "1") -> None:
    """Append a Word field (PAGE, NUMPAGES) to *paragraph*."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def fld(kind: str) -> Any:
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        return el

    run = paragraph.add_run()
    run._r.append(fld("begin"))
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    run._r.append(fld("separate"))
    text = OxmlElement("w:t")
    text.text = placeholder
    run._r.append(text)
    run._r.append(fld("end"))


def default_template() -> bytes:
    """The default Word template, built with python-docx (cached)."""
    global _TEMPLATE_CACHE
    if _TEMPLATE_CACHE is not None:
        return _TEMPLATE_CACHE
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin, section.right_margin = Cm(2.2), Cm(2.0)
    section.top_margin, section.bottom_margin = Cm(2.4), Cm(2.2)
    normal = doc.styles["Normal"]
    normal.font.name = "Noto Serif"
    normal.font.size = Pt(10)
    for name in ("Heading 1", "Heading 2", "Heading 3", "Title"):
        doc.styles[name].font.name = "Noto Sans"
        doc.styles[name].font.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)

    def centered(text: str, size: int, bold: bool = False) -> None:
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(text)
        run.font.size = Pt(size)
        run.bold = bold

    centered("{{ lsp_name }}", 14, bold=True)
    centered("Nomor lisensi BNSP: {{ licence_number }}", 10)
    doc.add_paragraph()
    centered("Dokumen Permohonan Asesmen Jarak Jauh", 20, bold=True)
    centered("Standar Prosedur Operasional (SOP) Asesmen Jarak Jauh dan Uraian Sistem Teknologi Informasi", 12)
    centered("sesuai Surat Edaran BNSP Nomor SE.011/BNSP/IV/2020 butir D.2", 12)
    doc.add_paragraph()
    centered("Nomor surat: {{ letter_number }}", 10)
    centered("Tanggal: {{ date }}", 10)
    centered("Versi dokumen: {{ version }}", 10)
    doc.add_paragraph()
    centered("{{ qr }}", 10)
    centered("SHA-256 manifes data: {{ manifest_sha256 }}", 8)
    centered("{{ signature_note }}", 9, bold=True)
    centered("Versi DOCX ini dapat disunting. Versi resmi adalah berkas PDF bertanda tangan elektronik.", 8)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_heading("Daftar Isi", level=1).style = doc.styles["Title"]
    toc = doc.add_paragraph()
    _field(toc, 'TOC \\o "1-1" \\h \\z', placeholder="Perbarui bidang (F9) untuk menampilkan daftar isi.")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_paragraph("{{p body }}")
    # Word recomputes the table of contents and page fields when the document is opened.
    settings = doc.settings.element
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    settings.append(update)

    footer = section.footer.paragraphs[0]
    footer.text = "SHA-256 manifes: {{ manifest_sha256 }}    Halaman "
    _field(footer, "PAGE")
    footer.add_run(" dari ")
    _field(footer, "NUMPAGES")
    for run in footer.runs:
        run.font.size = Pt(7)
    header = section.header.paragraphs[0]
    header.text = "{{ lsp_name }}{{ header_note }}"
    header.runs[0].font.size = Pt(7.5)

    buf = io.BytesIO()
    doc.save(buf)
    _TEMPLATE_CACHE = buf.getvalue()
    return _TEMPLATE_CACHE


# ---- HTML → python-docx ------------------------------------------------------------------------------------------


def _text(el: Any) -> str:
    """Plain text of *el*, whitespace collapsed, checkboxes as ☐."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        parts.append(node.text or "")
        for child in node:
            if isinstance(child.tag, str):
                if "box" in (child.get("class") or ""):
                    parts.append("☐")
                elif child.tag != "br":
                    walk(child)
                else:
                    parts.append(" ")
            parts.append(child.tail or "")

    walk(el)
    return " ".join("".join(parts).split())


def _inline(paragraph: Any, el: Any, *, bold: bool = False, italic: bool = False, mono: bool = False) -> None:
    """Add *el*'s text to *paragraph* as runs, keeping bold/italic/monospace."""

    runs: list[Any] = []

    def add(text: str | None, b: bool, i: bool, m: bool) -> None:
        if not text:
            return
        text = re.sub(r"\s+", " ", text)  # HTML whitespace: one space, kept at the edges between runs
        if not runs or runs[-1].text.endswith((" ", "\n")):
            text = text.lstrip(" ")
        if not text:
            return
        run = paragraph.add_run(text)
        runs.append(run)
        run.bold = b or None
        run.italic = i or None
        if m:
            run.font.name = "DejaVu Sans Mono"

    def walk(node: Any, b: bool, i: bool, m: bool) -> None:
        add(node.text, b, i, m)
        for child in node:
            if not isinstance(child.tag, str):
                add(child.tail, b, i, m)
                continue
            cls = child.get("class") or ""
            if child.tag == "br":
                runs.append(paragraph.add_run())
                runs[-1].add_break()
            elif "box" in cls:
                runs.append(paragraph.add_run("☐"))
            elif child.tag in ("ul", "ol"):
                for n, li in enumerate(child.findall("li"), start=1):
                    runs.append(paragraph.add_run())
                    runs[-1].add_break()
                    runs.append(paragraph.add_run(("• " if child.tag == "ul" else f"{n}. ") + _text(li)))
            else:
                walk(
                    child,
                    b or child.tag in ("strong", "b", "th"),
                    i or child.tag in ("em", "i"),
                    m or "mono" in cls,
                )
            add(child.tail, b, i, m)

    walk(el, bold, italic, mono or "mono" in (el.get("class") or ""))
    if runs and runs[-1].text.endswith(" "):
        runs[-1].text = runs[-1].text.rstrip(" ")


class _Converter:
    def __init__(self, doc: Any, diagram_png: bytes):
        self.doc = doc
        self.diagram_png = diagram_png

    def block(self, el: Any) -> None:
        from docx.shared import Cm, Pt

        tag, cls = el.tag, el.get("class") or ""
        if not isinstance(tag, str):
            return
        if tag in ("h1", "h2", "h3"):
            self.doc.add_heading(_text(el), level=int(tag[1]))
        elif tag == "p":
            p = self.doc.add_paragraph()
            _inline(p, el)
            if "note" in cls:
                for run in p.runs:
                    run.font.size = Pt(8.5)
        elif tag in ("ul", "ol"):
            for n, li in enumerate(el.findall("li"), start=1):
                p = self.doc.add_paragraph()
                p.paragraph_format.left_indent = Cm(0.8)
                p.paragraph_format.first_line_indent = Cm(-0.6)
                p.add_run("•\t" if tag == "ul" else f"{n}.\t")
                _inline(p, li)
        elif tag == "table":
            self.table(el)
        elif tag == "div" and "diagram" in cls:
            if self.diagram_png:
                self.doc.add_picture(io.BytesIO(self.diagram_png), width=Cm(16))
        elif tag == "div" and "space" in cls:
            self.doc.add_paragraph()
            self.doc.add_paragraph()
        elif tag == "div":
            children = [c for c in el if isinstance(c.tag, str)]
            if children and any(c.tag in ("div", "p", "table", "ul", "ol") for c in children):
                if el.text and el.text.strip():
                    self.doc.add_paragraph(el.text.strip())
                for child in children:
                    self.block(child)
            else:
                p = self.doc.add_paragraph()
                _inline(p, el)
                if "signature" in (el.getparent().get("class") or ""):
                    p.paragraph_format.left_indent = Cm(9)

    def table(self, el: Any) -> None:
        from docx.shared import Mm, Pt

        rows = el.findall(".//tr")
        if not rows:
            return
        ncols = max(sum(int(c.get("colspan", "1")) for c in row if c.tag in ("td", "th")) for row in rows)
        widths = _column_widths(rows, ncols)
        table = self.doc.add_table(rows=len(rows), cols=ncols)
        table.autofit = False
        if "plain" not in (el.get("class") or ""):
            table.style = "Table Grid"
        for i, column in enumerate(table.columns):
            column.width = Mm(widths[i])
        for r, row in enumerate(rows):
            col = 0
            cells = table.rows[r].cells
            for i, cell in enumerate(cells):
                cell.width = Mm(widths[i])
            for cell_el in (c for c in row if c.tag in ("td", "th")):
                span = int(cell_el.get("colspan", "1"))
                cell = cells[col]
                if span > 1:
                    cell = cell.merge(cells[col + span - 1])
                para = cell.paragraphs[0]
                _inline(para, cell_el, bold=cell_el.tag == "th")
                for run in para.runs:
                    run.font.size = Pt(9)
                col += span
        self.doc.add_paragraph()


#: Width of the text column of the default template (A4 less 22 mm and 20 mm margins).
_TEXT_WIDTH_MM = 168.0


def _column_widths(rows: list[Any], ncols: int) -> list[float]:
    """Column widths in mm from the HTML's ``style="width:NNmm"`` hints; the rest share what is left."""
    widths: list[float | None] = [None] * ncols
    for row in rows:
        cells = [c for c in row if c.tag in ("td", "th")]
        if len(cells) != ncols:
            continue
        for i, cell in enumerate(cells):
            match = re.search(r"width:\s*([\d.]+)mm", cell.get("style") or "")
            if match and widths[i] is None:
                widths[i] = float(match.group(1))
    known = sum(w for w in widths if w is not None)
    free = [i for i, w in enumerate(widths) if w is None]
    share = max((_TEXT_WIDTH_MM - known) / len(free), 15.0) if free else 0.0
    # Word pads every cell: a column under 10 mm cannot hold "No." on one line.
    return [max(w, 10.0) if w is not None else share for w in widths]


def build_body(doc: Any, rendered: Rendered) -> None:
    """Convert every chapter of the rendered HTML into *doc* (a python-docx document or docxtpl subdoc)."""
    from docx.enum.text import WD_BREAK

    tree = lxml_html.fromstring(rendered.html)
    converter = _Converter(doc, rendered.diagram.png)
    for n, chapter in enumerate(tree.xpath("//section[contains(@class, 'chapter')]")):
        if n:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        for child in chapter:
            converter.block(child)


def write_docx(
    rendered: Rendered,
    inputs: DossierInputs,
    signing: SigningLabel,
    target: Path,
    *,
    template: Path | None = None,
) -> None:
    import segno
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage

    source: Any = str(template) if template is not None else io.BytesIO(default_template())
    tpl = DocxTemplate(source)
    body = tpl.new_subdoc()
    build_body(body, rendered)
    if signing.demo:
        note = "DEMO: versi PDF ditandatangani dengan sertifikat uji, bukan sertifikat LSP. Tidak sah untuk pengajuan."
        header_note = " · DEMO: sertifikat uji, tidak sah"
    elif signing.signed:
        note = f"Versi PDF ditandatangani secara elektronik oleh {signing.subject}."
        header_note = ""
    else:
        note, header_note = "", ""
    qr = io.BytesIO()
    segno.make(rendered.manifest_sha256, error="m").save(qr, kind="png", scale=6, border=2)
    qr.seek(0)
    context = {
        "qr": InlineImage(tpl, qr, width=Mm(40)),
        "lsp_name": inputs.lsp.name,
        "licence_number": inputs.lsp.licence_number,
        "letter_number": inputs.meta.letter_number,
        "date": fmt_date(inputs.meta.date),
        "version": inputs.meta.version,
        "manifest_sha256": rendered.manifest_sha256,
        "signature_note": note,
        "header_note": header_note,
        "body": body,
    }
    tpl.render(context, autoescape=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        tpl.save(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
