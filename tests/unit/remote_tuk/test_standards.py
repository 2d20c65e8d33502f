"""Parsing of competency standards (JSON and CSV): whole-file validation with line and field in every error."""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest

from remote_tuk.demo import DEMO_SCHEME
from remote_tuk.errors import ValidationFailed
from remote_tuk.lsp import standards

DEMO = json.loads(DEMO_SCHEME.read_text())


def _json(doc) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _errors(excinfo) -> list[dict]:
    return excinfo.value.details


def test_demo_scheme_parses():
    data = standards.parse_json(DEMO_SCHEME.read_text())
    assert data.code == "SKM-JWD-2026"
    assert len(data.units) == 3
    assert sum(len(e.kuk) for u in data.units for e in u.elements) == 20
    assert data.units[0].elements[1].kuk[0].number == "2.1"


def test_json_errors_name_line_and_field():
    doc = copy.deepcopy(DEMO)
    doc["scheme"]["units"][1]["elements"][0]["kuk"][2]["text"] = ""
    doc["scheme"]["units"][2]["code"] = "J.620100.004.02"  # duplicate of unit 0
    text = _json(doc)
    with pytest.raises(ValidationFailed) as exc:
        standards.parse_json(text)
    errs = _errors(exc)
    fields = {e["field"] for e in errs}
    assert "scheme.units[1].elements[0].kuk[2].text" in fields
    assert "scheme.units[2].code" in fields
    kuk_err = next(e for e in errs if e["field"].endswith("kuk[2].text"))
    line = text.splitlines()[kuk_err["line"] - 1]
    assert line.strip() == "{"  # the line where that KUK object starts
    assert '"number": "1.3"' in text.splitlines()[kuk_err["line"]]


def test_json_syntax_error_has_line():
    with pytest.raises(ValidationFailed) as exc:
        standards.parse_json('{\n  "format": "rtuk-rmcs/1",\n  "scheme": {,\n}')
    assert _errors(exc)[0]["line"] == 3


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (lambda d: d.update(format="other"), "format", "rtuk-rmcs/1"),
        (lambda d: d["scheme"].update(units=[]), "scheme.units", "minimal satu unit"),
        (lambda d: d["scheme"]["units"][0].update(elements=[]), "scheme.units[0].elements", "minimal satu elemen"),
        (
            lambda d: d["scheme"]["units"][0]["elements"][0].update(kuk=[]),
            "scheme.units[0].elements[0].kuk",
            "minimal satu KUK",
        ),
        (
            lambda d: d["scheme"]["units"][0]["elements"][0]["kuk"][0].update(number="2.1"),
            "scheme.units[0].elements[0].kuk[0].number",
            "tidak sesuai",
        ),
        (
            lambda d: d["scheme"]["units"][0]["elements"][0]["kuk"][0].update(number="satu"),
            "scheme.units[0].elements[0].kuk[0].number",
            "harus berbentuk",
        ),
        (
            lambda d: d["scheme"]["units"][0]["elements"][0].update(number="A"),
            "scheme.units[0].elements[0].number",
            "harus angka",
        ),
        (lambda d: d["scheme"].update(title=None), "scheme.title", "wajib diisi"),
        (lambda d: d["scheme"].update(title=42), "scheme.title", "harus berupa teks"),
        (lambda d: d["scheme"].update(code="bad code!"), "scheme.code", "kode skema"),
        (lambda d: d["scheme"]["units"][0].update(title="x" * 300), "scheme.units[0].title", "terlalu panjang"),
        (lambda d: d["scheme"].update(units="none"), "scheme.units", "daftar"),
        (lambda d: d.pop("scheme"), "scheme", "objek"),
    ],
)
def test_json_rules(mutate, field, message):
    doc = copy.deepcopy(DEMO)
    mutate(doc)
    with pytest.raises(ValidationFailed) as exc:
        standards.parse_json(_json(doc))
    match = [e for e in _errors(exc) if e["field"] == field]
    assert match, _errors(exc)
    assert message in match[0]["message"]


def _demo_csv() -> str:
    from remote_tuk.lsp.models import Element, Kuk, Scheme, Unit

    data = standards.parse_json(DEMO_SCHEME.read_text())
    scheme = Scheme(code=data.code, title=data.title, description=data.description)
    for u in data.units:
        unit = Unit(
            code=u.code,
            title=u.title,
            descriptor=u.descriptor,
            range_statement=u.range_statement,
            evidence_guide=u.evidence_guide,
        )
        for e in u.elements:
            el = Element(number=e.number, title=e.title)
            el.kuks = [Kuk(number=k.number, text=k.text) for k in e.kuk]
            unit.elements.append(el)
        scheme.units.append(unit)
    return standards.to_csv(scheme)


def test_csv_round_trip_matches_json():
    text = _demo_csv()
    from_csv = standards.parse_csv(text)
    from_json = standards.parse_json(DEMO_SCHEME.read_text())
    strip = lambda s: json.dumps(s, default=lambda o: {k: v for k, v in vars(o).items() if k != "line"}, sort_keys=True)  # noqa: E731
    assert strip(from_csv) == strip(from_json)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _write(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def test_csv_errors_name_line_and_column():
    rows = _rows(_demo_csv())
    rows[4][11] = ""  # kuk_text on file line 5
    rows[7][4] = "Judul lain untuk unit yang sama"  # unit_title inconsistent on line 8
    rows[9][0] = "SKEMA-LAIN"  # second scheme on line 10
    with pytest.raises(ValidationFailed) as exc:
        standards.parse_csv(_write(rows))
    errs = {(e["line"], e["field"]) for e in _errors(exc)}
    assert (5, "kuk_text") in errs
    assert (10, "scheme_code") in errs
    assert (8, "unit_title") in errs


def test_csv_header_problems():
    with pytest.raises(ValidationFailed) as exc:
        standards.parse_csv("scheme_code,unit_code,nonsense\nA,B,C\n")
    fields = {e["field"] for e in _errors(exc)}
    assert {"scheme_title", "kuk_text", "nonsense"} <= fields
    assert all(e["line"] == 1 for e in _errors(exc))


def test_csv_wrong_column_count_and_empty():
    rows = _rows(_demo_csv())
    rows[3] = rows[3][:5]
    with pytest.raises(ValidationFailed) as exc:
        standards.parse_csv(_write(rows))
    assert _errors(exc)[0]["line"] == 4
    with pytest.raises(ValidationFailed):
        standards.parse_csv("")
    with pytest.raises(ValidationFailed):
        standards.parse_csv(",".join(standards.CSV_COLUMNS) + "\n")


def test_excel_bom_and_non_utf8():
    data = ("\ufeff" + _demo_csv()).encode("utf-8")
    assert standards.parse(data, "skema.csv").code == "SKM-JWD-2026"
    with pytest.raises(ValidationFailed) as exc:
        standards.parse("skema,é".encode("latin-1"), "skema.csv")
    assert "UTF-8" in exc.value.message
    with pytest.raises(ValidationFailed):
        standards.parse(b"{}", "skema.xlsx")
