"""Import and export of competency standards (skema → unit → elemen → KUK) in the RMCS fields.

Two equivalent formats, specified in docs/STANDARDS-FORMAT.md:

* JSON: ``{"format": "rtuk-rmcs/1", "scheme": {..., "units": [{..., "elements": [{..., "kuk": [...]}]}]}}``
* CSV (UTF-8, comma separated, header row): one row per KUK, scheme/unit/element columns repeated on every row.

A file is validated as a whole: every error names its line and field, and nothing is written when anything is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from json import scanner
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from remote_tuk.errors import Conflict, ValidationFailed
from remote_tuk.lsp.models import Element, Kuk, Scheme, Unit
from remote_tuk.validation import json_depth

FORMAT_ID = "rtuk-rmcs/1"
CSV_COLUMNS = [
    "scheme_code",
    "scheme_title",
    "scheme_description",
    "unit_code",
    "unit_title",
    "unit_descriptor",
    "unit_range_statement",
    "unit_evidence_guide",
    "element_number",
    "element_title",
    "kuk_number",
    "kuk_text",
]
_REQUIRED_CSV = {
    "scheme_code",
    "scheme_title",
    "unit_code",
    "unit_title",
    "element_number",
    "element_title",
    "kuk_number",
    "kuk_text",
}

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/_]{1,59}$")
UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/_]{1,39}$")
ELEMENT_NO_RE = re.compile(r"^\d{1,3}$")
KUK_NO_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})$")
MAX_TEXT = 4000
#: Deepest nesting a standards file may have: the format itself needs 8 (document, scheme, units, unit, ...).
MAX_DEPTH = 16
MAX_TITLE = 255


@dataclass
class RowError:
    line: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class KukData:
    number: str
    text: str
    line: int | None = None


@dataclass
class ElementData:
    number: str
    title: str
    kuk: list[KukData] = field(default_factory=list)
    line: int | None = None


@dataclass
class UnitData:
    code: str
    title: str
    descriptor: str = ""
    range_statement: str = ""
    evidence_guide: str = ""
    elements: list[ElementData] = field(default_factory=list)
    line: int | None = None


@dataclass
class SchemeData:
    code: str
    title: str
    description: str = ""
    units: list[UnitData] = field(default_factory=list)
    line: int | None = None


class _Collector:
    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def add(self, line: int | None, fld: str, message: str) -> None:
        self.errors.append(RowError(line, fld, message))

    def text(self, line: int | None, fld: str, value: Any, *, required: bool, limit: int = MAX_TEXT) -> str:
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(line, fld, "harus berupa teks")
            return ""
        value = value.strip()
        if required and not value:
            self.add(line, fld, "wajib diisi")
        elif len(value) > limit:
            self.add(line, fld, f"terlalu panjang (maksimal {limit} karakter)")
        return value


def _validate_tree(scheme: SchemeData, col: _Collector, path: str = "") -> None:
    """Structural rules shared by both formats (codes, numbering, duplicates, non-empty levels)."""
    if scheme.code and not CODE_RE.match(scheme.code):
        col.add(
            scheme.line, f"{path}code", "kode skema hanya boleh huruf, angka, titik, garis miring atau tanda hubung"
        )
    if not scheme.units:
        col.add(scheme.line, f"{path}units", "skema harus memiliki minimal satu unit kompetensi")
    seen_units: set[str] = set()
    for ui, unit in enumerate(scheme.units):
        upath = f"{path}units[{ui}]."
        if unit.code and not UNIT_CODE_RE.match(unit.code):
            col.add(unit.line, f"{upath}code", f"kode unit '{unit.code}' tidak valid")
        if unit.code in seen_units:
            col.add(unit.line, f"{upath}code", f"kode unit '{unit.code}' muncul dua kali")
        seen_units.add(unit.code)
        if not unit.elements:
            col.add(unit.line, f"{upath}elements", "unit harus memiliki minimal satu elemen")
        seen_el: set[str] = set()
        for ei, el in enumerate(unit.elements):
            epath = f"{upath}elements[{ei}]."
            if el.number and not ELEMENT_NO_RE.match(el.number):
                col.add(el.line, f"{epath}number", f"nomor elemen '{el.number}' harus angka (mis. 1)")
            if el.number in seen_el:
                col.add(el.line, f"{epath}number", f"nomor elemen '{el.number}' muncul dua kali dalam unit {unit.code}")
            seen_el.add(el.number)
            if not el.kuk:
                col.add(el.line, f"{epath}kuk", "elemen harus memiliki minimal satu KUK")
            seen_kuk: set[str] = set()
            for ki, kuk in enumerate(el.kuk):
                kpath = f"{epath}kuk[{ki}]."
                m = KUK_NO_RE.match(kuk.number)
                if kuk.number and not m:
                    col.add(
                        kuk.line,
                        f"{kpath}number",
                        f"nomor KUK '{kuk.number}' harus berbentuk <elemen>.<urutan>, mis. 1.1",
                    )
                elif m and el.number and m.group(1) != el.number:
                    col.add(
                        kuk.line, f"{kpath}number", f"nomor KUK '{kuk.number}' tidak sesuai dengan elemen {el.number}"
                    )
                if kuk.number in seen_kuk:
                    col.add(kuk.line, f"{kpath}number", f"nomor KUK '{kuk.number}' muncul dua kali")
                seen_kuk.add(kuk.number)


# --- JSON -------------------------------------------------------------------------------------------------------


class _LineDict(dict[str, Any]):
    line: int = 0


def _json_with_lines(text: str) -> Any:
    """Parse JSON, remembering on which line each object starts (for error messages)."""
    decoder = json.JSONDecoder()
    original = decoder.parse_object

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> tuple[Any, int]:
        s, end = s_and_end
        obj, new_end = original(s_and_end, *args, **kwargs)
        result = _LineDict(obj)
        result.line = s.count("\n", 0, end) + 1
        return result, new_end

    decoder.parse_object = parse_object  # type: ignore[method-assign]
    decoder.scan_once = scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def _line(obj: Any) -> int | None:
    return getattr(obj, "line", None)


def parse_json(text: str) -> SchemeData:
    # Checked before parsing: the line-numbering parser recurses per level and a deep file would exhaust the stack.
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise ValidationFailed(
            f"Berkas JSON bersarang terlalu dalam ({depth} tingkat; format ini paling dalam {MAX_DEPTH}).",
            details=[RowError(None, "(struktur)", "bersarang terlalu dalam").as_dict()],
        )
    try:
        doc = _json_with_lines(text)
    except json.JSONDecodeError as err:
        raise ValidationFailed(
            "Berkas JSON tidak dapat dibaca.", details=[RowError(err.lineno, "(sintaks)", err.msg).as_dict()]
        ) from err
    except ValueError as err:  # e.g. a number longer than Python converts (4300 digits)
        raise ValidationFailed(
            "Berkas JSON tidak dapat dibaca.", details=[RowError(None, "(sintaks)", str(err)[:200]).as_dict()]
        ) from err
    col = _Collector()
    if not isinstance(doc, dict):
        raise ValidationFailed(
            "Berkas JSON harus berupa objek.", details=[RowError(1, "(akar)", "bukan objek").as_dict()]
        )
    if doc.get("format") != FORMAT_ID:
        col.add(_line(doc), "format", f"harus '{FORMAT_ID}'")
    raw = doc.get("scheme")
    if not isinstance(raw, dict):
        col.add(_line(doc), "scheme", "wajib berupa objek")
        raise ValidationFailed("Berkas standar tidak valid.", details=[e.as_dict() for e in col.errors])
    ln = _line(raw)
    scheme = SchemeData(
        code=col.text(ln, "scheme.code", raw.get("code"), required=True, limit=60),
        title=col.text(ln, "scheme.title", raw.get("title"), required=True, limit=MAX_TITLE),
        description=col.text(ln, "scheme.description", raw.get("description"), required=False),
        line=ln,
    )
    units = raw.get("units")
    if not isinstance(units, list):
        col.add(ln, "scheme.units", "wajib berupa daftar")
        units = []
    for ui, ru in enumerate(units):
        p = f"scheme.units[{ui}]"
        if not isinstance(ru, dict):
            col.add(ln, p, "wajib berupa objek")
            continue
        uln = _line(ru)
        unit = UnitData(
            code=col.text(uln, f"{p}.code", ru.get("code"), required=True, limit=40),
            title=col.text(uln, f"{p}.title", ru.get("title"), required=True, limit=MAX_TITLE),
            descriptor=col.text(uln, f"{p}.descriptor", ru.get("descriptor"), required=False),
            range_statement=col.text(uln, f"{p}.range_statement", ru.get("range_statement"), required=False),
            evidence_guide=col.text(uln, f"{p}.evidence_guide", ru.get("evidence_guide"), required=False),
            line=uln,
        )
        scheme.units.append(unit)
        elements = ru.get("elements")
        if not isinstance(elements, list):
            col.add(uln, f"{p}.elements", "wajib berupa daftar")
            elements = []
        for ei, re_ in enumerate(elements):
            ep = f"{p}.elements[{ei}]"
            if not isinstance(re_, dict):
                col.add(uln, ep, "wajib berupa objek")
                continue
            eln = _line(re_)
            el = ElementData(
                number=col.text(eln, f"{ep}.number", _str(re_.get("number")), required=True, limit=10),
                title=col.text(eln, f"{ep}.title", re_.get("title"), required=True),
                line=eln,
            )
            unit.elements.append(el)
            kuks = re_.get("kuk")
            if not isinstance(kuks, list):
                col.add(eln, f"{ep}.kuk", "wajib berupa daftar")
                kuks = []
            for ki, rk in enumerate(kuks):
                kp = f"{ep}.kuk[{ki}]"
                if not isinstance(rk, dict):
                    col.add(eln, kp, "wajib berupa objek")
                    continue
                kln = _line(rk)
                el.kuk.append(
                    KukData(
                        number=col.text(kln, f"{kp}.number", _str(rk.get("number")), required=True, limit=12),
                        text=col.text(kln, f"{kp}.text", rk.get("text"), required=True),
                        line=kln,
                    )
                )
    _validate_tree(scheme, col, "scheme.")
    if col.errors:
        raise ValidationFailed(
            "Berkas standar tidak valid; tidak ada yang diimpor.", details=[e.as_dict() for e in col.errors]
        )
    return scheme


def _str(value: Any) -> Any:
    # Element numbers may be written as JSON numbers (1); KUK numbers must be strings ("1.10" != 1.1).
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# --- CSV --------------------------------------------------------------------------------------------------------


def parse_csv(text: str) -> SchemeData:
    col = _Collector()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed(
            "Berkas CSV kosong.", details=[RowError(1, "(header)", "tidak ada baris").as_dict()]
        ) from None
    except csv.Error as err:
        raise ValidationFailed(
            "Berkas CSV tidak dapat dibaca.", details=[RowError(1, "(sintaks)", str(err)).as_dict()]
        ) from err
    header = [h.strip() for h in header]
    missing = [c for c in CSV_COLUMNS if c in _REQUIRED_CSV and c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    for c in missing:
        col.add(1, c, "kolom wajib tidak ada di baris judul")
    for h in unknown:
        col.add(1, h or "(kosong)", "kolom tidak dikenal")
    if col.errors:
        raise ValidationFailed(
            "Baris judul CSV tidak valid; tidak ada yang diimpor.", details=[e.as_dict() for e in col.errors]
        )

    scheme: SchemeData | None = None
    units: dict[str, UnitData] = {}
    elements: dict[tuple[str, str], ElementData] = {}
    try:
        rows = list(reader)
    except csv.Error as err:
        raise ValidationFailed(
            "Berkas CSV tidak dapat dibaca.", details=[RowError(reader.line_num, "(sintaks)", str(err)).as_dict()]
        ) from err
    line = 1
    for raw in rows:
        line += 1
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(header):
            col.add(line, "(baris)", f"jumlah kolom {len(raw)}, seharusnya {len(header)}")
            continue
        row = dict(zip(header, raw, strict=True))

        def t(name: str, required: bool, limit: int = MAX_TEXT, row: dict[str, str] = row, line: int = line) -> str:
            return col.text(line, name, row.get(name, ""), required=required, limit=limit)

        s_code, s_title, s_desc = (
            t("scheme_code", True, 60),
            t("scheme_title", True, MAX_TITLE),
            t("scheme_description", False),
        )
        if scheme is None:
            scheme = SchemeData(code=s_code, title=s_title, description=s_desc, line=line)
        else:
            _same(col, line, "scheme_code", scheme.code, s_code, "Satu berkas hanya boleh berisi satu skema")
            _same(col, line, "scheme_title", scheme.title, s_title)
            if s_desc:
                _same(col, line, "scheme_description", scheme.description, s_desc)
        u_code = t("unit_code", True, 40)
        u = UnitData(
            code=u_code,
            title=t("unit_title", True, MAX_TITLE),
            descriptor=t("unit_descriptor", False),
            range_statement=t("unit_range_statement", False),
            evidence_guide=t("unit_evidence_guide", False),
            line=line,
        )
        unit = units.get(u_code)
        if unit is None:
            units[u_code] = unit = u
            scheme.units.append(unit)
        else:
            for attr in ("title", "descriptor", "range_statement", "evidence_guide"):
                if getattr(u, attr):
                    name = "unit_title" if attr == "title" else f"unit_{attr}"
                    _same(col, line, name, getattr(unit, attr), getattr(u, attr))
        e_no = t("element_number", True, 10)
        e_title = t("element_title", True)
        element = elements.get((u_code, e_no))
        if element is None:
            elements[(u_code, e_no)] = element = ElementData(number=e_no, title=e_title, line=line)
            unit.elements.append(element)
        else:
            _same(col, line, "element_title", element.title, e_title)
        element.kuk.append(KukData(number=t("kuk_number", True, 12), text=t("kuk_text", True), line=line))
    if scheme is None:
        raise ValidationFailed(
            "Berkas CSV tidak berisi data.", details=[RowError(2, "(baris)", "tidak ada baris data").as_dict()]
        )
    _validate_tree(scheme, col)
    if col.errors:
        raise ValidationFailed(
            "Berkas standar tidak valid; tidak ada yang diimpor.", details=[e.as_dict() for e in col.errors]
        )
    return scheme


def _same(col: _Collector, line: int, fld: str, first: str, value: str, message: str | None = None) -> None:
    if value and first != value:
        col.add(line, fld, message or f"berbeda dengan baris sebelumnya ('{first[:40]}')")


# --- database ---------------------------------------------------------------------------------------------------


def parse(data: bytes, filename: str) -> SchemeData:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValidationFailed(
            "Berkas harus berenkode UTF-8.",
            details=[RowError(None, "(berkas)", f"byte tidak valid di posisi {err.start}").as_dict()],
        ) from err
    name = filename.lower()
    if name.endswith(".json"):
        return parse_json(text)
    if name.endswith(".csv"):
        return parse_csv(text)
    raise ValidationFailed(
        "Format berkas tidak dikenal: gunakan .json atau .csv.",
        details=[RowError(None, "(berkas)", "ekstensi tidak dikenal").as_dict()],
    )


def store(db: Session, data: SchemeData) -> Scheme:
    """Write a validated scheme in one transaction (the caller commits)."""
    if db.scalar(select(Scheme.id).where(Scheme.code == data.code)) is not None:
        raise Conflict(
            f"Skema dengan kode {data.code} sudah ada; tidak ada yang diimpor.",
            details=[RowError(data.line, "scheme_code", "kode skema sudah ada").as_dict()],
        )
    scheme = Scheme(code=data.code, title=data.title, description=data.description)
    for ui, u in enumerate(data.units):
        unit = Unit(
            position=ui,
            code=u.code,
            title=u.title,
            descriptor=u.descriptor,
            range_statement=u.range_statement,
            evidence_guide=u.evidence_guide,
        )
        for ei, e in enumerate(u.elements):
            element = Element(position=ei, number=e.number, title=e.title)
            element.kuks = [Kuk(position=ki, number=k.number, text=k.text) for ki, k in enumerate(e.kuk)]
            unit.elements.append(element)
        scheme.units.append(unit)
    db.add(scheme)
    db.flush()
    return scheme


def to_json(scheme: Scheme) -> str:
    doc = {
        "format": FORMAT_ID,
        "scheme": {
            "code": scheme.code,
            "title": scheme.title,
            "description": scheme.description,
            "units": [
                {
                    "code": u.code,
                    "title": u.title,
                    "descriptor": u.descriptor,
                    "range_statement": u.range_statement,
                    "evidence_guide": u.evidence_guide,
                    "elements": [
                        {
                            "number": e.number,
                            "title": e.title,
                            "kuk": [{"number": k.number, "text": k.text} for k in e.kuks],
                        }
                        for e in u.elements
                    ],
                }
                for u in scheme.units
            ],
        },
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def to_csv(scheme: Scheme) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for u in scheme.units:
        for e in u.elements:
            for k in e.kuks:
                writer.writerow(
                    [
                        scheme.code,
                        scheme.title,
                        scheme.description,
                        u.code,
                        u.title,
                        u.descriptor,
                        u.range_statement,
                        u.evidence_guide,
                        e.number,
                        e.title,
                        k.number,
                        k.text,
                    ]
                )
    return out.getvalue()
