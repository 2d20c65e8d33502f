"""Question-bank files (JSON and CSV): the demo bank, equivalence of the formats, errors with pointer or line."""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest

from remote_tuk.demo import DEMO_BANK, DEMO_SCHEME
from remote_tuk.errors import ValidationFailed
from remote_tuk.instruments import bankfile

DEMO = json.loads(DEMO_BANK.read_text())


def _errors(exc) -> list[dict]:
    return exc.value.details


def _repeat_option(question: dict) -> None:
    question["options"][2] = question["options"][1]


def _json(doc) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


def test_demo_bank_is_complete_and_linked_to_real_kuk():
    data = bankfile.parse(DEMO_BANK.read_bytes(), DEMO_BANK.name)
    kinds = [q.kind for q in data.questions]
    assert kinds.count("multiple_choice") >= 10 and kinds.count("essay") >= 4 and kinds.count("oral") >= 4
    scheme = json.loads(DEMO_SCHEME.read_text())["scheme"]
    real = {(u["code"], k["number"]) for u in scheme["units"] for e in u["elements"] for k in e["kuk"]}
    assert {(q.unit_code, q.kuk_number) for q in data.questions} <= real
    assert data.scheme_code == scheme["code"]
    # every unit of the demo scheme has questions of its own
    assert {q.unit_code for q in data.questions} == {u["code"] for u in scheme["units"]}


def test_csv_and_json_carry_the_same_bank():
    data = bankfile.parse_json(DEMO_BANK.read_text())
    text = bankfile.to_csv(data.scheme_code, data.questions)
    again = bankfile.parse_csv(text)
    assert [q.content() for q in again.questions] == [q.content() for q in data.questions]
    assert json.loads(bankfile.to_json(data.scheme_code, 3, again.questions)) == {**DEMO, "version": 3}
    assert bankfile.content_sha256("S", again.questions) == bankfile.content_sha256("S", data.questions)
    assert bankfile.content_sha256("S", again.questions[1:]) != bankfile.content_sha256("S", data.questions)


@pytest.mark.parametrize(
    ("mutate", "pointer", "message"),
    [
        (lambda d: d.update(format="x"), "/format", "rtuk-questions/1"),
        (lambda d: d.update(extra=1), "/extra", "tidak dikenal"),
        (lambda d: d.update(version=0), "/version", "positif"),
        (lambda d: d.update(questions=[]), "/questions", "minimal satu soal"),
        (lambda d: d["questions"][3].update(type="benar_salah"), "/questions/3/type", "jenis soal"),
        (lambda d: d["questions"][0].update(correct="E"), "/questions/0/correct", "tidak ada di antara pilihan"),
        (lambda d: d["questions"][0].update(correct=1), "/questions/0/correct", "satu huruf"),
        (lambda d: d["questions"][0]["options"].__setitem__(2, " "), "/questions/0/options/2", "kosong"),
        (lambda d: _repeat_option(d["questions"][0]), "/questions/0/options/2", "dua kali"),
        (lambda d: d["questions"][0].update(options=["satu"]), "/questions/0/options", "2–6 pilihan"),
        (lambda d: d["questions"][0].update(expected_answer="x"), "/questions/0/expected_answer", "hanya untuk"),
        (lambda d: d["questions"][1].pop("expected_answer"), "/questions/1/expected_answer", "wajib diisi"),
        (lambda d: d["questions"][1].update(options=["a", "b"]), "/questions/1/options", "hanya untuk soal pilihan"),
        (lambda d: d["questions"][2].update(code="PG-01"), "/questions/2/code", "sudah dipakai"),
        (lambda d: d["questions"][2].update(code="bukan kode!"), "/questions/2/code", "kode soal"),
        (lambda d: d["questions"][2].update(kuk="satu"), "/questions/2/kuk", "<elemen>.<urutan>"),
        (lambda d: d["questions"][2].update(prompt=""), "/questions/2/prompt", "wajib diisi"),
        (lambda d: d["questions"][2].update(prompt="x" * 4001), "/questions/2/prompt", "terlalu panjang"),
        (lambda d: d["questions"][2].update(hint="?"), "/questions/2/hint", "tidak dikenal"),
        (lambda d: d["questions"].__setitem__(4, "soal"), "/questions/4", "objek"),
    ],
)
def test_json_errors_name_the_pointer_and_the_line(mutate, pointer, message):
    doc = copy.deepcopy(DEMO)
    mutate(doc)
    text = _json(doc)
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse_json(text)
    match = [e for e in _errors(exc) if e["field"] == pointer]
    assert match, _errors(exc)
    assert message in match[0]["message"]
    if pointer.startswith("/questions/") and pointer.count("/") >= 3:
        index = int(pointer.split("/")[2])
        # the line is where that question's object starts: its code is on the next line
        assert text.splitlines()[match[0]["line"] - 1].strip() == "{"
        assert f'"code": "{doc["questions"][index]["code"]}"' in text.splitlines()[match[0]["line"]]


def test_json_syntax_and_root_errors():
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse_json('{\n "format": "rtuk-questions/1",\n "questions": [,]\n}')
    assert _errors(exc)[0]["line"] == 3
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse_json("[1, 2]")
    assert "objek" in exc.value.message
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse_json('{"format": "rtuk-questions/1", "scheme": "S", "questions": ' + "[" * 50 + "]" * 50 + "}")
    assert _errors(exc)[0]["field"] == "(struktur)"


def _rows() -> list[list[str]]:
    data = bankfile.parse_json(DEMO_BANK.read_text())
    return list(csv.reader(io.StringIO(bankfile.to_csv(data.scheme_code, data.questions))))


def _write(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def test_csv_errors_name_line_and_column():
    rows = _rows()
    col = {name: i for i, name in enumerate(rows[0])}
    rows[1][col["correct"]] = "Z"  # line 2
    rows[2][col["expected_answer"]] = ""  # line 3: the demo's second question is oral
    rows[4][col["scheme_code"]] = "SKEMA-LAIN"  # line 5
    rows[6][col["option_c"]] = ""  # line 7: a gap between options
    rows[6][col["option_d"]] = "Pilihan D"
    rows[7] = rows[7][:4]  # line 8: too few cells
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse_csv(_write(rows))
    found = {(e["line"], e["field"]) for e in _errors(exc)}
    assert {(2, "correct"), (3, "expected_answer"), (5, "scheme_code"), (7, "option_c"), (8, "(baris)")} <= found


def test_csv_multiline_prompt_keeps_the_line_of_its_row():
    rows = _rows()
    col = {name: i for i, name in enumerate(rows[0])}
    rows[1][col["prompt"]] = "Baris satu\nbaris dua\nbaris tiga"
    rows[2][col["code"]] = ""  # the row after the three-line cell starts on line 5
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse_csv(_write(rows))
    assert [(e["line"], e["field"]) for e in _errors(exc)] == [(5, "code")]


def test_csv_header_and_empty_files():
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse_csv("scheme_code,code,pertanyaan\nS,PG-1,x\n")
    fields = {e["field"] for e in _errors(exc)}
    assert {"type", "unit_code", "kuk_number", "prompt", "pertanyaan"} <= fields
    with pytest.raises(ValidationFailed):
        bankfile.parse_csv(",".join(bankfile.CSV_COLUMNS) + "\n")
    with pytest.raises(ValidationFailed):
        bankfile.parse(b"", "kosong.csv")
    with pytest.raises(ValidationFailed) as exc:
        bankfile.parse(b"x" * (bankfile.MAX_BYTES + 1), "besar.csv")
    assert _errors(exc)[0]["field"] == "(berkas)"
    with pytest.raises(ValidationFailed):
        bankfile.parse(b"{}", "bank.xlsx")
