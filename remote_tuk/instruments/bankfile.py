"""The question-bank file formats (docs/QUESTION-BANK-FORMAT.md): JSON and CSV, equivalent, validated as a whole.

* JSON: ``{"format": "rtuk-questions/1", "scheme": "<code>", "questions": [{...}, ...]}``; errors name the field by its
  JSON pointer (``/questions/3/options/1``) and the line on which that question's object starts.
* CSV (UTF-8, comma separated, header row): one row per question; errors name the line and the column.

This module only reads and writes files (pure functions). Whether the scheme, its units and KUK exist is checked by
``services.import_bank`` against the database, with the same line and field in every error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from remote_tuk.datafile import Collector, RowError, decode, file_format, invalid, line_of, load_json, read_csv

FORMAT_ID = "rtuk-questions/1"
TYPES = ("multiple_choice", "essay", "oral")
LETTERS = "ABCDEF"
MIN_OPTIONS, MAX_OPTIONS = 2, len(LETTERS)
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
KUK_NO_RE = re.compile(r"^\d{1,3}\.\d{1,3}$")
MAX_PROMPT = 4000
MAX_OPTION = 1000
MAX_EXPECTED = 8000
#: Largest file, deepest JSON nesting (the format needs 4 levels), most questions in one bank.
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 8
MAX_QUESTIONS = 2000
INVALID = "Berkas bank soal tidak valid; tidak ada yang diimpor."

CSV_COLUMNS = [
    "scheme_code",
    "code",
    "type",
    "unit_code",
    "kuk_number",
    "prompt",
    *(f"option_{c.lower()}" for c in LETTERS),
    "correct",
    "expected_answer",
]
_REQUIRED_CSV = {"scheme_code", "code", "type", "unit_code", "kuk_number", "prompt"}
_JSON_ROOT = {"format", "scheme", "version", "questions"}
_JSON_QUESTION = {"code", "type", "unit", "kuk", "prompt", "options", "correct", "expected_answer"}
#: Where a logical field is reported in each format.
_CSV_NAMES = {"unit": "unit_code", "kuk": "kuk_number"}


@dataclass
class QuestionData:
    code: str
    kind: str
    unit_code: str
    kuk_number: str
    prompt: str
    options: list[str] = field(default_factory=list)
    #: Index of the correct option in ``options`` (multiple choice only).
    correct: int | None = None
    expected_answer: str = ""
    line: int | None = None
    #: JSON pointer of the question (``/questions/3``); None for a CSV row.
    pointer: str | None = None

    def loc(self, name: str, index: int | None = None) -> str:
        """The field as the file names it: a JSON pointer, or a CSV column."""
        if self.pointer is not None:
            return f"{self.pointer}/{name}" + (f"/{index}" if index is not None else "")
        if name == "options":
            return f"option_{LETTERS[index].lower()}" if index is not None and index < MAX_OPTIONS else "option_a"
        return _CSV_NAMES.get(name, name)

    def content(self) -> dict[str, Any]:
        """The canonical document of the question (the export's object; keys included)."""
        doc: dict[str, Any] = {
            "code": self.code,
            "type": self.kind,
            "unit": self.unit_code,
            "kuk": self.kuk_number,
            "prompt": self.prompt,
        }
        if self.kind == "multiple_choice":
            doc["options"] = list(self.options)
            doc["correct"] = LETTERS[self.correct] if self.correct is not None else None
        else:
            doc["expected_answer"] = self.expected_answer
        return doc


@dataclass
class BankData:
    scheme_code: str
    questions: list[QuestionData]
    #: The bank version the file was exported from (JSON only; an import refuses a file made from an older version).
    version: int | None = None
    line: int | None = 1


def validate(q: QuestionData, col: Collector, seen: dict[str, int | None]) -> None:
    """Rules both formats (and the admin's form) share: code, type, KUK number, options and key per type."""
    if q.code and not CODE_RE.match(q.code):
        col.add(q.line, q.loc("code"), "kode soal hanya huruf, angka, titik, garis bawah atau tanda hubung (maks. 32)")
    if q.code and q.code in seen:
        col.add(q.line, q.loc("code"), f"kode soal '{q.code}' sudah dipakai (baris {seen[q.code] or '-'})")
    seen.setdefault(q.code, q.line)
    if q.kind not in TYPES:
        col.add(q.line, q.loc("type"), f"jenis soal harus salah satu dari: {', '.join(TYPES)}")
    if q.kuk_number and not KUK_NO_RE.match(q.kuk_number):
        col.add(q.line, q.loc("kuk"), f"nomor KUK '{q.kuk_number}' harus berbentuk <elemen>.<urutan>, mis. 1.1")
    if q.kind == "multiple_choice":
        if not MIN_OPTIONS <= len(q.options) <= MAX_OPTIONS:
            col.add(q.line, q.loc("options"), f"pilihan ganda memerlukan {MIN_OPTIONS}–{MAX_OPTIONS} pilihan")
        for i, text in enumerate(q.options):
            if not text:
                col.add(q.line, q.loc("options", i), "pilihan tidak boleh kosong")
            elif text in q.options[:i]:
                col.add(q.line, q.loc("options", i), "pilihan yang sama muncul dua kali")
        if q.correct is None:
            col.add(q.line, q.loc("correct"), "kunci jawaban wajib diisi (huruf pilihan yang benar)")
        elif q.correct >= len(q.options):
            col.add(q.line, q.loc("correct"), f"kunci '{LETTERS[q.correct]}' tidak ada di antara pilihan")
        if q.expected_answer:
            col.add(q.line, q.loc("expected_answer"), "hanya untuk soal esai dan lisan")
    elif q.kind in TYPES:
        if q.options:
            col.add(q.line, q.loc("options"), "pilihan hanya untuk soal pilihan ganda")
        if q.correct is not None:
            col.add(q.line, q.loc("correct"), "kunci pilihan hanya untuk soal pilihan ganda")
        if not q.expected_answer:
            col.add(q.line, q.loc("expected_answer"), "jawaban yang diharapkan wajib diisi untuk soal esai dan lisan")


def _letter(col: Collector, line: int | None, loc: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().upper() in LETTERS and len(value.strip()) == 1:
        return LETTERS.index(value.strip().upper())
    col.add(line, loc, f"kunci harus satu huruf {LETTERS[0]}–{LETTERS[-1]}")
    return None


# --- JSON ---------------------------------------------------------------------------------------------------------


def parse_json(text: str) -> BankData:
    doc = load_json(text, max_depth=MAX_DEPTH)
    if not isinstance(doc, dict):
        raise invalid("Berkas JSON harus berupa objek.", [RowError(1, "", "bukan objek")])
    col = Collector()
    root = line_of(doc)
    for key in sorted(set(doc) - _JSON_ROOT):
        col.add(root, f"/{key}", "tidak dikenal")
    if doc.get("format") != FORMAT_ID:
        col.add(root, "/format", f"harus '{FORMAT_ID}'")
    scheme = col.text(root, "/scheme", doc.get("scheme"), required=True, limit=60)
    version = doc.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        col.add(root, "/version", "harus bilangan bulat positif (versi bank yang diekspor)")
        version = None
    raw = doc.get("questions")
    if not isinstance(raw, list):
        col.add(root, "/questions", "wajib berupa daftar")
        raw = []
    if len(raw) > MAX_QUESTIONS:
        col.add(root, "/questions", f"maksimal {MAX_QUESTIONS} soal")
        raw = []
    questions: list[QuestionData] = []
    seen: dict[str, int | None] = {}
    for i, rq in enumerate(raw):
        pointer = f"/questions/{i}"
        if not isinstance(rq, dict):
            col.add(root, pointer, "wajib berupa objek")
            continue
        ln = line_of(rq)
        for key in sorted(set(rq) - _JSON_QUESTION):
            col.add(ln, f"{pointer}/{key}", "tidak dikenal")
        options = rq.get("options", [])
        if not isinstance(options, list):
            col.add(ln, f"{pointer}/options", "wajib berupa daftar teks")
            options = []
        q = QuestionData(
            code=col.text(ln, f"{pointer}/code", rq.get("code"), required=True, limit=32),
            kind=col.text(ln, f"{pointer}/type", rq.get("type"), required=True, limit=20),
            unit_code=col.text(ln, f"{pointer}/unit", rq.get("unit"), required=True, limit=40),
            kuk_number=col.text(ln, f"{pointer}/kuk", rq.get("kuk"), required=True, limit=12),
            prompt=col.text(ln, f"{pointer}/prompt", rq.get("prompt"), required=True, limit=MAX_PROMPT),
            options=[
                col.text(ln, f"{pointer}/options/{j}", o, required=False, limit=MAX_OPTION)
                for j, o in enumerate(options[: MAX_OPTIONS + 1])
            ],
            correct=_letter(col, ln, f"{pointer}/correct", rq.get("correct")),
            expected_answer=col.text(
                ln, f"{pointer}/expected_answer", rq.get("expected_answer"), required=False, limit=MAX_EXPECTED
            ),
            line=ln,
            pointer=pointer,
        )
        validate(q, col, seen)
        questions.append(q)
    if not raw and isinstance(doc.get("questions"), list):
        col.add(root, "/questions", "bank soal harus berisi minimal satu soal")
    col.raise_if_any(INVALID)
    return BankData(scheme_code=scheme, questions=questions, version=version, line=root)


# --- CSV ----------------------------------------------------------------------------------------------------------


def parse_csv(text: str) -> BankData:
    col = Collector()
    scheme: str | None = None
    first = 2
    questions: list[QuestionData] = []
    seen: dict[str, int | None] = {}
    for line, row in read_csv(text, columns=CSV_COLUMNS, required=_REQUIRED_CSV, max_rows=MAX_QUESTIONS, col=col):

        def t(name: str, required: bool, limit: int, row: dict[str, str] = row, line: int = line) -> str:
            return col.text(line, name, row.get(name, ""), required=required, limit=limit)

        code = t("scheme_code", True, 60)
        if scheme is None:
            scheme, first = code, line
        elif code and code != scheme:
            col.add(line, "scheme_code", f"satu berkas hanya untuk satu skema ('{scheme}')")
        options = [t(f"option_{c.lower()}", False, MAX_OPTION) for c in LETTERS]
        while options and not options[-1]:
            options.pop()
        q = QuestionData(
            code=t("code", True, 32),
            kind=t("type", True, 20),
            unit_code=t("unit_code", True, 40),
            kuk_number=t("kuk_number", True, 12),
            prompt=t("prompt", True, MAX_PROMPT),
            options=options,
            correct=_letter(col, line, "correct", row.get("correct", "")),
            expected_answer=t("expected_answer", False, MAX_EXPECTED),
            line=line,
        )
        validate(q, col, seen)
        questions.append(q)
    if scheme is None:
        col.raise_if_any(INVALID)
        raise invalid("Berkas CSV tidak berisi soal.", [RowError(2, "(baris)", "tidak ada baris data")])
    col.raise_if_any(INVALID)
    return BankData(scheme_code=scheme, questions=questions, line=first)


def parse(data: bytes, filename: str) -> BankData:
    fmt = file_format(filename)
    text = decode(data, max_bytes=MAX_BYTES)
    return parse_json(text) if fmt == "json" else parse_csv(text)


# --- export -------------------------------------------------------------------------------------------------------


def to_json(scheme_code: str, version: int, questions: list[QuestionData]) -> str:
    doc = {
        "format": FORMAT_ID,
        "scheme": scheme_code,
        "version": version,
        "questions": [q.content() for q in questions],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def to_csv(scheme_code: str, questions: list[QuestionData]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for q in questions:
        options = list(q.options) + [""] * (MAX_OPTIONS - len(q.options))
        correct = LETTERS[q.correct] if q.correct is not None else ""
        writer.writerow(
            [scheme_code, q.code, q.kind, q.unit_code, q.kuk_number, q.prompt, *options, correct, q.expected_answer]
        )
    return out.getvalue()


def content_sha256(scheme_code: str, questions: list[QuestionData]) -> str:
    """SHA-256 of a version's canonical content (scheme, questions in export order, keys included)."""
    doc = {"scheme": scheme_code, "questions": [q.content() for q in questions]}
    canonical = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
